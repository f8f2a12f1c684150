"""pytest setup for running the addon's tests with pytest-odoo (scripts/test.sh)."""

import odoo

# pytest-odoo imports odoo.tests before it enables Odoo's test mode, and
# odoo.tests.common then logs an ERROR with a long stack trace ("Importing test
# framework ... when not running in test mode") at the top of every run. Import
# it here first, in test mode: test mode cannot stay on globally, since Odoo would
# then run every module's at_install tests while pytest-odoo loads the registry.
odoo.tools.config["test_enable"] = True
try:
    import odoo.tests  # noqa: F401
finally:
    odoo.tools.config["test_enable"] = False
