"""Sending a segment mailing in a real browser (issue 12), in English and in
Chinese, on the core's tour case."""

from odoo.tests import tagged

from odoo.addons.customer_segmentation.tests.common import days_ago
from odoo.addons.customer_segmentation.tests.common_tour import SegmentationTourCase


@tagged("post_install", "-at_install")
class TestSegmentMailingTour(SegmentationTourCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls._set_params(value_high_amount=1000, value_medium_amount=100)
        mailing_user = cls.env.ref("mass_mailing.group_mass_mailing_user")
        for user in cls.tour_users.values():
            user.groups_id |= mailing_user
        cls.customer = cls._make_customer(
            "Tour Mailing Customer", email="tour.mailing@example.com"
        )
        cls._make_order(cls.customer, 1500.0, days_ago(10))
        cls.segment = cls.customer.segment_value_id

    @classmethod
    def _tour_translated_modules(cls):
        return [
            *super()._tour_translated_modules(),
            "mass_mailing",
            "customer_segmentation_mass_mailing",
        ]

    def _tour_mailing(self, lang):
        self.assertEqual(self.segment.code, "high")
        Mailing = self.env["mailing.mailing"]
        Campaign = self.env["utm.campaign"].with_context(active_test=False)
        before = Mailing.search([])
        campaigns_before = Campaign.search([])
        self._start_tour(
            lang,
            "customer_segmentation_mass_mailing_tour",
            url=f"/odoo/action-customer_segmentation.customer_segment_action/{self.segment.id}",
        )
        # the mailing discarded left nothing: one mailing, one campaign
        mailing = Mailing.search([]) - before
        self.assertEqual(len(mailing), 1)
        self.assertEqual(mailing.customer_segment_id, self.segment)
        self.assertEqual(mailing.state, "in_queue")
        self.assertIn(self.customer.id, mailing._get_recipients())
        campaign = Campaign.search([]) - campaigns_before
        self.assertEqual(mailing.campaign_id, campaign)
        self.assertEqual(campaign.customer_segment_id, self.segment)

    def test_mailing_en(self):
        self._tour_mailing("en_US")

    def test_mailing_zh(self):
        self._tour_mailing("zh_CN")
