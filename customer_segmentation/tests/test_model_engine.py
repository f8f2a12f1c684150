"""The purchase model in the engine: each company's own fit, its scores on the
customers, the one churn signal, value tiers on expected value, the eight
R x F x M classes, the summary of the recompute over XML-RPC."""

import datetime
import xmlrpc.client

import numpy as np
from freezegun import freeze_time

import odoo
from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.misc import formatLang

from ..models.customer_segmentation_rule import RFM8_CODES
from ..tools import purchase_model as pm
from .common import (
    NOW,
    TODAY,
    SegmentationCase,
    SegmentationMixin,
    days_ago,
    noon,
)
from .test_model_cdnow import insert_orders


class PopulationMixin(SegmentationMixin):
    """120 customers drawn from the BG/NBD and Gamma-Gamma models (first
    purchase 60 to 720 days ago), and two regular buyers of every 30 days:
    one who bought 10 days ago, one silent for 200 days."""

    @classmethod
    def _make_population(cls):
        rng = np.random.default_rng(2)
        T = rng.integers(60, 720, size=120).astype(float)
        x, t_x = pm.simulate_bgnbd(0.8, 40.0, 0.6, 2.5, T, seed=3)
        t_x = np.floor(t_x)
        x = np.minimum(x, t_x)
        spend = np.round(pm.simulate_gamma_gamma(6, 4, 15, x, seed=4), 2)
        partners = cls.env["res.partner"].create(
            [{"name": f"Model Customer {n:03d}"} for n in range(len(T))]
        )
        rows = []
        for partner, age, repeats, last, amount in zip(
            partners.ids, T, x, t_x, spend, strict=True
        ):
            first = days_ago(int(age))
            offsets = [0]
            if repeats:
                middle = rng.choice(np.arange(1, int(last)), int(repeats) - 1, False)
                offsets += sorted(int(day) for day in middle) + [int(last)]
            rows += [
                (partner, first + datetime.timedelta(days=offset), amount or 20.0)
                for offset in offsets
            ]
        cls.steady = cls._make_customer("Steady Buyer")
        cls.lapsed = cls._make_customer("Lapsed Buyer")
        for customer, last in ((cls.steady, 10), (cls.lapsed, 200)):
            rows += [(customer.id, days_ago(last + 30 * n), 100.0) for n in range(10)]
        insert_orders(cls, rows)
        cls.population = partners


@tagged("post_install", "-at_install")
class TestModelEngine(PopulationMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._make_population()
        cls.company_b = cls.env["res.company"].create(
            {"name": "Segmentation Few Repeat Buyers"}
        )
        cls.sales_manager.write({"company_ids": [Command.link(cls.company_b.id)]})
        cls.customer_b = cls._make_customer("Only B", company_id=cls.company_b.id)
        # the shared steady buyer and one customer of B buy there too
        insert_orders(
            cls,
            [(cls.customer_b.id, days_ago(d), 50.0) for d in (20, 80, 140)]
            + [(cls.steady.id, days_ago(400), 70.0)],
            company=cls.company_b,
        )

    def _run(self, summary):
        return self.env["customer.segmentation.run"].browse(summary["run_id"])

    def _recompute_b(self):
        return (
            self.env["res.partner"]
            .with_user(self.sales_manager)
            .with_company(self.company_b)
            .recompute_all_segments()
        )

    def test_fit_scores_and_explains(self):
        summary = self._recompute_all()
        run = self._run(summary)
        self.assertEqual(run.model_state, "fitted", run.model_message)
        self.assertEqual(
            [summary[k] for k in ("r", "alpha", "a", "b")],
            [run.model_r, run.model_alpha, run.model_a, run.model_b],
        )
        self.assertGreater(run.model_repeat_buyers, 20)
        self.assertEqual(run.holdout_days, 180)
        self.assertGreater(run.holdout_customers, 0)
        self.assertGreater(run.holdout_predicted, 0)

        steady, lapsed = self.steady, self.lapsed
        self.assertGreater(steady.model_alive_probability, 0.7)
        self.assertEqual(steady.model_alive_band, "high")
        self.assertLess(lapsed.model_alive_probability, 0.3)
        self.assertEqual(lapsed.model_alive_band, "low")
        self.assertGreater(steady.model_expected_value, lapsed.model_expected_value)
        self.assertEqual(steady.purchase_days, 10)
        self.assertEqual(steady.repeat_spend, 100.0)
        self.assertIn(
            f"orders about every 30 days, silent for 10 days: "
            f"{round(100 * steady.model_alive_probability)}% likely still active",
            steady.model_explanation,
        )
        self.assertIn(steady.model_explanation, steady.segmentation_explanation)
        # in the reader's language
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["customer_segmentation"], ["zh_CN"], overwrite=True
        )
        self.assertIn(
            f"大约每 30 天下单一次，已 10 天未购买："
            f"{round(100 * steady.model_alive_probability)}% 可能仍活跃",
            steady.with_context(lang="zh_CN").model_explanation,
        )
        self.assertEqual(
            self.env["customer.segment"]
            .with_context(lang="zh_CN")
            .search([("code", "=", "important_value")])
            .name,
            "重要价值客户",
        )
        # stored per company, searchable and groupable in bands
        Partner = self.env["res.partner"].with_user(self.salesman)
        lows = Partner.search([("model_alive_band", "=", "low")])
        self.assertIn(lapsed, lows)
        self.assertNotIn(steady, lows)
        groups = dict(
            Partner._read_group(
                [("id", "in", (steady | lapsed).ids)], ["model_alive_band"], ["__count"]
            )
        )
        self.assertEqual(groups, {"high": 1, "low": 1})

    def test_expected_value_to_two_significant_digits(self):
        """A forecast is shown as one (3,400, not 3,437), and stored as
        shown: a night rewrites the customers whose forecast moved, not every
        repeat buyer by a few units."""
        self._recompute_all()
        figures = self.env["customer.segmentation.figure"].search(
            [("company_id", "=", self.env.company.id), ("model_expected_value", ">", 0)]
        )
        values = figures.mapped("model_expected_value")
        self.assertTrue([value for value in values if value >= 100], values)
        for value in values:
            with self.subTest(value=value):
                self.assertEqual(value, round(value))
                self.assertLessEqual(len(str(int(value)).rstrip("0")), 2)

    def test_rerun_the_same_day_rescores_only_changed_customers(self):
        """A score depends on the figures, the day and the parameters only: a
        rerun the same day with nothing written since the previous run's
        classification began scores nobody; once a customer's figures are
        written, the fit scores every customer again (the value cut-offs rank
        them all), and writes those whose scores differ."""
        first = self._run(self._recompute_all())
        figures = {
            customer: self._figure_row(customer)
            for customer in (self.steady, self.lapsed)
        }
        true_probability = figures[self.lapsed].model_alive_probability
        # as in production, where each batch is a transaction of its own: the
        # figures were written before the run started classifying; then a
        # stored score that no longer matches (to see who is scored again)
        self._age_figures(first)
        self.env.cr.execute(
            "UPDATE customer_segmentation_figure SET model_alive_probability = 0.5"
        )
        self.env["customer.segmentation.figure"].invalidate_model()

        second = self._run(self._recompute_all())
        self.assertEqual(second.stats["model"], first.stats["model"])
        self.assertEqual(second.stats["scored"]["day"], str(TODAY))
        self.assertEqual(figures[self.lapsed].model_alive_probability, 0.5)
        self.assertEqual(figures[self.steady].model_alive_probability, 0.5)

        # the steady buyer's figures written since (the same figures: a new
        # order would move the fit's parameters too): everybody is scored
        self._age_figures(second)
        self.env.cr.execute(
            "UPDATE customer_segmentation_figure SET write_date = now()"
            " WHERE partner_id = %s",
            [self.steady.id],
        )
        third = self._run(self._recompute_all())
        self.assertEqual(third.stats["model"], first.stats["model"])
        self.assertEqual(figures[self.lapsed].model_alive_probability, true_probability)
        self.assertGreater(figures[self.steady].model_alive_probability, 0.7)

        # the next day: everybody is scored with the day's parameters
        self._age_figures(third)
        self.env.cr.execute(
            "UPDATE customer_segmentation_figure SET model_alive_probability = 0.5"
        )
        self.env["customer.segmentation.figure"].invalidate_model()
        with freeze_time(noon(1)):
            fourth = self._run(self._recompute_all())
        self.assertEqual(fourth.stats["scored"]["day"], str(noon(1).date()))
        self.assertNotEqual(figures[self.lapsed].model_alive_probability, 0.5)
        self.assertAlmostEqual(
            figures[self.lapsed].model_alive_probability, true_probability, delta=0.02
        )

    def test_fit_scores_every_customer(self):
        """The fit scores every customer at once and writes what changed: the
        batches' own scoring then finds nothing to write; a customer whose
        purchases are gone gets no model figures, although no batch scores
        it when its figures were refreshed before the fit; a customer never
        scored is left to its batch, which scores it whatever the run's
        start."""
        run = self._run(self._recompute_all())
        company = self.env.company
        newcomer = self.population[0]
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure
                  SET model_alive_probability = 0.5, model_value_band = NULL,
                      purchase_days = CASE WHEN partner_id = %s THEN 0
                                           ELSE purchase_days END
                WHERE company_id = %s""",
            [self.lapsed.id, company.id],
        )
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure
                  SET model_alive_probability = NULL, model_expected_purchases = NULL,
                      model_expected_value = NULL, model_alive_band = NULL,
                      model_purchases_band = NULL
                WHERE company_id = %s AND partner_id = %s""",
            [company.id, newcomer.id],
        )
        self.env.invalidate_all()
        Model = self.env["customer.segmentation.purchase.model"]
        parameters = run.stats["model"]
        values = Model._score_company(company, TODAY, parameters)
        Model._write_value_bands(company, parameters["value_cutoffs"])
        self.assertEqual(len(values), 121)
        for name in ("model_alive_band", "model_alive_probability", "model_value_band"):
            self.assertFalse(self.lapsed[name], name)
        self.assertGreater(self.steady.model_alive_probability, 0.7)
        self.assertTrue(self.steady.model_value_band)
        self.assertFalse(newcomer.model_alive_band)
        scope = self.env["customer.segmentation.pipeline"]._scope(company)
        scored = {"day": str(TODAY), "since": "2100-01-01 00:00:00"}
        stats = {"model": parameters, "scored": scored}
        self.assertEqual(Model._score(scope, TODAY, stats), 1)
        self.assertTrue(newcomer.model_alive_band)
        self.assertEqual(Model._score(scope, TODAY, {"model": parameters}), 0)

    def _age_figures(self, run):
        """Date the figures rows and ``run``'s classification back, as if the
        run had classified in transactions of their own an hour ago."""
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure
                  SET write_date = write_date - interval '1 hour'"""
        )
        self.env["customer.segmentation.figure"].invalidate_model()
        run.classify_started_at -= datetime.timedelta(minutes=30)

    def _figure_row(self, customer):
        return self.env["customer.segmentation.figure"].search(
            [("partner_id", "=", customer.id), ("company_id", "=", self.env.company.id)]
        )

    def test_no_model_signal_after_one_purchase_day(self):
        """The model counts a customer as lost only after a repeat purchase:
        a customer who bought on one day, long ago, is not shown as "100%
        likely still active" beside Churned, and a sentence says why."""
        once = self._make_customer("Bought Once Long Ago")
        insert_orders(self, [(once.id, days_ago(480), 300.0)])
        summary = self._recompute_all()
        run = self._run(summary)
        self.assertEqual(run.model_state, "fitted")
        self.assertEqual(once.model_alive_probability, 1.0)
        # its expected value rests on the average customer's spend, and the
        # sentence says so with that spend (Gamma-Gamma: p gamma / (q - 1))
        average = run.model_p * run.model_gamma / (run.model_q - 1)
        self.assertNotAlmostEqual(average, 300.0, delta=10.0)
        # rounded as the expected values are, to two significant digits
        digits = 2 - len(str(int(average)))
        amount = formatLang(
            self.env, round(average, digits), currency_obj=self.env.company.currency_id
        )
        self.assertIn(
            f"at an average customer's {amount} a purchase day",
            once.model_explanation,
        )
        self.assertFalse(once.churn_signal)
        self.assertFalse(once.churn_alert)
        # and no threshold it could fall below until a second purchase day
        self.assertEqual(once.churn_risk_explanation, f"{once.model_explanation}.")
        # with the reader's full stop
        self.env["res.lang"]._activate_lang("zh_CN")
        self.env["ir.module.module"]._load_module_terms(
            ["customer_segmentation"], ["zh_CN"], overwrite=True
        )
        once_zh = once.with_context(lang="zh_CN")
        self.assertEqual(
            once_zh.churn_risk_explanation, f"{once_zh.model_explanation}。"
        )
        self.assertIn("Churn warning below 30%.", self.steady.churn_risk_explanation)
        self.assertSegments(once, lifecycle="churned")
        self.assertIn("only after a second purchase day", once.model_explanation)
        self.assertIn(
            "fewer than two purchase days show none yet",
            once.segmentation_explanation,
        )
        # a repeat buyer keeps the model's signal
        self.assertEqual(
            self.steady.churn_signal,
            f"{round(100 * self.steady.model_alive_probability)}% likely still active",
        )

    def test_one_churn_signal(self):
        self._recompute_all()
        lapsed, steady = self.lapsed, self.steady
        # the model decides, whatever the churn risk from the usual gap says
        self.assertEqual(lapsed.churn_risk_score, 100)
        self.assertTrue(lapsed.churn_alert)
        self.assertFalse(steady.churn_alert)
        self.assertEqual(
            lapsed.churn_signal,
            f"{round(100 * lapsed.model_alive_probability)}% likely still active",
        )
        warned = self.env["res.partner"].search([("churn_alert", "=", True)])
        self.assertIn(lapsed, warned)
        # at risk too by the lifecycle periods (last purchase 200 days ago)
        self.assertSegments(lapsed, lifecycle="at_risk")
        # the threshold is the company's
        self._set_params(churn_alive_threshold=lapsed.model_alive_probability / 2)
        self.env.invalidate_all()
        self.assertFalse(lapsed.churn_alert)
        self.assertNotIn(
            lapsed, self.env["res.partner"].search([("churn_alert", "=", True)])
        )
        self.assertIn("No churn warning although", lapsed.segmentation_explanation)

        # the early-warning activity says the same
        self._set_params(churn_alive_threshold=None)
        lapsed.user_id = self.salesman
        self.env["res.partner"].apply_segment_strategies()
        activity = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", lapsed.id),
                (
                    "activity_type_id",
                    "=",
                    self.env.ref(
                        "customer_segmentation.mail_activity_type_churn_warning"
                    ).id,
                ),
            ]
        )
        self.assertEqual(activity.summary, lapsed.churn_signal)

    def test_company_with_too_few_repeat_buyers(self):
        """Company B: a clear message, no model figures, the usual-gap rule;
        company A's model is never used for B's customers."""
        summary = self._recompute_b()
        # A's run comes after B's: the latest model in the database is A's
        self._recompute_all()
        run = self._run(summary)
        self.assertEqual(run.model_state, "none")
        self.assertIn("1 of 2 customers bought on more than one day", run.model_message)
        self.assertEqual([summary[k] for k in ("r", "alpha", "a", "b")], [False] * 4)
        B = self.env["res.partner"].with_company(self.company_b)
        for partner in (self.customer_b, self.steady):
            partner = B.browse(partner.id)
            self.assertFalse(partner.model_alive_band)
            self.assertFalse(partner.model_explanation)
        # the usual-gap rule; in B, the steady buyer bought on one day only:
        # no rhythm, no signal (not a reassuring 0/100)
        self.assertTrue(B.browse(self.customer_b.id).churn_signal.startswith("Churn"))
        steady_b = B.browse(self.steady.id)
        self.assertFalse(steady_b.churn_signal)
        self.assertIn("Fewer than two purchase days", steady_b.churn_risk_explanation)
        # the shared customer keeps A's figures in A
        self.assertEqual(self.steady.model_alive_band, "high")
        # an order of B's customer scores it with B's (absent) model
        insert_orders(self, [(self.steady.id, TODAY, 10.0)], company=self.company_b)
        self.env["customer.segmentation.run"]._recompute_customers(
            self.company_b, self.steady.ids
        )
        self.assertFalse(B.browse(self.steady.id).model_alive_band)

    def test_value_tier_basis(self):
        self._set_params(value_method="quantile")
        self._recompute_all()
        # 600 bought in the window: high value on past spend
        self.assertSegments(self.lapsed, value="high")
        self._set_params(value_basis="expected")
        run = self._run(self._recompute_all())
        high, medium = run.stats["model"]["value_cutoffs"]
        customers = self.population | self.steady | self.lapsed
        for customer in customers:
            value = customer.model_expected_value
            expected = (
                "high" if value >= high else "medium" if value >= medium else "low"
            )
            self.assertSegments(customer, value=expected)
            self.assertEqual(customer.model_value_band, expected)
        # a big past spender unlikely to buy again is no longer high value
        self.assertSegments(self.lapsed, value="medium")
        self.assertIn(
            "expected value over the next 12 months",
            self.steady.segmentation_explanation,
        )

    def test_rfm8_preset(self):
        self._set_params(rfm_preset="rfm8")
        run = self._run(self._recompute_all())
        customers = self.population | self.steady | self.lapsed
        buying = customers.filtered("rfm_frequency")
        averages = run.stats["averages"]
        epoch = datetime.date(2000, 1, 1)
        for customer in customers:
            if not customer.rfm_frequency:
                self.assertFalse(customer.segment_rfm_id)
                continue
            index = (
                4
                * (
                    (customer.last_order_date - epoch).days
                    > float(averages["last_day"])
                )
                + 2 * (customer.rfm_frequency > float(averages["frequency"]))
                + (customer.rfm_monetary > float(averages["monetary"]))
            )
            self.assertEqual(customer.segment_rfm_id.code, RFM8_CODES[index])
        self.assertGreater(len(buying.segment_rfm_id), 2)
        self.assertEqual(self.steady.segment_rfm_id.code, "important_value")
        self.assertEqual(self.steady.segment_rfm_id.name, "Important Value")
        # the kanban's columns are the eight classes
        groups = self.env["res.partner"]._read_group(
            [("id", "in", customers.ids)], ["segment_rfm_id"], ["__count"]
        )
        columns = self.env["res.partner"]._read_group_segment_rfm_id(
            self.env["customer.segment"].browse(), []
        )
        self.assertEqual(sorted(columns.mapped("code")), sorted(RFM8_CODES))
        self.assertTrue(
            {segment for segment, _count in groups if segment} <= set(columns)
        )


@tagged("post_install", "-at_install")
class TestModelXmlRpc(PopulationMixin, HttpCase):
    """The summary of the full recompute reports the fitted parameters."""

    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls._make_population()
        cls.manager = new_test_user(
            cls.env,
            "cs_model_manager",
            groups="sales_team.group_sale_manager",
            password="cs-model-manager-1",
        )

    def test_summary_has_the_parameters(self):
        url = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        db = self.env.cr.dbname
        uid = xmlrpc.client.ServerProxy(f"{url}/common").authenticate(
            db, "cs_model_manager", "cs-model-manager-1", {}
        )
        self.env.flush_all()
        summary = xmlrpc.client.ServerProxy(f"{url}/object").execute_kw(
            db, uid, "cs-model-manager-1", "res.partner", "recompute_all_segments", []
        )
        self.env.invalidate_all()
        run = self.env["customer.segmentation.run"].browse(summary["run_id"])
        self.assertEqual(run.model_state, "fitted")
        self.assertEqual(
            {k: summary[k] for k in ("r", "alpha", "a", "b")},
            {
                "r": run.model_r,
                "alpha": run.model_alpha,
                "a": run.model_a,
                "b": run.model_b,
            },
        )
        self.assertTrue(
            all(isinstance(summary[k], float) for k in "r alpha a b".split())
        )
