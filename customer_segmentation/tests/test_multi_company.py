"""Each company classifies its customers from its own purchases, in its own
currency, with its own settings; no figure of one company reaches the users of
another."""

import datetime
import xmlrpc.client

import odoo
from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import NOW, SegmentationCase, SegmentationMixin, days_ago


class TwoCompaniesMixin(SegmentationMixin):
    """Company A (the main one) and company B, in the other currency: a shared
    customer buys from both, a customer of each buys from its own."""

    @classmethod
    def _setup_two_companies(cls):
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create(
            {"name": "Segmentation Company B", "currency_id": cls.other_currency.id}
        )
        # Company B has classified its customers once: its changes are logged
        cls._segmentation_baseline_of(cls.company_b)
        cls._set_params(
            value_method="fixed", value_high_amount=1000, value_medium_amount=100
        )
        cls._set_params(
            cls.company_b,
            value_method="fixed",
            value_high_amount=5000,
            value_medium_amount=500,
            active_days=30,
        )
        cls.pricelist_b = cls.env["product.pricelist"].create(
            {
                "name": "Company B prices",
                "currency_id": cls.other_currency.id,
                "company_id": cls.company_b.id,
            }
        )
        cls.shared = cls._make_customer("Shared Customer")
        cls.customer_a = cls._make_customer("Only A", company_id=cls.company_a.id)
        cls.customer_b = cls._make_customer("Only B", company_id=cls.company_b.id)
        # A: 1,200 in A's currency, 120 days ago: high value, active
        cls._make_order(cls.shared, 1200.0, days_ago(120))
        cls._make_order(cls.customer_a, 50.0, days_ago(10))
        # B: 800 in B's currency, 120 days ago: medium value, at risk there
        cls._make_order_b(cls.shared, 800.0, days_ago(120))
        cls._make_order_b(cls.customer_b, 9000.0, days_ago(5))
        cls.user_a = new_test_user(
            cls.env,
            "cs_mc_user_a",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
            password="cs-mc-user-a-1",
        )
        cls.user_b = new_test_user(
            cls.env,
            "cs_mc_user_b",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
            password="cs-mc-user-b-1",
        )
        cls.user_both = new_test_user(
            cls.env,
            "cs_mc_user_both",
            groups="sales_team.group_sale_manager",
            company_id=cls.company_a.id,
            company_ids=[Command.set((cls.company_a | cls.company_b).ids)],
            password="cs-mc-user-both-1",
        )

    @classmethod
    def _segmentation_baseline_of(cls, company):
        return cls.env["customer.segmentation.run"].create(
            {
                "trigger": "manual",
                "state": "done",
                "date": cls.env.cr.now().date(),
                "company_id": company.id,
            }
        )

    @classmethod
    def _make_order_b(cls, partner, amount, date):
        """A confirmed order of company B, in B's currency."""
        order = (
            cls.env["sale.order"]
            .with_company(cls.company_b)
            .create(
                {
                    **cls._order_values(partner, amount),
                    "company_id": cls.company_b.id,
                    "pricelist_id": cls.pricelist_b.id,
                }
            )
        )
        order.action_confirm()
        order.write({"date_order": datetime.datetime.combine(date, datetime.time(12))})
        cls._classify_queued()
        return order

    @classmethod
    def _recompute_both(cls):
        Partner = cls.env["res.partner"]
        return (
            Partner.with_company(cls.company_a).recompute_all_segments(),
            Partner.with_company(cls.company_b).recompute_all_segments(),
        )


@tagged("post_install", "-at_install")
class TestMultiCompany(TwoCompaniesMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_two_companies()

    def test_each_company_classifies_from_its_own_purchases(self):
        self._recompute_both()
        shared_a = self.shared.with_company(self.company_a)
        shared_b = self.shared.with_company(self.company_b)
        self.assertEqual((shared_a.rfm_frequency, shared_a.rfm_monetary), (1, 1200.0))
        self.assertEqual((shared_b.rfm_frequency, shared_b.rfm_monetary), (1, 800.0))
        self.assertEqual(shared_a.segmentation_currency_id, self.company_currency)
        self.assertEqual(shared_b.segmentation_currency_id, self.other_currency)
        self.assertEqual(
            (shared_a.segment_value_id.code, shared_a.segment_lifecycle_id.code),
            ("high", "active"),
        )
        # B's own thresholds and periods
        self.assertEqual(
            (shared_b.segment_value_id.code, shared_b.segment_lifecycle_id.code),
            ("medium", "at_risk"),
        )
        # a customer of B is not A's customer at all
        self.assertFalse(self.customer_b.with_company(self.company_a).segment_value_id)
        self.assertEqual(
            self.customer_b.with_company(self.company_b).segment_value_id.code, "high"
        )

    def test_quantiles_rank_each_company_on_its_own(self):
        self._set_params(value_method="quantile")
        self._set_params(self.company_b, value_method="quantile")
        self._recompute_both()
        # in A, the shared customer outspends the A customer: top 20% is high
        self.assertEqual(
            self.shared.with_company(self.company_a).segment_value_id.code, "high"
        )
        # in B, the B customer outspends it
        self.assertEqual(
            self.customer_b.with_company(self.company_b).segment_value_id.code, "high"
        )
        self.assertNotEqual(
            self.shared.with_company(self.company_b).segment_value_id.code, "high"
        )

    def test_users_see_their_company_only(self):
        self._recompute_both()
        shared_a = self.shared.with_user(self.user_a)
        self.assertEqual(shared_a.rfm_monetary, 1200.0)
        self.assertEqual(shared_a.segment_lifecycle_id.code, "active")
        shared_b = self.shared.with_user(self.user_b)
        self.assertEqual(shared_b.rfm_monetary, 800.0)
        self.assertEqual(shared_b.segment_lifecycle_id.code, "at_risk")
        # the same user, switching company
        both = self.shared.with_user(self.user_both)
        self.assertEqual(
            both.with_context(allowed_company_ids=self.company_b.ids).rfm_monetary,
            800.0,
        )
        self.assertEqual(
            both.with_context(allowed_company_ids=self.company_a.ids).rfm_monetary,
            1200.0,
        )
        # nobody reads another company's rows
        Figure = self.env["customer.segmentation.figure"]
        figure_b = Figure.search(
            [
                ("partner_id", "=", self.shared.id),
                ("company_id", "=", self.company_b.id),
            ]
        )
        self.assertTrue(figure_b)
        with self.assertRaises(AccessError):
            figure_b.with_user(self.user_a).read(["rfm_monetary"])
        with self.assertRaises(AccessError):
            self.shared.with_user(self.user_a).with_context(
                allowed_company_ids=self.company_b.ids
            ).read(["rfm_monetary"])

    def test_history_and_runs_stay_in_their_company(self):
        self._recompute_both()
        self._make_order(self.shared, 5.0, days_ago(1))
        self._make_order_b(self.shared, 5.0, days_ago(1))
        History = self.env["customer.segment.history"]
        rows = History.search([("partner_id", "=", self.shared.id)])
        self.assertEqual(rows.company_id, self.company_a | self.company_b)
        for user, company in (
            (self.user_a, self.company_a),
            (self.user_b, self.company_b),
        ):
            with self.subTest(user=user.login):
                visible = History.with_user(user).search(
                    [("partner_id", "=", self.shared.id)]
                )
                self.assertTrue(visible)
                self.assertEqual(visible.company_id, company)
                runs = self.env["customer.segmentation.run"].with_user(user).search([])
                self.assertEqual(runs.company_id, company)
                held = (
                    self.env["customer.segmentation.performance.report"]
                    .with_user(user)
                    .search([])
                )
                self.assertLessEqual(held.company_id, company)

    def test_strategy_runs_stay_in_their_company(self):
        self.env["res.partner"]._cron_apply_segment_strategies()
        Run = self.env["customer.segmentation.strategy.run"]
        self.assertEqual(Run.search([]).company_id, self.company_a | self.company_b)
        for company in (self.company_a, self.company_b):
            with self.subTest(company=company.name):
                manager = new_test_user(
                    self.env,
                    f"cs_mc_manager_{company.id}",
                    groups="customer_segmentation.group_segmentation_manager",
                    company_id=company.id,
                    company_ids=[Command.set(company.ids)],
                )
                self.assertEqual(Run.with_user(manager).search([]).company_id, company)

    def test_pool_moves_stay_in_their_company(self):
        Move = self.env["customer.segmentation.pool.move"].sudo()
        move_a, move_b = (
            Move.create(
                {
                    "partner_id": self.shared.id,
                    "company_id": company.id,
                    "move": "return",
                }
            )
            for company in (self.company_a, self.company_b)
        )
        for user, visible in (
            (self.user_a, move_a),
            (self.user_b, move_b),
            (self.user_both, move_a | move_b),
        ):
            with self.subTest(user=user.login):
                found = (
                    self.env["customer.segmentation.pool.move"]
                    .with_user(user)
                    .with_context(allowed_company_ids=user.company_ids.ids)
                    .search([("partner_id", "=", self.shared.id)])
                )
                self.assertEqual(found, visible)

    def test_kanban_groups_by_the_current_company_segments(self):
        self._recompute_both()
        domain = [("id", "in", (self.shared | self.customer_a | self.customer_b).ids)]
        for user, expected in (
            (self.user_a, {"high": 1, "low": 1}),
            (self.user_b, {"medium": 1, "high": 1}),
        ):
            with self.subTest(user=user.login):
                groups = (
                    self.env["res.partner"]
                    .with_user(user)
                    .web_read_group(domain, ["segment_value_id"], ["segment_value_id"])
                )
                counts = {
                    self.env["customer.segment"]
                    .browse(g["segment_value_id"][0])
                    .code: (g["segment_value_id_count"])
                    for g in groups["groups"]
                    if g["segment_value_id"] and g["segment_value_id_count"]
                }
                self.assertEqual(counts, expected)

    def test_a_company_reads_none_of_the_other_company_purchases(self):
        # an order of A that no rate converts: only A's run sees it
        order = self._make_order(
            self.customer_a, 10.0, days_ago(3), currency=self.other_currency
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sale_order SET currency_rate = 0 WHERE id = %s", [order.id]
        )
        self.env["res.currency.rate"].search(
            [("currency_id", "=", self.other_currency.id)]
        ).unlink()
        self.env.invalidate_all()
        summary_a, summary_b = self._recompute_both()
        run_a = self.env["customer.segmentation.run"].browse(summary_a["run_id"])
        run_b = self.env["customer.segmentation.run"].browse(summary_b["run_id"])
        self.assertIn(order.name, run_a.log)
        self.assertFalse(run_b.log)
        self.assertEqual(summary_a["company_id"], self.company_a.id)
        self.assertEqual(summary_b["company_id"], self.company_b.id)

    def test_pins_are_per_company(self):
        self._recompute_both()
        low = self._segment("value", "low")
        self.env["customer.segment.override"].with_company(self.company_b).create(
            {
                "partner_id": self.shared.id,
                "dimension": "value",
                "segment_id": low.id,
                "reason": "B's own judgement",
            }
        )
        self.assertEqual(self.shared.with_company(self.company_b).segment_value_id, low)
        self.assertEqual(
            self.shared.with_company(self.company_a).segment_value_id.code, "high"
        )

    def test_a_new_company_starts_with_the_strategies(self):
        high = self._segment("value", "high")
        at_risk = self._segment("lifecycle", "at_risk")
        team = self.env["crm.team"].create(
            {"name": "A's key accounts", "company_id": self.company_a.id}
        )
        high.write(
            {
                "followup_days": 21,
                "manager_policy": "round_robin",
                "manager_team_id": team.id,
            }
        )
        company_c = self.env["res.company"].create({"name": "Segmentation C"})
        high_c = high.with_company(company_c)
        self.assertEqual(high_c.followup_days, 21)
        self.assertEqual(high_c.service_level, "dedicated")
        self.assertEqual(high_c.strategy_priority, high.strategy_priority)
        self.assertEqual(at_risk.with_company(company_c).followup_days, 14)
        # a sales team belongs to company A: C keeps its account managers
        self.assertEqual(high_c.manager_policy, "keep")
        self.assertFalse(high_c.manager_team_id)
        # and A's strategies stay A's
        self.assertEqual(high.with_company(self.company_a).manager_team_id, team)

    def test_broken_settings_of_one_company_stop_no_other_strategies(self):
        self._recompute_both()
        high = self._segment("value", "high")
        tag = self.env["res.partner.category"].create({"name": "Key account"})
        high.partner_tag_ids = [Command.link(tag.id)]
        self._force_param("lookback_days", "1000000", self.company_b)
        with mute_logger(
            "odoo.addons.customer_segmentation.models.customer_segmentation_strategy_run"
        ):
            self.env["res.partner"]._cron_apply_segment_strategies()
        # company A (high value there) got its strategy, B was skipped
        self.assertIn(tag, self.shared.category_id)


@tagged("post_install", "-at_install")
class TestMultiCompanyXmlRpc(TwoCompaniesMixin, HttpCase):
    """The same over XML-RPC: a user of A may not read B's figures, even by
    asking for B in the context."""

    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls._setup_two_companies()
        cls._recompute_both()

    def _call(self, user, password, model, method, args, kwargs=None):
        base = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        uid = xmlrpc.client.ServerProxy(f"{base}/common").authenticate(
            self.env.cr.dbname, user.login, password, {}
        )
        self.env.flush_all()
        try:
            return xmlrpc.client.ServerProxy(
                f"{base}/object", allow_none=True
            ).execute_kw(
                self.env.cr.dbname, uid, password, model, method, args, kwargs or {}
            )
        finally:
            self.env.invalidate_all()

    @mute_logger("odoo.http")
    def test_each_user_reads_its_company(self):
        fields_ = ["rfm_monetary", "segment_value_id", "segment_lifecycle_id"]
        [shared_a] = self._call(
            self.user_a,
            "cs-mc-user-a-1",
            "res.partner",
            "read",
            [[self.shared.id], fields_],
        )
        [shared_b] = self._call(
            self.user_b,
            "cs-mc-user-b-1",
            "res.partner",
            "read",
            [[self.shared.id], fields_],
        )
        self.assertEqual(shared_a["rfm_monetary"], 1200.0)
        self.assertEqual(shared_b["rfm_monetary"], 800.0)
        self.assertEqual(
            shared_a["segment_lifecycle_id"][0], self._segment("lifecycle", "active").id
        )
        self.assertEqual(
            shared_b["segment_lifecycle_id"][0],
            self._segment("lifecycle", "at_risk").id,
        )
        with self.assertRaises(xmlrpc.client.Fault):
            self._call(
                self.user_a,
                "cs-mc-user-a-1",
                "res.partner",
                "read",
                [[self.shared.id], fields_],
                {"context": {"allowed_company_ids": self.company_b.ids}},
            )
        figures = self._call(
            self.user_a,
            "cs-mc-user-a-1",
            "customer.segmentation.figure",
            "search_read",
            [[("partner_id", "=", self.shared.id)], ["company_id", "rfm_monetary"]],
        )
        self.assertEqual([f["company_id"][0] for f in figures], [self.company_a.id])
