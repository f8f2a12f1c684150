"""Browser tours: a real Chromium drives the web client (HttpCase.start_tour).

The tours themselves are in static/tests/tours/. A glue addon adds its own
tours on ``SegmentationTourCase``, in both languages, the same way.
"""

import unittest

from odoo.tests import HttpCase, common, new_test_user

from .common import NOW, SegmentationMixin

# Every tour runs once per language, with the same steps: they never select by
# a translated label.
TOUR_LANGS = ("en_US", "zh_CN")
TOUR_PASSWORD = "cs-tour-pwd-1"
# Odoo skips a tour without them, which would hide that no screen was tried.
NO_BROWSER = (
    "The browser tours need Chrome or Chromium and none was found: install "
    "Debian's chromium package (apt-get install chromium; .ci/run does it)."
)
NO_WEBSOCKET = (
    "The browser tours need the websocket-client Python package to drive the "
    "browser: pip install -r requirements-dev.txt."
)


def check_browser():
    """Fail, rather than skip as Odoo does, when no tour can run."""
    if common.websocket is None:
        raise AssertionError(NO_WEBSOCKET)
    try:
        common._find_executable()
    except unittest.SkipTest as error:
        raise AssertionError(NO_BROWSER) from error


class SegmentationTourCase(SegmentationMixin, HttpCase):
    """A salesperson who may pin segments, the least-privileged user who may
    do everything the tours do, once per language of ``TOUR_LANGS``."""

    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        check_browser()
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls.env["res.lang"]._activate_lang("zh_CN")
        cls.env["ir.module.module"]._load_module_terms(
            cls._tour_translated_modules(), ["zh_CN"], overwrite=True
        )
        cls.tour_users = {
            lang: new_test_user(
                cls.env,
                f"cs_tour_{lang}",
                groups="sales_team.group_sale_salesman,"
                "customer_segmentation.group_segmentation_pin",
                lang=lang,
                password=TOUR_PASSWORD,
            )
            for lang in TOUR_LANGS
        }

    @classmethod
    def _tour_translated_modules(cls):
        """The modules whose terms the Chinese user must read translated: the
        web client's own come from its files, these from the database."""
        return ["base", "web", "contacts", "customer_segmentation"]

    def _start_tour(self, lang, tour, url="/odoo"):
        """Run ``tour`` in the browser as the tour user of ``lang``."""
        self.start_tour(url, tour, login=self.tour_users[lang].login)
