from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from odoo.addons.customer_segmentation.tests.common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestCreateOpportunities(SegmentationCase):
    """One opportunity per chosen customer, none where one is open."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls.open_stage = cls.env["crm.stage"].create({"name": "Qualified"})
        cls.won_stage = cls.env["crm.stage"].create({"name": "Won", "is_won": True})
        salesman = cls.salesman.id
        cls.busy = cls._make_customer("Busy Co", is_company=True, user_id=salesman)
        cls.busy_contact = cls._make_customer("Busy Contact", parent_id=cls.busy.id)
        cls._opportunity(cls.busy_contact, cls.open_stage)
        cls.won = cls._make_customer("Won Before", user_id=salesman)
        cls._opportunity(cls.won, cls.won_stage)
        cls.quiet = cls._make_customer("Quiet", user_id=salesman)
        cls.theirs = cls._make_customer("Not Mine")
        for customer in (cls.busy, cls.won, cls.quiet, cls.theirs):
            cls._make_order(customer, 12000.0, days_ago(10))

    @classmethod
    def _opportunity(cls, partner, stage):
        return cls.env["crm.lead"].create(
            {
                "name": f"Deal with {partner.name}",
                "type": "opportunity",
                "partner_id": partner.id,
                "stage_id": stage.id,
            }
        )

    def _leads(self, partners):
        return self.env["crm.lead"].search(
            [("partner_id", "in", partners.ids)], order="id"
        )

    def test_salesman_creates_for_customers_without_open_one(self):
        customers = self.busy | self.won | self.quiet
        before = self._leads(customers | self.busy_contact)
        action = customers.with_user(self.salesman).action_create_opportunities()
        created = self._leads(customers | self.busy_contact) - before
        self.assertEqual(action["domain"], [("id", "in", created.ids)])
        self.assertRecordValues(
            created.sorted("partner_id"),
            [
                {
                    "partner_id": customer.id,
                    "type": "opportunity",
                    "user_id": self.salesman.id,
                    "company_id": self.env.company.id,
                }
                for customer in (self.won | self.quiet).sorted("id")
            ],
        )
        with self.assertRaisesRegex(UserError, "open opportunity already"):
            customers.with_user(self.salesman).action_create_opportunities()

    def test_salesman_cannot_create_for_others_customers(self):
        with self.assertRaisesRegex(AccessError, "Not Mine"):
            (self.quiet | self.theirs).with_user(
                self.salesman
            ).action_create_opportunities()
        self.assertFalse(self._leads(self.quiet | self.theirs))

    def test_segment_wizard_creates_opportunities(self):
        high = self.env.ref("customer_segmentation.segment_value_high")
        Act = self.env["customer.segment.act"].with_user(self.sales_manager)
        form = Form(
            Act.with_context(
                active_model="customer.segment",
                active_ids=high.ids,
                default_operation="opportunity",
            )
        )
        self.assertEqual(form.customer_count, 4)
        form.save().action_apply()
        leads = self._leads(self.quiet | self.theirs)
        self.assertEqual(leads.partner_id, self.quiet | self.theirs)
        # without salesperson, the manager who created it
        self.assertEqual(
            leads.filtered(lambda lead: lead.partner_id == self.theirs).user_id,
            self.sales_manager,
        )
