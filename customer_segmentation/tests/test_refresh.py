import datetime

from odoo import Command
from odoo.tests import tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestRefresh(SegmentationCase):
    """Orders and contacts queue their customer, without waiting for a
    recompute: the queue's scheduled action, woken by the change, classifies
    it within seconds (``_classify_queued`` here, as tests run no cron)."""

    def _queued(self, customer):
        return (
            self.env["customer.segmentation.queue"]
            .sudo()
            .search([("partner_id", "=", customer.id)])
        )

    def test_order_workflow_reclassifies_the_customer(self):
        customer = self._make_customer("Customer")
        order = self._make_order(customer, 100.0, days_ago(0), state="draft")
        self.assertSegments(customer, lifecycle="prospect", value=False)
        order.action_confirm()
        # the confirmation only queues its customer
        self.assertEqual(self._queued(customer).company_id, self.env.company)
        self.assertSegments(customer, lifecycle="prospect")
        self._classify_queued()
        self.assertFalse(self._queued(customer))
        self.assertSegments(customer, lifecycle="new")
        self.assertEqual(customer.last_order_date, days_ago(0))
        self.assertEqual(customer.rfm_frequency, 1)
        order.write(
            {"date_order": datetime.datetime.combine(days_ago(200), datetime.time(12))}
        )
        self._classify_queued()
        self.assertSegments(customer, lifecycle="at_risk")
        order._action_cancel()
        self._classify_queued()
        self.assertSegments(customer, lifecycle=False, value=False, rfm=False)
        self.assertFalse(customer.last_order_date)

    def test_confirmation_wakes_the_queue_unless_already_due(self):
        cron = self.env.ref("customer_segmentation.ir_cron_process_queue")
        Trigger = self.env["ir.cron.trigger"].sudo()
        first, second, third = (
            self._make_order(self._make_customer(name), 100.0, days_ago(0), "draft")
            for name in ("First", "Second", "Third")
        )
        self._classify_queued()
        Trigger.search([("cron_id", "=", cron.id)]).unlink()
        first.action_confirm()
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), 1)
        # the job is due on a waiting customer: it takes this one too
        second.action_confirm()
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), 1)
        # once the job took them, the next sale wakes it again (the pending
        # wake-up may be of the run that took them)
        self._classify_queued()
        third.action_confirm()
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), 2)

    def test_new_order_reclassifies_only_its_customer(self):
        # ten customers spending 100..1000: the run puts the high cut-off at 900
        others = self.env["res.partner"]
        for amount in range(100, 1001, 100):
            others |= self._make_customer(f"Spends {amount}")
            self._make_order(others[-1], amount, days_ago(20))
        self._recompute_all()
        before = self._snapshot(others)
        newcomer = self._make_customer("Newcomer")
        self._make_order(newcomer, 950.0, days_ago(1))
        self.assertSegments(newcomer, value="high", lifecycle="new")
        self.assertEqual(newcomer.rfm_monetary, 950.0)
        self.assertEqual(self._snapshot(others), before)

    def test_new_contact_shows_its_company_segments(self):
        company = self._make_customer("Company", is_company=True)
        self._make_order(company, 100.0, days_ago(200))
        self._recompute(company)
        contact = self._make_customer("New Contact", parent_id=company.id)
        self.assertEqual(
            self._snapshot(contact)[contact.id], self._snapshot(company)[company.id]
        )

    def test_moving_a_contact_moves_its_orders(self):
        old_company = self._make_customer("Old Company", is_company=True)
        new_company = self._make_customer("New Company", is_company=True)
        contact = self._make_customer("Moving Contact", parent_id=old_company.id)
        self._make_order(contact, 100.0, days_ago(10))
        self.assertSegments(old_company, lifecycle="new")
        contact.parent_id = new_company
        self._classify_queued()
        self.assertSegments(old_company, lifecycle=False)
        self.assertSegments(new_company, lifecycle="new")
        self.assertEqual(
            self._snapshot(contact)[contact.id],
            self._snapshot(new_company)[new_company.id],
        )

    def test_merging_partners_moves_their_orders(self):
        recent = self._make_customer("Recent Buyer", email="buyer@example.com")
        self._make_order(recent, 100.0, days_ago(10))
        old = self._make_customer("Old Buyer", email="buyer@example.com")
        self._make_order(old, 100.0, days_ago(400))
        self.assertSegments(old, lifecycle="churned")
        self.env["base.partner.merge.automatic.wizard"]._merge(
            (recent + old).ids, dst_partner=old
        )
        self._classify_queued()
        self.assertSegments(old, lifecycle="active")
        self.assertEqual(old.last_order_date, days_ago(10))

    def test_invalid_settings_do_not_block_sales(self):
        customer = self._make_customer("Customer")
        self._make_order(customer, 100.0, days_ago(10))
        before = self._snapshot(customer)
        self._force_param("churn_days", 10)
        with self.assertLogs(
            "odoo.addons.customer_segmentation.models.customer_segmentation_run",
            "WARNING",
        ):
            order = self._make_order(customer, 100.0, days_ago(0))
        self.assertEqual(order.state, "sale")
        self.assertEqual(self._snapshot(customer), before)


@tagged("post_install", "-at_install", "is_query_count")
class TestRefreshCost(SegmentationCase):
    """Queueing costs a few queries, whatever the number of orders confirmed
    together or of customers in the database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Quoted Customer {index}"} for index in range(41)]
        )
        cls.quotations = cls.env["sale.order"].create(
            [
                cls._order_values(customer, 100.0 + index)
                for index, customer in enumerate(cls.customers)
            ]
        )
        # thresholds of a first full run, as in production
        cls._make_confirmed_orders(cls.customers[:5], 500.0, days_ago(40))
        cls.env["res.partner"].recompute_all_segments()

    def _queries(self, function):
        self.env.flush_all()
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        function()
        self.env.flush_all()
        return self.cr.sql_log_count - start

    def test_refresh_costs_the_same_for_1_or_40_customers(self):
        self._queries(self.customers[40]._segmentation_refresh)  # warm caches
        one = self._queries(self.customers[:1]._segmentation_refresh)
        self.assertLessEqual(one, 5)
        self.env.invalidate_all()
        with self.assertQueryCount(one):
            self.customers[1:41]._segmentation_refresh()
            self.env.flush_all()

    def test_confirmation_adds_a_few_queries_also_in_batch(self):
        def extra_queries(orders):
            # the same confirmation, with and without the refresh
            skipped = orders[: len(orders) // 2]
            refreshed = orders[len(orders) // 2 :]
            without = self._queries(
                skipped.with_context(segmentation_skip_refresh=True).action_confirm
            )
            with_refresh = self._queries(refreshed.action_confirm)
            return with_refresh - without

        self._queries(self.quotations[40].action_confirm)  # warm caches
        single = extra_queries(self.quotations[:2])
        batch = extra_queries(self.quotations[2:40])
        self.assertLessEqual(single, 4)
        self.assertEqual(batch, single)
        self._classify_queued()
        self.assertTrue(
            all(c.segment_lifecycle_id for c in self.customers[21:40]),
            "the refreshed half is classified",
        )


@tagged("post_install", "-at_install")
class TestRefreshMatchesRecompute(SegmentationCase):
    def test_incremental_updates_equal_a_full_recompute(self):
        self._set_params(
            value_method="fixed", value_high_amount=500, value_medium_amount=100
        )
        company = self._make_customer("Company", is_company=True)
        contact = self._make_customer("Contact", parent_id=company.id)
        other = self._make_customer("Other", is_company=True)
        churned = self._make_customer("Churned")
        self._make_order(churned, 900.0, days_ago(500))
        self._make_order(other, 50.0, days_ago(100))
        self._recompute_all()
        # a day of business, each step refreshing its customer at once
        self._make_order(contact, 400.0, days_ago(3))
        self._make_order(churned, 200.0, days_ago(1))
        quotation = self._make_order(other, 80.0, days_ago(0), state="draft")
        quotation.action_confirm()
        cancelled = self._make_order(company, 999.0, days_ago(2))
        cancelled._action_cancel()
        contact.parent_id = other
        self._classify_queued()
        customers = company | contact | other | churned
        incremental = self._exact_fields(customers)
        self._recompute_all()
        self.assertEqual(self._exact_fields(customers), incremental)
        self.assertSegments(churned, lifecycle="active", value="medium")
        self.assertSegments(other, value="high")

    def _exact_fields(self, customers):
        """The fields a refresh gets exact: all but the population-relative
        RFM scores, which follow the latest run's thresholds until the next."""
        return {
            partner_id: {
                name: value
                for name, value in fields.items()
                if not name.endswith("_score") and name != "segment_rfm_id"
            }
            for partner_id, fields in self._snapshot(customers).items()
        }


@tagged("post_install", "-at_install")
class TestRefreshOrderLines(SegmentationCase):
    def test_editing_a_confirmed_order_updates_its_customer(self):
        self._set_params(
            value_method="fixed", value_high_amount=500, value_medium_amount=100
        )
        customer = self._make_customer("Upsold Customer")
        order = self._make_order(customer, 50.0, days_ago(5))
        self.assertSegments(customer, value="low")
        order.order_line.write({"product_uom_qty": 4, "price_unit": 50.0})
        self._classify_queued()
        self.assertEqual(customer.rfm_monetary, 200.0)
        self.assertSegments(customer, value="medium")
        order.write(
            {
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "price_unit": 400.0,
                            "tax_id": False,
                        }
                    )
                ]
            }
        )
        self._classify_queued()
        self.assertEqual(customer.rfm_monetary, 600.0)
        self.assertSegments(customer, value="high")
