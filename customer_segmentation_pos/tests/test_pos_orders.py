"""Paid Point of Sale orders as purchases, with either purchase source.

Orders are made as the register makes them through the ORM (as
point_of_sale's own tests do): created in an opened session, paid with
``add_payment`` and ``action_pos_order_paid``, refunded with ``refund``,
invoiced with ``action_pos_order_invoice``.
"""

import datetime

import freezegun

from odoo import Command
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from odoo.addons.customer_segmentation.tests.common import (
    TODAY,
    SegmentationCase,
    SegmentationMixin,
    days_ago,
)

SOURCES = ("sale", "invoice")
TAX_RATE = 0.1


def days_later(days):
    return TODAY + datetime.timedelta(days=days)


class PosMixin:
    @classmethod
    def _setup_pos(cls):
        cls.pos_tax = cls.env["account.tax"].create(
            {
                "name": "Segmentation POS VAT 10%",
                "amount_type": "percent",
                "amount": TAX_RATE * 100,
                "type_tax_use": "sale",
            }
        )
        cls.pos_config = cls.env["pos.config"].create({"name": "Segmentation Shop"})
        cls.pos_session = cls._open_session(cls.pos_config)

    @classmethod
    def _open_session(cls, config):
        config.open_ui()
        return config.current_session_id

    @classmethod
    def _make_pos_order(
        cls, partner, amount, date=None, session=None, paid=True, taxed=False
    ):
        """A POS order of ``partner`` (None: an anonymous ticket) of one line
        of ``amount`` untaxed (plus 10% tax when ``taxed``; negative for a
        refund), dated ``date`` at noon UTC (now by default), paid in full
        unless ``paid`` is false."""
        session = session or cls.pos_session
        taxes = cls.pos_tax if taxed else cls.env["account.tax"]
        total = amount * (1 + TAX_RATE) if taxed else amount
        values = {
            "session_id": session.id,
            "partner_id": partner.id if partner else False,
            "lines": [
                Command.create(
                    {
                        "product_id": cls.product.id,
                        "qty": 1 if amount >= 0 else -1,
                        "price_unit": abs(amount),
                        "tax_ids": [Command.set(taxes.ids)],
                        "price_subtotal": amount,
                        "price_subtotal_incl": total,
                    }
                )
            ],
            "amount_tax": total - amount,
            "amount_total": total,
            "amount_paid": 0.0,
            "amount_return": 0.0,
        }
        if date:
            values["date_order"] = datetime.datetime.combine(date, datetime.time(12))
        order = cls.env["pos.order"].create(values)
        if paid:
            cls._pay(order)
        cls._classify_queued()
        return order

    @classmethod
    def _pay(cls, order):
        method = order.session_id.payment_method_ids.filtered("is_cash_count")[:1]
        order.add_payment(
            {
                "pos_order_id": order.id,
                "amount": order.amount_total,
                "payment_method_id": method.id,
            }
        )
        order.action_pos_order_paid()

    @classmethod
    def _refund(cls, order):
        """Refund the whole of ``order`` now, as the register does, paid."""
        refund = cls.env["pos.order"].browse(order.refund()["res_id"])
        cls._pay(refund)
        cls._classify_queued()
        return refund

    @classmethod
    def _invoice(cls, order):
        order.with_context(generate_pdf=False).action_pos_order_invoice()
        cls._classify_queued()
        return order.account_move

    def assertFigures(self, customer, first, last, frequency, monetary):
        self.assertEqual(
            (
                customer.first_order_date,
                customer.last_order_date,
                customer.rfm_frequency,
                customer.rfm_monetary,
            ),
            (first, last, frequency, monetary),
            f"figures of {customer.name}",
        )

    def _recompute_with(self, source):
        """Recompute the company with the purchase source ``source``."""
        self._set_params(purchase_source=source)
        self._recompute_all()


@tagged("post_install", "-at_install")
class TestPosOrders(PosMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pos()

    def test_paid_orders_are_purchases_with_either_source(self):
        company = self._make_customer("Shop Regular", is_company=True)
        contact = self._make_customer("Shop Regular Buyer", parent_id=company.id)
        self._make_pos_order(contact, 100.0, days_ago(100), taxed=True)
        self._make_pos_order(company, 50.0, days_ago(10))
        # untaxed, for the contact's company; classified once paid
        self.assertFigures(company, days_ago(100), days_ago(10), 2, 150.0)
        for source in SOURCES:
            with self.subTest(source=source):
                self._recompute_with(source)
                self.assertFigures(company, days_ago(100), days_ago(10), 2, 150.0)
                self.assertSegments(contact, lifecycle="active")

    def test_unpaid_cancelled_and_anonymous_orders_do_not_count(self):
        customer = self._make_customer("Never Paid")
        self._make_pos_order(customer, 100.0, days_ago(3), paid=False)
        cancelled = self._make_pos_order(customer, 100.0, days_ago(2), paid=False)
        cancelled.action_pos_order_cancel()
        self.assertEqual(cancelled.state, "cancel")
        anonymous = self._make_pos_order(None, 100.0, days_ago(1))
        self.assertEqual(anonymous.state, "paid")
        for source in SOURCES:
            with self.subTest(source=source):
                self._recompute_with(source)
                self.assertFigures(customer, False, False, 0, 0.0)
                self.assertSegments(customer, lifecycle=False, value=False, rfm=False)

    def test_an_invoiced_order_counts_once_with_either_source(self):
        self._set_params(purchase_source="invoice")
        customer = self._make_customer("Invoiced At The Register")
        order = self._make_pos_order(customer, 100.0, days_ago(5), taxed=True)
        invoice = self._invoice(order)
        self.assertEqual(order.state, "invoiced")
        self.assertEqual(
            (invoice.state, invoice.amount_untaxed_signed), ("posted", 100)
        )
        self.assertFigures(customer, days_ago(5), days_ago(5), 1, 100.0)
        for source in SOURCES:
            with self.subTest(source=source):
                self._recompute_with(source)
                self.assertFigures(customer, days_ago(5), days_ago(5), 1, 100.0)
                self.assertSegments(customer, lifecycle="new")

    def test_a_refund_takes_the_amount_back(self):
        customer = self._make_customer("Brought It Back")
        self._make_pos_order(customer, 100.0, days_ago(20))
        returned = self._make_pos_order(customer, 60.0, taxed=True)
        refund = self._refund(returned)
        self.assertEqual(refund.amount_total, -66.0)
        # the refund is no purchase: two purchases, the last one today
        self.assertFigures(customer, days_ago(20), TODAY, 2, 100.0)
        for source in SOURCES:
            with self.subTest(source=source):
                self._recompute_with(source)
                self.assertFigures(customer, days_ago(20), TODAY, 2, 100.0)

    def test_an_order_dated_later_is_pending(self):
        customer = self._make_customer("Pays Next Week")
        self._make_pos_order(customer, 100.0, days_later(7))
        refunded_later = self._make_customer("Refund Next Week")
        self._make_pos_order(refunded_later, 100.0, days_ago(10))
        self._make_pos_order(refunded_later, -40.0, days_later(7))
        for source in SOURCES:
            with self.subTest(source=source):
                self._recompute_with(source)
                self.assertFigures(customer, False, False, 0, 0.0)
                self.assertSegments(customer, lifecycle="prospect", value=False)
                # a refund takes nothing back before its day
                self.assertFigures(refunded_later, days_ago(10), days_ago(10), 1, 100.0)

    def test_paying_or_cancelling_an_order_queues_its_customer(self):
        Queue = self.env["customer.segmentation.queue"]
        company = self._make_customer("Queued Shop Company", is_company=True)
        contact = self._make_customer("Queued Shop Buyer", parent_id=company.id)
        self._classify_queued()
        order = self._make_pos_order(contact, 100.0, paid=False)
        order.write({"general_note": "gift wrap"})
        self.assertFalse(Queue.search([]))
        self._pay(order)
        self.assertEqual(
            Queue.search([]).mapped(lambda row: (row.partner_id, row.company_id)),
            [(company, self.env.company)],
        )
        self._classify_queued()
        self.assertFigures(company, TODAY, TODAY, 1, 100.0)
        draft = self._make_pos_order(contact, 100.0, paid=False)
        draft.action_pos_order_cancel()
        self.assertEqual(Queue.search([]).partner_id, company)


@tagged("post_install", "-at_install")
class TestPosOrdersInAnotherCurrency(PosMixin, SegmentationCase):
    """A point of sale selling in the second currency: 1 unit of the company
    currency is worth 2 of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_pos()
        Journal = cls.env["account.journal"]
        currency = cls.other_currency.id
        cash_method = cls.env["pos.payment.method"].create(
            {
                "name": "Segmentation Cash Other",
                "journal_id": Journal.create(
                    {
                        "name": "Segmentation Cash Other",
                        "type": "cash",
                        "code": "CSCO",
                        "currency_id": currency,
                    }
                ).id,
            }
        )
        config = cls.env["pos.config"].create(
            {
                "name": "Segmentation Shop Other",
                "journal_id": Journal.create(
                    {
                        "name": "Segmentation POS Other",
                        "type": "general",
                        "code": "CSPO",
                        "currency_id": currency,
                    }
                ).id,
                "use_pricelist": True,
                "pricelist_id": cls.other_pricelist.id,
                "available_pricelist_ids": [Command.set(cls.other_pricelist.ids)],
                "payment_method_ids": [Command.set(cash_method.ids)],
            }
        )
        cls.other_session = cls._open_session(config)

    def _break_rate(self, orders, rate):
        """Store ``rate`` (0 or None) as the orders' ``currency_rate``, as an
        import or a broken integration leaves it."""
        self.env.flush_all()
        self.env.execute_query(
            SQL(
                "UPDATE pos_order SET currency_rate = %s WHERE id = ANY(%s)",
                rate,
                orders.ids,
            )
        )
        orders.invalidate_recordset(["currency_rate"])

    def test_an_order_in_another_currency_is_converted(self):
        customer = self._make_customer("Pays In The Other Currency")
        order = self._make_pos_order(
            customer, 200.0, days_ago(10), session=self.other_session
        )
        self._make_pos_order(customer, 30.0, days_ago(5))
        self.assertEqual(order.currency_id, self.other_currency)
        self.assertEqual(order.currency_rate, 2.0)
        self.assertFigures(customer, days_ago(10), days_ago(5), 2, 130.0)
        # without a rate of its own: the company's rate of its day
        for rate in (0, None):
            self._break_rate(order, rate)
            self._recompute_all()
            self.assertFigures(customer, days_ago(10), days_ago(5), 2, 130.0)

    def test_an_order_without_any_rate_is_skipped_and_logged(self):
        customer = self._make_customer("Unconvertible At The Register")
        kept = self._make_pos_order(customer, 30.0, days_ago(5))
        skipped = self._make_pos_order(
            customer, 200.0, days_ago(10), session=self.other_session
        )
        self._break_rate(skipped, None)
        self.other_currency.rate_ids.unlink()
        summary = self._recompute_all()
        self.assertFigures(customer, days_ago(5), days_ago(5), 1, 30.0)
        run = self.env["customer.segmentation.run"].browse(summary["run_id"])
        self.assertEqual(
            run.log,
            f"1 order skipped: no exchange rate for {self.other_currency.name} "
            f"on {days_ago(10)} ({skipped.name})",
        )
        self.assertNotIn(kept.name, run.log)


@tagged("post_install", "-at_install")
class TestPosRevenue(PosMixin, SegmentationMixin, TransactionCase):
    """The performance report's revenue counts POS orders once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        [(today,)] = cls.env.execute_query(
            SQL("SELECT (now() AT TIME ZONE 'UTC')::date")
        )
        cls.startClassPatcher(
            freezegun.freeze_time(datetime.datetime.combine(today, datetime.time(12)))
        )
        cls._setup_segmentation_fixtures()
        cls._setup_pos()
        cls.today = today

    def test_revenue_counts_each_order_once(self):
        customer = self._make_customer("Report Shopper")
        self._make_pos_order(customer, 100.0, self.today, taxed=True)
        self._invoice(self._make_pos_order(customer, 50.0, self.today))
        Report = self.env["customer.segmentation.performance.report"]
        for source in SOURCES:
            with self.subTest(source=source):
                self._set_params(purchase_source=source)
                Report._refresh(self.env.company)
                revenue = Report.with_user(self.sales_manager)._read_group(
                    [("date", "=", self.today)], ["user_id"], ["revenue:sum"]
                )
                self.assertEqual(revenue, [(self.env.user, 150.0)])
