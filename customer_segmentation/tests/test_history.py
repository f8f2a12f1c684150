"""The segment history: one row per change, with its reason, and the chatter."""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import freeze_time, new_test_user, tagged
from odoo.tools.misc import formatLang

from .common import TODAY, SegmentationCase, days_ago, noon

SEGMENT_FIELDS = (
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
    "segment_geo_id",
    "segment_scale_id",
    "segment_job_level_id",
)


@tagged("post_install", "-at_install")
class TestHistory(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.History = cls.env["customer.segment.history"]
        cls.env.company.partner_id.write(
            {
                "country_id": cls.env.ref("base.cn").id,
                "state_id": cls.env.ref("base.state_cn_SH").id,
            }
        )
        cls.contact_user = new_test_user(
            cls.env,
            "cs_history_user",
            groups="customer_segmentation.group_segmentation_user,"
            "base.group_partner_manager",
        )
        # first and last order 80 days ago: new today, active in 20 days, at
        # risk in 120 and churned in 300
        cls.buyer = cls._make_customer("Buyer 80 Days Ago")
        # bought 400 days ago and 5 days ago: active for the next 175 days
        cls.steady = cls._make_customer("Steady Buyer")
        cls._make_confirmed_orders(cls.buyer, 1000.0, days_ago(80))
        cls._make_confirmed_orders(cls.steady, 100.0, days_ago(400))
        cls._make_confirmed_orders(cls.steady, 100.0, days_ago(5))
        cls.env["res.partner"].recompute_all_segments()

    def _rows(self, partner, dimension=None, after=0):
        domain = [("partner_id", "=", partner.id), ("id", ">", after)]
        if dimension:
            domain.append(("dimension", "=", dimension))
        return self.History.search(domain, order="id")

    def _last_id(self):
        return self.History.search([], order="id desc", limit=1).id or 0

    def _changes(self, rows):
        return rows.mapped(
            lambda h: (h.old_segment_id.code, h.new_segment_id.code, h.movement)
        )

    def _recompute_all_on(self, days_later, user=None):
        with freeze_time(noon(days_later)):
            return self._recompute_all(user)

    def test_baseline_run_writes_no_rule_history(self):
        # a database where no full recompute has completed yet
        self.env["customer.segmentation.run"].search([]).unlink()
        newcomer = self._make_customer("Before The Baseline")
        self._make_confirmed_orders(newcomer, 500.0, days_ago(2))
        self.assertFalse(self._rows(newcomer))
        start = self._last_id()
        run_summary = self._recompute_all()
        self.assertTrue(run_summary["customers"])
        self.assertFalse(self.History.search([("id", ">", start)]))
        # pins are logged even before it
        high = self.env.ref("customer_segmentation.segment_value_high")
        self.env["customer.segment.override"].create(
            {
                "partner_id": newcomer.id,
                "dimension": "value",
                "segment_id": high.id,
                "reason": "Strategic account",
            }
        )
        self.assertEqual(self._rows(newcomer, "value").mapped("cause"), ["override"])
        # once the baseline run is done, the rules' changes are logged
        later = self._make_customer("After The Baseline")
        self._make_confirmed_orders(later, 50.0, days_ago(1))
        self.assertEqual(
            self._changes(self._rows(later, "lifecycle")), [(False, "new", "entry")]
        )

    def test_first_classification_is_an_entry(self):
        customer = self._make_customer("Brand New Buyer")
        self._make_confirmed_orders(customer, 50.0, days_ago(3))
        [row] = self._rows(customer, "lifecycle")
        self.assertEqual(
            (row.old_segment_id, row.new_segment_id.code, row.movement, row.cause),
            (self.env["customer.segment"], "new", "entry", "rule"),
        )
        self.assertEqual(
            row.reason, "first purchase 3 days ago ≤ new-customer period 90 days"
        )

    def test_recompute_without_change_writes_no_rows(self):
        before = self.History.search_count([])
        summary = self._recompute_all()
        self._recompute(self.buyer + self.steady)
        self.assertEqual(self.History.search_count([]), before)
        self.assertEqual(
            summary["changes"], {"value": 0, "lifecycle": 0, "rfm": 0, "other": 0}
        )
        # edits that move no segment write no row either
        contact = self._make_customer(
            "Purchasing Manager",
            parent_id=self.steady.id,
            function="Purchasing Manager",
        )
        before = self.History.search_count([])
        contact.with_user(self.contact_user).write(
            {"function": "Sales Manager", "phone": "+86 21 5555 0101"}
        )
        self.assertEqual(self.History.search_count([]), before)

    def test_one_row_per_changed_dimension(self):
        customer = self._make_customer(
            "Moving Customer",
            country_id=self.env.ref("base.cn").id,
            state_id=self.env.ref("base.state_cn_SH").id,
            function="Buyer",
        )
        last = self._last_id()
        customer.with_user(self.contact_user).write(
            {"state_id": self.env.ref("base.state_cn_BJ").id}
        )
        rows = self._rows(customer, after=last)
        self.assertEqual(rows.mapped("dimension"), ["geo"])
        self.assertEqual(self._changes(rows), [("local", "domestic", "downgrade")])
        # states by their code, which is 京 for Beijing and 沪 for Shanghai
        self.assertEqual(rows.reason, "address in CN/京, company in CN/沪")
        self.assertEqual(rows.user_id, self.contact_user)
        self.assertFalse(rows.run_id)

    def test_movements_and_their_reasons(self):
        last = self._last_id()
        self._recompute_all_on(20)
        self._recompute_all_on(120)
        # the steady buyer stays active up to 180 days after its last order
        self.assertFalse(self._rows(self.steady, "lifecycle", after=last))
        self._recompute_all_on(300)
        self.assertEqual(
            self._changes(self._rows(self.steady, "lifecycle", after=last)),
            [("active", "at_risk", "downgrade")],
        )
        rows = self._rows(self.buyer, "lifecycle", after=last)
        self.assertEqual(
            self._changes(rows),
            [
                ("new", "active", "upgrade"),
                ("active", "at_risk", "downgrade"),
                ("at_risk", "churned", "churn"),
            ],
        )
        self.assertEqual(
            rows.mapped("reason"),
            [
                "last purchase 100 days ago ≤ active period 180 days",
                "last purchase 200 days ago > active period 180 days, "
                "≤ churn period 365 days",
                "last purchase 380 days ago > churn period 365 days",
            ],
        )
        self.assertEqual(set(rows.mapped("cause")), {"rule"})
        # out of the look-back window: no RFM segment any more
        [rfm_exit] = self._rows(self.buyer, "rfm", after=last).filtered(
            lambda h: not h.new_segment_id
        )
        self.assertEqual(rfm_exit.movement, "exit")
        self.assertEqual(rfm_exit.reason, "no purchase in the last 365 days")

    def test_value_reason_gives_the_amounts(self):
        self._set_params(
            value_method="fixed", value_high_amount=5000, value_medium_amount=500
        )
        last = self._last_id()
        self._recompute_all()
        [row] = self._rows(self.buyer, "value", after=last)
        amounts = [
            formatLang(self.env, amount, currency_obj=self.env.company.currency_id)
            for amount in (1000, 5000, 500)
        ]
        self.assertEqual(
            row.reason,
            "{} bought in the last 365 days; high value from {}, medium from {}".format(
                *amounts
            ),
        )
        self.assertEqual(row.movement, "downgrade")

    def test_user_and_run_are_recorded(self):
        last = self._last_id()
        summary = self._recompute_all_on(20)
        [row] = self._rows(self.buyer, "lifecycle", after=last)
        self.assertEqual(row.user_id, self.sales_manager)
        self.assertEqual(row.run_id.id, summary["run_id"])
        self.assertEqual(row.date.date(), row.create_date.date())
        # the run counts exactly the rows it wrote
        run_rows = self.History.search([("run_id", "=", summary["run_id"])])
        for dimension in ("value", "lifecycle", "rfm"):
            with self.subTest(dimension=dimension):
                self.assertEqual(
                    len(run_rows.filtered(lambda h, d=dimension: h.dimension == d)),
                    summary["changes"][dimension],
                )
        with freeze_time(noon(120)):
            self._recompute(self.buyer)
        [row] = self._rows(self.buyer, "lifecycle", after=row.id)
        self.assertEqual(row.new_segment_id.code, "at_risk")
        self.assertEqual(row.user_id, self.salesman)
        self.assertFalse(row.run_id)

    def _segment_messages(self, partner, fields=SEGMENT_FIELDS):
        """The chatter messages of ``partner`` tracking one of ``fields``."""
        # Odoo posts the tracking just before the commit
        self.env.cr.precommit.run()
        messages = self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)]
        )
        return messages.filtered(
            lambda m: set(m.tracking_value_ids.field_id.mapped("name")) & set(fields)
        )

    def test_chatter_tracks_changes_not_the_first_classification(self):
        # the chatter as in production: the fixtures switch tracking off
        self.env = self.env(
            context=dict(self.env.context, tracking_disable=False, mail_notrack=False)
        )
        customer = self._make_customer("Chatter Customer")
        # classified when the confirmed order arrives
        self._make_confirmed_orders(customer, 50.0, days_ago(85))
        self.assertEqual(customer.segment_lifecycle_id.code, "new")
        self.assertEqual(len(self._rows(customer)), 3)
        # (runs the commit's hooks: Odoo does not track records created in
        # the same transaction, and this customer is an old one from now on)
        self.assertFalse(self._segment_messages(customer))
        self._recompute_all_on(10)
        self.assertEqual(customer.segment_lifecycle_id.code, "active")
        [message] = self._segment_messages(customer, ["segment_lifecycle_id"])
        self.assertEqual(message.author_id, self.sales_manager.partner_id)
        [tracking] = message.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "segment_lifecycle_id"
        )
        self.assertEqual(
            (
                tracking.old_value_integer,
                tracking.old_value_char,
                tracking.new_value_integer,
                tracking.new_value_char,
            ),
            (
                self._segment("lifecycle", "new").id,
                "New Customer",
                self._segment("lifecycle", "active").id,
                "Active Customer",
            ),
        )

    def test_chatter_of_a_change_reads_only_the_written_fields(self):
        """Mail reads every tracked field before a write (a contact's whole
        address, formatted); the classification's writes track what they
        write, and a user's edit in the same transaction stays tracked."""
        self.env = self.env(
            context=dict(self.env.context, tracking_disable=False, mail_notrack=False)
        )
        customer = self._make_customer("Tracked Customer", city="Lyon")
        self._make_confirmed_orders(customer, 50.0, days_ago(85))
        self.env.cr.precommit.run()
        # a user's edit, tracked (the fixtures' records switch tracking off)
        customer.with_env(self.env).write({"email": "tracked@example.com"})
        formatted = []
        Partner = type(self.env["res.partner"])
        compute = Partner._compute_contact_address_inline

        def counting(partners):
            formatted.extend(partners.ids)
            return compute(partners)

        self.patch(Partner, "_compute_contact_address_inline", counting)
        self._recompute_all_on(10)
        self.assertNotIn(customer.id, formatted)
        self.assertEqual(customer.segment_lifecycle_id.code, "active")
        self.assertTrue(self._segment_messages(customer, ["segment_lifecycle_id"]))
        self.assertTrue(self._segment_messages(customer, ["email"]))

    def _tracked_write(self, count):
        """``count`` contacts whose lifecycle stage is written in one write:
        their chatter messages, and the queries of the commit's tracking."""
        partners = self.env["res.partner"].create(
            [{"name": f"Tracked {count}-{index}"} for index in range(count)]
        )
        # (Odoo does not track records created in the same transaction)
        self.env.cr.precommit.run()
        partners.write(
            {"segment_lifecycle_id": self._segment("lifecycle", "active").id}
        )
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        self.env.cr.precommit.run()
        queries = self.env.cr.sql_log_count - before
        messages = self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "in", partners.ids)]
        )
        return partners, messages, queries

    def test_chatter_of_many_changes_logged_together(self):
        self.env = self.env(
            context=dict(self.env.context, tracking_disable=False, mail_notrack=False)
        )
        few, few_messages, few_queries = self._tracked_write(3)
        many, messages, many_queries = self._tracked_write(12)
        # one message per contact, as Odoo logs it, with its tracking value
        self.assertEqual(sorted(few_messages.mapped("res_id")), sorted(few.ids))
        self.assertEqual(sorted(messages.mapped("res_id")), sorted(many.ids))
        for message in messages:
            self.assertEqual(message.author_id, self.env.user.partner_id)
            self.assertEqual(message.subtype_id, self.env.ref("mail.mt_note"))
            self.assertEqual(message.message_type, "notification")
            [tracking] = message.tracking_value_ids
            self.assertEqual(tracking.field_id.name, "segment_lifecycle_id")
            self.assertEqual(tracking.new_value_char, "Active Customer")
        # created together: four times the contacts, not more queries
        self.assertLessEqual(many_queries, few_queries)

    def test_history_is_read_only(self):
        row = self._rows(self.buyer)[:1]
        self.assertTrue(row)
        for user in (self.salesman, self.sales_manager):
            with self.subTest(user=user.login):
                History = self.History.with_user(user)
                self.assertEqual(History.browse(row.id).partner_id, self.buyer)
                with self.assertRaises(AccessError):
                    History.browse(row.id).write({"reason": "Rewritten"})
                with self.assertRaises(AccessError):
                    History.browse(row.id).unlink()
                with self.assertRaises(AccessError):
                    History.create(
                        {
                            "partner_id": self.buyer.id,
                            "dimension": "value",
                            "date": noon(0),
                            "cause": "manual",
                            "movement": "entry",
                        }
                    )

    def test_users_see_the_history_of_their_companies_only(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        # Company B has classified its customers once: its changes are logged
        self.env["customer.segmentation.run"].create(
            {
                "trigger": "manual",
                "state": "done",
                "date": TODAY,
                "company_id": company_b.id,
            }
        )
        user_a = new_test_user(
            self.env,
            "cs_history_user_a",
            groups="customer_segmentation.group_segmentation_user",
        )
        user_b = new_test_user(
            self.env,
            "cs_history_user_b",
            groups="customer_segmentation.group_segmentation_user",
            company_id=company_b.id,
            company_ids=[Command.set(company_b.ids)],
        )
        # an address is enough for a geography row
        china = self.env.ref("base.cn").id
        customer_a = self._make_customer(
            "Company A Customer", company_id=self.env.company.id, country_id=china
        )
        customer_b = self._make_customer(
            "Company B Customer", company_id=company_b.id, country_id=china
        )
        shared = self._make_customer("Shared Customer", country_id=china)
        rows = {
            customer: self._rows(customer)
            for customer in customer_a + customer_b + shared
        }
        self.assertEqual(rows[customer_a].company_id, self.env.company)
        self.assertEqual(rows[customer_b].company_id, company_b)
        # each company classifies the shared customer on its own
        self.assertEqual(rows[shared].company_id, self.env.company | company_b)
        for user, company, visible, hidden in (
            (user_a, self.env.company, customer_a, customer_b),
            (user_b, company_b, customer_b, customer_a),
        ):
            History = self.History.with_user(user)
            for customer in visible + shared:
                with self.subTest(user=user.login, customer=customer.name):
                    self.assertEqual(
                        History.search([("partner_id", "=", customer.id)]),
                        rows[customer].filtered(lambda r, c=company: r.company_id == c),
                    )
            with self.subTest(user=user.login, customer=hidden.name):
                self.assertFalse(History.search([("partner_id", "=", hidden.id)]))
                with self.assertRaises(AccessError):
                    History.browse(rows[hidden].ids).read(["reason"])
