from odoo.tests import tagged

from odoo.addons.customer_segmentation.tests.common import SegmentationCase


@tagged("post_install", "-at_install")
class TestLifecycleOpportunities(SegmentationCase):
    """With CRM installed, an open opportunity makes a prospect."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.won_stage = cls.env["crm.stage"].create({"name": "Won", "is_won": True})
        cls.open_stage = cls.env["crm.stage"].create({"name": "Qualified"})

    def _opportunity(self, partner, stage, **values):
        return self.env["crm.lead"].create(
            {
                "name": f"Deal with {partner.name}",
                "type": "opportunity",
                "partner_id": partner.id,
                "stage_id": stage.id,
                **values,
            }
        )

    def test_open_opportunity_makes_a_prospect(self):
        company = self._make_customer("Pipeline Co", is_company=True)
        contact = self._make_customer("Pipeline Contact", parent_id=company.id)
        self._opportunity(contact, self.open_stage)
        won = self._make_customer("Won Deal")
        self._opportunity(won, self.won_stage)
        lost = self._make_customer("Lost Deal")
        self._opportunity(lost, self.open_stage).action_set_lost()
        lead = self._make_customer("Only a Lead")
        self._opportunity(lead, self.open_stage, type="lead")
        self._recompute_all()
        self.assertSegments(company, lifecycle="prospect", value=False)
        self.assertSegments(won, lifecycle=False)
        self.assertSegments(lost, lifecycle=False)
        self.assertSegments(lead, lifecycle=False)

    def test_an_opportunity_queues_its_customer(self):
        prospect = self._make_customer("Queued Prospect")
        self._opportunity(prospect, self.open_stage)
        self.assertSegments(prospect, lifecycle=False)
        self._classify_queued()
        self.assertSegments(prospect, lifecycle="prospect")
        prospect.opportunity_ids.action_set_lost()
        self._classify_queued()
        self.assertSegments(prospect, lifecycle=False)
