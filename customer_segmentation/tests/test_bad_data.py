"""Bad data has a rule: orders dated in the future are not purchases yet,
orders without a usable exchange rate are converted at the company's rate of
their day or skipped (and logged), and a company's contacts are reclassified
in one statement."""

import datetime
from contextlib import contextmanager
from decimal import Decimal

import freezegun

from odoo import Command
from odoo.tests import TransactionCase, freeze_time, tagged
from odoo.tools import SQL

from .common import TODAY, SegmentationCase, SegmentationMixin, days_ago


def days_later(days):
    return TODAY + datetime.timedelta(days=days)


class BadDataMixin:
    def _break_rate(self, orders, rate):
        """Store ``rate`` (0 or None) as the orders' ``currency_rate``, as an
        import or a broken integration leaves it."""
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                "UPDATE sale_order SET currency_rate = %s WHERE id = ANY(%s)",
                rate,
                orders.ids,
            )
        )
        orders.invalidate_recordset(["currency_rate"])

    def _usual_gap(self, customer):
        self.env["res.partner"].with_user(self.sales_manager).apply_segment_strategies()
        return customer.churn_typical_gap_days


@tagged("post_install", "-at_install")
class TestFutureOrders(BadDataMixin, SegmentationCase):
    def test_an_order_dated_later_makes_a_prospect_not_a_customer(self):
        customer = self._make_customer("Orders Next Year")
        self._make_order(customer, 5000.0, days_later(400))
        for classify in (lambda: None, self._recompute_all):
            classify()
            self.assertSegments(customer, lifecycle="prospect", value=False, rfm=False)
            self.assertFalse(customer.first_order_date)
            self.assertFalse(customer.last_order_date)
            self.assertEqual(customer.rfm_frequency, 0)
            self.assertEqual(customer.rfm_monetary, 0)
            self.assertEqual(customer.rfm_recency_days, 0)

    def test_an_order_dated_later_counts_nowhere(self):
        customer = self._make_customer("Buyer With A Future Order")
        self._make_order(customer, 100.0, days_ago(100))
        self._make_order(customer, 100.0, days_ago(40))
        self._make_order(customer, 1000.0, days_later(10))
        run = self.env["customer.segmentation.run"].browse(
            self._recompute_all()["run_id"]
        )
        self.assertEqual(customer.first_order_date, days_ago(100))
        self.assertEqual(customer.last_order_date, days_ago(40))
        self.assertEqual(customer.rfm_frequency, 2)
        self.assertEqual(customer.rfm_monetary, 200.0)
        self.assertSegments(customer, lifecycle="active")
        # the only buyer: it holds the top breakpoint of every score
        self.assertEqual(run.stats["recency_breaks"], [[5, str(days_ago(40))]])
        self.assertEqual(run.stats["frequency_breaks"], [[5, "2"]])
        self.assertEqual(Decimal(run.stats["monetary_breaks"][0][1]), 200)
        # orders 60 days apart, not 60 then 50
        self.assertEqual(self._usual_gap(customer), 60)
        self.assertEqual(customer.segmentation_last_interaction, days_ago(40))

    def test_the_nightly_run_counts_it_on_its_day(self):
        customer = self._make_customer("Delivery In Three Days")
        self._make_order(customer, 300.0, days_later(3))
        self.assertSegments(customer, lifecycle="prospect")
        with freeze_time(datetime.datetime.combine(days_later(3), datetime.time(1))):
            self.env["res.partner"]._cron_recompute_segments()
        self.assertSegments(customer, lifecycle="new", value="high")
        self.assertEqual(customer.last_order_date, days_later(3))
        self.assertEqual(customer.rfm_monetary, 300.0)


@tagged("post_install", "-at_install")
class TestExchangeRates(BadDataMixin, SegmentationCase):
    def test_an_order_without_rate_takes_the_company_rate_of_its_day(self):
        company = self.env.company
        # the company's rates come before the shared ones, the latest on or
        # before the order's day; the company currency's own rate counts too
        self.env["res.currency.rate"].create(
            [
                {
                    "currency_id": self.other_currency.id,
                    "name": days_ago(5),
                    "rate": 4.0,
                    "company_id": company.id,
                },
                {
                    "currency_id": self.other_currency.id,
                    "name": days_ago(15),
                    "rate": 8.0,
                    "company_id": False,
                },
                {
                    "currency_id": self.company_currency.id,
                    "name": days_ago(30),
                    "rate": 0.5,
                    "company_id": company.id,
                },
            ]
        )
        customer = self._make_customer("Imported Orders")
        dated = {
            days_ago(10): self._make_order(
                customer, 200.0, days_ago(10), currency=self.other_currency
            ),
            days_ago(2): self._make_order(
                customer, 200.0, days_ago(2), currency=self.other_currency
            ),
        }
        same_currency = self._make_order(customer, 30.0, days_ago(1))
        odoo_amounts = [
            200.0
            / self.env["res.currency"]._get_conversion_rate(
                self.company_currency, self.other_currency, company, day
            )
            for day in dated
        ]
        self.assertEqual(odoo_amounts, [50.0, 25.0])
        for rate in (0, None):
            self._break_rate(
                same_currency | self.env["sale.order"].union(*dated.values()), rate
            )
            self._recompute(customer)
            self.assertEqual(customer.rfm_frequency, 3)
            self.assertEqual(customer.rfm_monetary, 50.0 + 25.0 + 30.0)

    def test_an_order_without_any_rate_is_skipped_and_logged(self):
        customer = self._make_customer("Unconvertible")
        kept = self._make_order(customer, 100.0, days_ago(30))
        orders = [
            self._make_order(customer, 200.0, day, currency=self.other_currency)
            for day in (days_ago(20), days_ago(20), days_ago(10))
        ]
        self._break_rate(self.env["sale.order"].union(*orders), None)
        self.other_currency.rate_ids.unlink()
        summary = self._recompute_all()
        self.assertEqual(customer.rfm_frequency, 1)
        self.assertEqual(customer.rfm_monetary, 100.0)
        self.assertEqual(customer.last_order_date, days_ago(30))
        run = self.env["customer.segmentation.run"].browse(summary["run_id"])
        currency = self.other_currency.name
        self.assertEqual(
            run.log,
            f"2 orders skipped: no exchange rate for {currency} on {days_ago(20)} "
            f"({orders[0].name}, {orders[1].name})\n"
            f"1 order skipped: no exchange rate for {currency} on {days_ago(10)} "
            f"({orders[2].name})",
        )
        self.assertIn(
            'name="log"', self.env["customer.segmentation.run"].get_view()["arch"]
        )
        self.assertNotIn(kept.name, run.log)

    def test_a_skipped_order_is_no_purchase_date_for_churn(self):
        customer = self._make_customer("Gap Of 60 Days")
        self._make_order(customer, 100.0, days_ago(100))
        self._make_order(customer, 100.0, days_ago(40))
        skipped = self._make_order(
            customer, 100.0, days_ago(20), currency=self.other_currency
        )
        self._break_rate(skipped, 0)
        self.other_currency.rate_ids.unlink()
        self._recompute_all()
        self.assertEqual(customer.last_order_date, days_ago(40))
        self.assertEqual(self._usual_gap(customer), 60)

    def test_thresholds_use_converted_amounts(self):
        customer = self._make_customer("Only Buyer")
        order = self._make_order(
            customer, 400.0, days_ago(10), currency=self.other_currency
        )
        self._break_rate(order, 0)
        company = self.env.company
        stats = self.env["customer.segmentation.figure"]._population_stats(
            company, company._segmentation_params()
        )
        self.assertEqual(Decimal(stats["monetary_breaks"][0][1]), 200)
        self.assertEqual(Decimal(stats["high_cutoff"]), 200)


@tagged("post_install", "-at_install")
class TestRevenueOfBadOrders(BadDataMixin, SegmentationMixin, TransactionCase):
    """The performance report's revenue, in the company currency, up to
    today."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        [(cls.today,)] = cls.env.execute_query(
            SQL("SELECT (now() AT TIME ZONE 'UTC')::date")
        )
        cls.startClassPatcher(freezegun.freeze_time(cls._noon(0)))
        cls._setup_segmentation_fixtures()

    @classmethod
    def _noon(cls, days):
        day = cls.today + datetime.timedelta(days=days)
        return datetime.datetime.combine(day, datetime.time(12))

    def test_revenue_counts_purchases_in_company_currency(self):
        customer = self._make_customer("Report Customer")
        self._make_order(customer, 100.0, self._noon(-10))
        broken = self._make_order(
            customer, 200.0, self._noon(-5), currency=self.other_currency
        )
        self._break_rate(broken, 0)
        self._make_order(customer, 999.0, self._noon(5))
        Report = self.env["customer.segmentation.performance.report"]
        Report._refresh(self.env.company)
        revenue = Report.with_user(self.sales_manager)._read_group(
            [("user_id", "=", self.env.user.id)], ["date:day"], ["revenue:sum"]
        )
        self.assertEqual(
            revenue,
            [(self._noon(-10).date(), 100.0), (self._noon(-5).date(), 100.0)],
        )


@tagged("post_install", "-at_install", "is_query_count")
class TestCompanyWithManyContacts(SegmentationCase):
    """Writing a company's size reclassifies all its contacts in one
    statement, and each change is logged once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warm_up, cls.small, cls.big = (
            cls._make_company(name, contacts)
            for name, contacts in (("Warm-up", 3), ("Ten", 10), ("Two Hundred", 200))
        )

    @classmethod
    def _make_company(cls, name, contacts):
        return cls.env["res.partner"].create(
            {
                "name": f"{name} Contacts Inc.",
                "is_company": True,
                # small first: growing to medium is then a change
                "segmentation_employee_count": 5,
                "child_ids": [
                    Command.create({"name": f"{name} {index}", "function": "Engineer"})
                    for index in range(contacts)
                ],
            }
        )

    @contextmanager
    def _transaction(self):
        """What one write by a user costs, up to its commit: flush, then the
        tracking and other work the ORM leaves to the commit."""
        self.env.cr.flush()
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        counted = []
        yield counted
        self.env.cr.flush()
        counted.append(self.cr.sql_log_count - start)

    def _as_user(self, partner):
        """``partner`` as a sales manager editing it in the form: with the
        tracking the fixtures switch off."""
        return partner.with_user(self.sales_manager).with_context(
            tracking_disable=False, mail_notrack=False
        )

    def _set_employees(self, company, employees):
        self._as_user(company).write({"segmentation_employee_count": employees})

    def _tracking_messages(self, partner, field_name):
        field = self.env["ir.model.fields"]._get("res.partner", field_name)
        return self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("tracking_value_ids.field_id", "=", field.id),
            ]
        )

    def test_company_size_costs_the_same_for_10_or_200_contacts(self):
        with self._transaction():
            self._set_employees(self.warm_up, 60)
        with self._transaction() as small:
            self._set_employees(self.small, 60)
        with self.assertQueryCount(small[0]), self._transaction():
            self._set_employees(self.big, 60)
        medium = self._segment("scale", "medium")
        self.assertEqual(self.big.child_ids.segment_scale_id, medium)
        # the company's chatter tells the change; its contacts follow it
        for company in self.big | self.small:
            self.assertEqual(
                len(self._tracking_messages(company, "segment_scale_id")),
                1,
                company.name,
            )
        for contact in self.big.child_ids[:5] | self.small.child_ids:
            self.assertFalse(
                self._tracking_messages(contact, "segment_scale_id"), contact.name
            )
        # nothing of the contacts themselves was written
        self.assertNotIn(self.sales_manager, self.big.child_ids.write_uid)

    def test_a_segment_change_is_logged_once(self):
        contact = self.small.child_ids[0]
        with self._transaction():
            self._as_user(contact).function = "CEO"
        self.assertEqual(
            contact.segment_job_level_id, self._segment("job_level", "senior")
        )
        messages = self._tracking_messages(contact, "segment_job_level_id")
        self.assertEqual(len(messages), 1)
        self.assertEqual(len(messages.tracking_value_ids), 1)
