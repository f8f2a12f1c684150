#!/usr/bin/env bash
# Run the test suite of customer_segmentation, as a newcomer or CI does:
#   scripts/test.sh                       every test in customer_segmentation/tests
#   scripts/test.sh -k rfm -x             extra arguments go to pytest
#   scripts/test.sh customer_segmentation/tests/test_rfm.py
#
# Re-creates the database CS_TEST_DB (default customer_segmentation_test),
# installs the module with CRM, the Point of Sale and Email Marketing (and so, by
# auto_install, the glue addons of each) without demo data, then runs pytest
# with pytest-odoo, HttpCase tests included. Fails if any test fails, if no test ran, or if any
# test was skipped: a skipped Odoo test counts as a failure in this project.
# The JUnit report is written to CS_JUNIT_XML (default junit.xml at the repo root).
# The whole suite (no arguments, as CI runs it) then checks the upgrade from the
# last release with its data: scripts/test_upgrade.sh, about two minutes, after
# the tests, which answer sooner. CS_TEST_UPGRADE=0 leaves it out,
# CS_TEST_UPGRADE=1 adds it to a selection of tests.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

. "$(dirname "${BASH_SOURCE[0]}")/odoo.sh"
# The test tools are the one thing a newcomer may lack: bring them.
if ! python3 -c "import pytest_odoo, freezegun, websocket" 2>/dev/null; then
    echo "Installing the test tools (requirements-dev.txt) ..."
    python3 -m pip install -q --disable-pip-version-check -r "$REPO/requirements-dev.txt" ||
        cs_die "could not install requirements-dev.txt"
fi
. "$REPO/scripts/pg.sh"

DB=${CS_TEST_DB:-customer_segmentation_test}
JUNIT=${CS_JUNIT_XML:-$REPO/junit.xml}

# CRM, the Point of Sale, Email Marketing and Automation Rules too, so that the
# glue addons are installed and tested (open opportunities make prospects, paid
# POS orders are purchases, mailings go to segments) and so that rules firing on
# segment changes are tested.
CS_EXTRA_MODULES=${CS_EXTRA_MODULES-crm,point_of_sale,base_automation,mass_mailing}
cs_drop_database "$DB"
cs_install_module "$DB" --without-demo=all

# Every addon of the repository is installed (the glue addons by their
# auto_install), and their tests folders are the default target unless a path
# is given.
for addon in $(cs_addons); do
    state=$(psql -X -A -t -d "$DB" -c "SELECT state FROM ir_module_module WHERE name = '$addon'")
    [[ $state == installed ]] || cs_die "$addon is '${state:-absent}' in $DB, not installed"
done
targets=()
for addon in $(cs_addons); do
    [[ -d $CS_ADDONS_DIR/$addon/tests ]] && targets+=("$CS_ADDONS_DIR/$addon/tests")
done
for arg in "$@"; do
    if [[ $arg != -* && -e ${arg%%::*} ]]; then
        targets=()
        break
    fi
done

rm -f "$JUNIT"
echo "Running pytest on database $DB ..."
set +e
python3 -m pytest -c "$REPO/pyproject.toml" --rootdir="$REPO" \
    --odoo-database="$DB" --odoo-addons-path="$ADDONS_PATH" --odoo-http \
    --odoo-log-level=warn "${targets[@]}" "$@" --junitxml="$JUNIT"
rc=$?
set -e

suite=0
python3 - "$JUNIT" "$rc" <<'EOF' || suite=1
import os
import sys
import xml.etree.ElementTree as ET

path, rc = sys.argv[1], int(sys.argv[2])
problems = []
passed = failed = 0
skips = []
# Count <testcase> elements: the suite's "tests" attribute also counts every
# subTest() report, so it overstates the number of tests.
if os.path.exists(path):
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        skip = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif skip is not None:
            skips.append(f"{name}: {skip.get('message', '')}")
        else:
            passed += 1
else:
    problems.append(f"pytest wrote no report ({path})")

if rc == 5 or (os.path.exists(path) and passed + failed + len(skips) == 0):
    problems.append("no test was collected")
elif rc != 0:
    problems.append(f"pytest exited with code {rc}")
if failed:
    problems.append(f"{failed} test(s) failed or errored")
if skips:
    problems.append(f"{len(skips)} test(s) skipped, which this project counts as failures")

print()
if problems:
    print("test.sh: FAILED")
    for line in problems:
        print(f"  - {line}")
    for line in skips:
        print(f"      skipped {line}")
else:
    print("test.sh: OK, every collected test ran and passed")
print(f"result: {passed} passed, {failed} failed, {len(skips)} skipped")
sys.exit(1 if problems else 0)
EOF

if [[ ${CS_TEST_UPGRADE:-$(($# == 0))} == 1 ]]; then
    if ! CS_TEST_DB=$DB "$REPO/scripts/test_upgrade.sh"; then
        echo "test.sh: FAILED: the upgrade from the last release (scripts/test_upgrade.sh)"
        exit 1
    fi
fi
exit "$suite"
