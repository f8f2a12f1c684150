"""The purchase model on real Odoo: the CDNOW sample loaded as confirmed sale
orders, read by the module's purchase reader and fitted by the real full
recompute, reproduces the published estimates; P(alive) per customer follows
the paper's formula; the holdout check is the README's."""

import datetime
import math

import numpy as np
from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.customer_segmentation.models import (
    customer_segmentation_purchase_model as purchase_model_module,
)

from .common import SegmentationCase
from .test_purchase_model import (
    CALIBRATION_END,
    PUBLISHED_BGNBD,
    PUBLISHED_GAMMA_GAMMA,
    load_cdnow,
    paper_probability_alive,
    summarise,
)

# Columns of sale_order set per CDNOW line; the others are the template's.
ORDER_VALUES = {
    "name": SQL("'ORDER/' || u.n"),
    "partner_id": SQL("u.partner_id"),
    "partner_invoice_id": SQL("u.partner_id"),
    "partner_shipping_id": SQL("u.partner_id"),
    "date_order": SQL("u.day + interval '12 hours'"),
    "amount_untaxed": SQL("u.amount"),
    "amount_total": SQL("u.amount"),
    "amount_tax": SQL("0"),
    "currency_rate": SQL("1.0"),
    "state": SQL("'sale'"),
}


def insert_orders(case, rows, company=None):
    """Confirmed orders ``rows`` of ``(partner id, date, amount)``, inserted
    with SQL as copies of a template order (7,000 orders through the ORM would
    take minutes); the purchase reader reads them as any confirmed order.

    :param case: the test class (its ``_make_order``)
    :param company: the orders' company (default: the template's)
    """
    partners, days, amounts = zip(*rows, strict=True)
    template = case._make_order(
        case._make_customer("Order template"),
        1.0,
        datetime.date(1997, 1, 1),
        classify=False,
    )
    env = case.env
    env.flush_all()
    columns = [
        row[0]
        for row in env.execute_query(
            SQL(
                """SELECT column_name FROM information_schema.columns
                    WHERE table_name = 'sale_order' AND column_name <> 'id'
                 ORDER BY ordinal_position"""
            )
        )
    ]
    values = dict(ORDER_VALUES)
    if company:
        values["company_id"] = SQL("%s", company.id)
    env.execute_query(
        SQL(
            """
        INSERT INTO sale_order (%(columns)s)
        SELECT %(values)s
          FROM sale_order t,
               unnest(%(partners)s::int[], %(days)s::date[], %(amounts)s::numeric[])
               WITH ORDINALITY AS u(partner_id, day, amount, n)
         WHERE t.id = %(template)s
            """,
            columns=SQL(", ").join(SQL.identifier(c) for c in columns),
            values=SQL(", ").join(
                values.get(c, SQL("t.%s", SQL.identifier(c))) for c in columns
            ),
            partners=list(partners),
            days=[day.isoformat() for day in days],
            amounts=[str(amount) for amount in amounts],
            template=template.id,
        )
    )
    template._action_cancel()
    env.invalidate_all()


@tagged("post_install", "-at_install")
class TestModelCdnow(SegmentationCase):
    freeze_time = "1997-09-30 12:00:00"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer, cls.day, cls.amount = load_cdnow()
        numbers = np.unique(cls.customer)
        partners = cls.env["res.partner"].create(
            [{"name": f"CDNOW {number:05d}"} for number in numbers]
        )
        cls.partner_of = dict(zip(numbers.tolist(), partners.ids, strict=True))
        cls._insert_orders()

    @classmethod
    def _insert_orders(cls):
        days = [datetime.date.fromordinal(int(day)) for day in cls.day.tolist()]
        partners = [cls.partner_of[c] for c in cls.customer.tolist()]
        insert_orders(cls, zip(partners, days, cls.amount.tolist(), strict=True))

    def _run(self, summary):
        return self.env["customer.segmentation.run"].browse(summary["run_id"])

    def assertClose(self, value, expected, name):
        self.assertLess(
            abs(value - expected) / expected, 0.01, f"{name}: {value} vs {expected}"
        )

    def test_fit_reproduces_the_published_estimates(self):
        summary = self._recompute_all()
        run = self._run(summary)
        self.assertEqual(run.model_state, "fitted", run.model_message)
        self.assertEqual(run.model_customers, 2357)
        for name, expected in PUBLISHED_BGNBD.items():
            # published per week; the module's time unit is the day
            value = summary[name] / 7 if name == "alpha" else summary[name]
            self.assertClose(value, expected, name)
        for name, expected in PUBLISHED_GAMMA_GAMMA.items():
            self.assertClose(run[f"model_{name}"], expected, name)

        # P(alive) of every customer against the paper's formula
        customers, x, t_x, T, _spend = summarise(
            self.customer, self.day, self.amount, CALIBRATION_END.toordinal()
        )
        figures = self.env["customer.segmentation.figure"].search(
            [("partner_id", "in", list(self.partner_of.values()))]
        )
        stored = {f.partner_id.id: f.model_alive_probability for f in figures}
        self.assertEqual(len(stored), len(customers))
        for number, *summary_values in zip(customers.tolist(), x, t_x, T, strict=True):
            expected = paper_probability_alive(
                summary["r"],
                summary["alpha"],
                summary["a"],
                summary["b"],
                *summary_values,
            )
            # stored to 1 %, as shown
            self.assertAlmostEqual(
                stored[self.partner_of[number]], round(expected, 2), delta=1e-12
            )

    def test_holdout_weeks_40_to_78(self):
        """Fitted on weeks 1-39 and compared with weeks 40-78: the figures of
        the README."""
        self._set_params(model_holdout_days=273)
        with freeze_time("1998-06-30 12:00:00"):
            run = self._run(self._recompute_all())
        self.assertFalse(run.holdout_message)
        self.assertEqual(run.holdout_customers, 2357)
        self.assertEqual(run.holdout_actual, 1882)
        self.assertAlmostEqual(run.holdout_predicted, 1653.4, delta=0.05)
        self.assertAlmostEqual(run.holdout_error, 0.785, delta=0.0005)

    def test_large_company_fitted_on_a_sample(self):
        """Above ``FIT_SAMPLE`` customers, the models are fitted on a sample,
        the same customers every day; the value tiers still rank every
        customer's expected value."""
        self.patch(purchase_model_module, "FIT_SAMPLE", 1000)
        self._set_params(value_method="quantile", value_basis="expected")
        run = self._run(self._recompute_all())
        self.assertEqual(run.model_state, "fitted", run.model_message)
        self.assertTrue(800 < run.model_customers < 1200, run.model_customers)
        again = self._run(self._recompute_all())
        self.assertEqual(again.model_customers, run.model_customers)
        self.assertEqual(
            (again.model_r, again.model_alpha, again.model_a, again.model_b),
            (run.model_r, run.model_alpha, run.model_a, run.model_b),
        )
        # the high tier's cut-off: the expected value at the high share's
        # rank among all 2,357 customers, not among the sample
        values = sorted(
            self.env["customer.segmentation.figure"]
            .search([("partner_id", "in", list(self.partner_of.values()))])
            .mapped("model_expected_value"),
            reverse=True,
        )
        self.assertEqual(len(values), 2357)
        rank = math.ceil(
            round(self.env.company.segmentation_value_high_share * 2357, 9)
        )
        self.assertEqual(again.stats["model"]["value_cutoffs"][0], values[rank - 1])

        # a rerun the same day with nothing written since the last run began
        # classifying (as in production, where its batches commit one by
        # one): the ranking, and the scores, are those of the last run
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure
                  SET write_date = write_date - interval '1 hour'"""
        )
        again.classify_started_at -= datetime.timedelta(minutes=30)
        Model = type(self.env["customer.segmentation.purchase.model"])
        ranked = []
        expected_values = Model._score_company

        def counting(model, *args):
            ranked.append(args)
            return expected_values(model, *args)

        self.patch(Model, "_score_company", counting)
        third = self._run(self._recompute_all())
        self.assertFalse(ranked)
        self.assertEqual(third.stats["model"], again.stats["model"])
        self.assertEqual(third.stats["scored"]["day"], "1997-09-30")
        # a customer's figures written since: every customer is ranked again
        self.env.cr.execute(
            "UPDATE customer_segmentation_figure SET write_date = now()"
            " WHERE partner_id = %s",
            [self.partner_of[int(self.customer[0])]],
        )
        third.classify_started_at -= datetime.timedelta(minutes=30)
        fourth = self._run(self._recompute_all())
        self.assertEqual(len(ranked), 1)
        self.assertEqual(fourth.stats["model"], again.stats["model"])
        # another share of high-value customers the same day: ranked again
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE customer_segmentation_figure
                  SET write_date = write_date - interval '1 hour'"""
        )
        fourth.classify_started_at -= datetime.timedelta(minutes=30)
        self._set_params(value_high_share=0.1)
        fifth = self._run(self._recompute_all())
        self.assertEqual(len(ranked), 2)
        rank = math.ceil(round(0.1 * 2357, 9))
        self.assertEqual(fifth.stats["model"]["value_cutoffs"][0], values[rank - 1])
