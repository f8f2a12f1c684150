"""A company that counts posted customer invoices as its purchases.

The invoices are made the way Odoo makes them (``account.move`` with
``invoice_line_ids``, posted), in the chart of accounts that the ``account``
module installs on the company of a new database.
"""

import datetime

from odoo import Command
from odoo.tests import tagged

from .common import TODAY, SegmentationCase, days_ago


def days_later(days):
    return TODAY + datetime.timedelta(days=days)


class InvoiceMixin:
    @classmethod
    def _make_invoice(
        cls,
        partner,
        amount,
        date,
        move_type="out_invoice",
        currency=None,
        state="posted",
    ):
        """A customer invoice (or credit note, ``move_type='out_refund'``) of
        one untaxed line of ``amount`` dated ``date``, in ``state``: 'posted',
        'draft' or 'cancel'."""
        move = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner.id,
                "invoice_date": date,
                "currency_id": (currency or cls.company_currency).id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product.id,
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        if state in ("posted", "cancel"):
            move.action_post()
        if state == "cancel":
            move.button_cancel()
        cls._classify_queued()
        return move

    @classmethod
    def _invoice_order(cls, order, date):
        """Invoice the whole of ``order`` on ``date`` and post the invoice."""
        invoice = order._create_invoices()
        invoice.invoice_date = date
        invoice.action_post()
        cls._classify_queued()
        return invoice

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


@tagged("post_install", "-at_install")
class TestInvoiceSource(InvoiceMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._set_params(purchase_source="invoice")

    def test_posted_invoices_are_purchases(self):
        customer = self._make_customer("Invoiced Customer")
        self._make_invoice(customer, 100.0, days_ago(200))
        self._make_invoice(customer, 50.0, days_ago(20))
        # 200 in the other currency: 100 in the company currency
        foreign = self._make_invoice(
            customer, 200.0, days_ago(10), currency=self.other_currency
        )
        self.assertEqual(foreign.amount_untaxed_signed, 100.0)
        self.assertFigures(customer, days_ago(200), days_ago(10), 3, 250.0)
        self.assertSegments(customer, lifecycle="active")
        # a purchase older than the look-back window dates the customer but
        # adds no frequency or amount
        self._make_invoice(customer, 1000.0, days_ago(400))
        self.assertFigures(customer, days_ago(400), days_ago(10), 3, 250.0)

    def test_contacts_invoices_count_for_their_company(self):
        company = self._make_customer("Invoiced Company", is_company=True)
        contact = self._make_customer("Invoiced Contact", parent_id=company.id)
        self._make_invoice(contact, 80.0, days_ago(5))
        self.assertFigures(company, days_ago(5), days_ago(5), 1, 80.0)
        self.assertSegments(contact, lifecycle="new")

    def test_credit_notes_take_amounts_back_without_being_purchases(self):
        customer = self._make_customer("Partly Refunded")
        self._make_invoice(customer, 300.0, days_ago(30))
        self._make_invoice(customer, 100.0, days_ago(10), move_type="out_refund")
        self.assertFigures(customer, days_ago(30), days_ago(30), 1, 200.0)
        self.assertSegments(customer, lifecycle="new")
        refund_only = self._make_customer("Only A Credit Note")
        self._make_invoice(refund_only, 100.0, days_ago(10), move_type="out_refund")
        self.assertFigures(refund_only, False, False, 0, -100.0)
        self.assertSegments(refund_only, lifecycle=False, value=False, rfm=False)

    def test_a_credit_note_dated_later_makes_no_prospect(self):
        customer = self._make_customer("Credit Note Next Month")
        self._make_invoice(customer, 100.0, days_later(30), move_type="out_refund")
        self._recompute_all()
        self.assertSegments(customer, lifecycle=False)
        invoiced_later = self._make_customer("Invoice Next Month")
        self._make_invoice(invoiced_later, 100.0, days_later(30))
        self.assertFigures(invoiced_later, False, False, 0, 0.0)
        self.assertSegments(invoiced_later, lifecycle="prospect")

    def test_draft_and_cancelled_invoices_do_not_count(self):
        customer = self._make_customer("Unposted Invoices")
        self._make_invoice(customer, 100.0, days_ago(10), state="draft")
        self._make_invoice(customer, 100.0, days_ago(10), state="cancel")
        self._make_invoice(
            customer, 100.0, days_ago(10), move_type="out_refund", state="draft"
        )
        self._recompute_all()
        self.assertFigures(customer, False, False, 0, 0.0)
        self.assertSegments(customer, lifecycle=False, value=False, rfm=False)

    def test_vendor_bills_do_not_count(self):
        supplier = self._make_customer("Supplier")
        self._make_invoice(supplier, 100.0, days_ago(10), move_type="in_invoice")
        self._recompute_all()
        self.assertFigures(supplier, False, False, 0, 0.0)

    def test_an_order_not_invoiced_yet_only_makes_a_prospect(self):
        customer = self._make_customer("Confirmed Not Invoiced")
        self._make_order(customer, 500.0, days_ago(10))
        self.assertFigures(customer, False, False, 0, 0.0)
        self.assertSegments(customer, lifecycle="prospect", value=False, rfm=False)

    def test_an_invoiced_order_counts_once_by_its_invoice(self):
        customer = self._make_customer("Ordered Then Invoiced")
        order = self._make_order(customer, 100.0, days_ago(30))
        self._invoice_order(order, days_ago(10))
        # dated by the invoice, counted once
        self.assertFigures(customer, days_ago(10), days_ago(10), 1, 100.0)
        self._recompute_all()
        self.assertFigures(customer, days_ago(10), days_ago(10), 1, 100.0)
        self.assertSegments(customer, lifecycle="new")

    def test_an_order_invoiced_to_another_customer_is_no_prospect_signal(self):
        subsidiary = self._make_customer("Subsidiary", is_company=True)
        parent = self._make_customer("Paying Parent", is_company=True)
        order = self.env["sale.order"].create(
            {
                **self._order_values(subsidiary, 100.0),
                "partner_invoice_id": parent.id,
            }
        )
        order.action_confirm()
        self._classify_queued()
        self.assertSegments(subsidiary, lifecycle="prospect")
        self._invoice_order(order, days_ago(1))
        # the order is done: the parent bought, the subsidiary waits for nothing
        for classify in (lambda: None, self._recompute_all):
            classify()
            self.assertFigures(parent, days_ago(1), days_ago(1), 1, 100.0)
            self.assertSegments(subsidiary, lifecycle=False)

    def test_switching_the_source_and_recomputing(self):
        invoiced = self._make_customer("Ordered And Invoiced")
        order = self._make_order(invoiced, 100.0, days_ago(30))
        self._invoice_order(order, days_ago(10))
        invoice_only = self._make_customer("Invoice Without Order")
        self._make_invoice(invoice_only, 70.0, days_ago(5))
        order_only = self._make_customer("Order Without Invoice")
        self._make_order(order_only, 40.0, days_ago(3))
        by_invoice = {
            invoiced: (days_ago(10), days_ago(10), 1, 100.0),
            invoice_only: (days_ago(5), days_ago(5), 1, 70.0),
            order_only: (False, False, 0, 0.0),
        }
        by_order = {
            invoiced: (days_ago(30), days_ago(30), 1, 100.0),
            invoice_only: (False, False, 0, 0.0),
            order_only: (days_ago(3), days_ago(3), 1, 40.0),
        }
        for source, expected, lifecycles in (
            ("invoice", by_invoice, ("new", "new", "prospect")),
            ("sale", by_order, ("new", False, "new")),
            ("invoice", by_invoice, ("new", "new", "prospect")),
        ):
            self._set_params(purchase_source=source)
            self._recompute_all()
            for (customer, figures), lifecycle in zip(
                expected.items(), lifecycles, strict=True
            ):
                with self.subTest(source=source, customer=customer.name):
                    self.assertFigures(customer, *figures)
                    self.assertSegments(customer, lifecycle=lifecycle)

    def test_posting_an_invoice_queues_its_customer(self):
        Queue = self.env["customer.segmentation.queue"]
        company = self._make_customer("Queued Company", is_company=True)
        contact = self._make_customer("Queued Contact", parent_id=company.id)
        self._classify_queued()
        invoice = self._make_invoice(contact, 100.0, days_ago(1), state="draft")
        invoice.action_post()
        self.assertEqual(
            Queue.search([]).mapped(lambda row: (row.partner_id, row.company_id)),
            [(company, self.env.company)],
        )
        self._classify_queued()
        self.assertFigures(company, days_ago(1), days_ago(1), 1, 100.0)
        invoice.button_draft()
        self.assertEqual(Queue.search([]).partner_id, company)
        self._classify_queued()
        self.assertFigures(company, False, False, 0, 0.0)


@tagged("post_install", "-at_install")
class TestSaleSourceIgnoresInvoices(InvoiceMixin, SegmentationCase):
    """The default source: confirmed sale orders, whatever is invoiced."""

    def test_an_invoiced_order_counts_once_by_its_order(self):
        customer = self._make_customer("Ordered And Invoiced")
        order = self._make_order(customer, 100.0, days_ago(30))
        self._invoice_order(order, days_ago(10))
        self._recompute_all()
        self.assertFigures(customer, days_ago(30), days_ago(30), 1, 100.0)
        self.assertSegments(customer, lifecycle="new")

    def test_invoices_are_no_purchases_and_queue_nobody(self):
        customer = self._make_customer("Invoiced Without Order")
        self._make_invoice(customer, 100.0, days_ago(10), state="draft").action_post()
        self.assertFalse(self.env["customer.segmentation.queue"].search([]))
        self._recompute_all()
        self.assertFigures(customer, False, False, 0, 0.0)
        self.assertSegments(customer, lifecycle=False, value=False)
