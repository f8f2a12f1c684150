"""Shared fixtures of the customer_segmentation tests.

Every test class builds its own customers and orders; nothing relies on demo
data. Time is frozen at ``NOW`` (noon UTC, so the calendar day is the same in
any timezone a user might have) and orders are dated relative to ``TODAY``:
the module takes "today" from Python (``fields.Date.context_today``) while
PostgreSQL's clock is not frozen.
"""

import datetime

from odoo import Command
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import SQL

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT
from odoo.addons.customer_segmentation.models.res_partner import STORED_FIELDS
from odoo.addons.customer_segmentation.models.segmentation_params import (
    FIELD_PREFIX,
    PARAMS,
)

# How settings are named in messages: the company field of the setting.
PARAM_PREFIX = FIELD_PREFIX

TODAY = datetime.date(2026, 6, 15)
NOW = "2026-06-15 12:00:00"


# 1 unit of the company currency is worth OTHER_CURRENCY_RATE units of the
# second currency: an order of 200 in it counts as 100 in the company currency.
OTHER_CURRENCY_RATE = 2.0

SEGMENTATION_FIELDS = STORED_FIELDS

DIMENSIONS = ("value", "lifecycle", "rfm")

# Ten customers whose recency and frequency scores fall in each of the ten
# RFM segments, named after them: {name: (days ago of each purchase, amount
# of each purchase)}. Their scores are worked out in test_rfm.py.
RFM_POPULATION = {
    "hibernating": ((300, 310), 50.0),
    "at_risk": ((250, 260, 270, 280), 100.0),
    "cant_lose": ((200, 210, 220, 230, 240), 200.0),
    "about_to_sleep": ((100, 110), 100.0),
    "need_attention": ((100, 110, 120), 100.0),
    "promising": ((50,), 50.0),
    "loyal": ((50, 60, 70, 80), 200.0),
    "new": ((5,), 50.0),
    "potential_loyalist": ((5, 15, 25), 100.0),
    "champions": ((5, 15, 25, 35, 45), 400.0),
}


def days_ago(days):
    """The date ``days`` days before the frozen ``TODAY``."""
    return TODAY - datetime.timedelta(days=days)


class SegmentationMixin:
    """Fixtures and helpers shared by the TransactionCase and HttpCase tests.

    Call ``_setup_segmentation_fixtures()`` from ``setUpClass``.
    """

    @classmethod
    def _start_without_strategies(cls):
        """Fixed value tiers, no segment strategy, and every customer already
        in the database classified and managed, so a test's counters count
        its own data only."""
        cls._set_params(value_method="fixed")
        cls.env["customer.segment"].with_context(active_test=False).search([]).write(
            NO_STRATEGY
        )
        cls.env["res.partner"].recompute_all_segments()
        cls.env["res.partner"].apply_segment_strategies()

    @classmethod
    def _segmentation_baseline(cls):
        today = cls.env.cr.now().date()
        return cls.env["customer.segmentation.run"].create(
            {"trigger": "manual", "state": "done", "date": today}
        )

    @classmethod
    def _setup_segmentation_fixtures(cls):
        cls.env = cls.env(context=dict(cls.env.context, **DISABLED_MAIL_CONTEXT))
        cls._isolate_from_existing_orders()
        cls._setup_currencies()
        cls.product = cls.env["product.product"].create(
            {
                "name": "Segmentation Test Service",
                "type": "service",
                "list_price": 1.0,
                "taxes_id": [Command.clear()],
            }
        )
        cls.salesman = new_test_user(
            cls.env,
            "cs_salesman",
            groups="sales_team.group_sale_salesman",
            password="cs-salesman-pwd-1",
        )
        cls.sales_manager = new_test_user(
            cls.env,
            "cs_sales_manager",
            groups="sales_team.group_sale_manager",
            password="cs-sales-manager-pwd-1",
        )
        cls.internal_user = new_test_user(
            cls.env,
            "cs_internal",
            groups="base.group_user",
            password="cs-internal-pwd-1",
        )
        # A live database has had its baseline run: from then on the rules'
        # changes are logged (see test_history for the baseline itself).
        cls._segmentation_baseline()

    @classmethod
    def _isolate_from_existing_orders(cls):
        # Value tiers and RFM scores rank every customer with a purchase, so
        # only this suite's orders may count, even on a database with demo data.
        cls.env["sale.order"].search([("state", "!=", "cancel")]).write(
            {"state": "cancel"}
        )

    @classmethod
    def _setup_currencies(cls):
        cls.company_currency = cls.env.company.currency_id
        code = "USD" if cls.company_currency.name == "EUR" else "EUR"
        cls.other_currency = (
            cls.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        (cls.company_currency + cls.other_currency).rate_ids.unlink()
        cls.other_currency.write(
            {
                "active": True,
                "rate_ids": [
                    Command.create(
                        {
                            "name": "2000-01-01",
                            "rate": OTHER_CURRENCY_RATE,
                            "company_id": cls.env.company.id,
                        }
                    )
                ],
            }
        )
        cls.other_pricelist = cls.env["product.pricelist"].create(
            {"name": f"Segmentation Test {code}", "currency_id": cls.other_currency.id}
        )

    # ------------------------------------------------------------------
    # Data
    # ------------------------------------------------------------------

    @classmethod
    def _make_customer(cls, name, **values):
        return cls.env["res.partner"].create({"name": name, **values})

    @classmethod
    def _order_values(cls, partner, amount, currency=None):
        values = {
            "partner_id": partner.id,
            "order_line": [
                Command.create(
                    {
                        "product_id": cls.product.id,
                        "product_uom_qty": 1,
                        "price_unit": amount,
                        "tax_id": False,
                    }
                )
            ],
        }
        if currency and currency != cls.company_currency:
            assert currency == cls.other_currency, "only one other currency is set up"
            values["pricelist_id"] = cls.other_pricelist.id
        return values

    @classmethod
    def _make_order(
        cls, partner, amount, date, state="sale", currency=None, classify=True
    ):
        """A sale order of one untaxed line of ``amount`` dated ``date`` (a
        date means noon UTC that day, a datetime is taken as UTC), in
        ``state``: 'sale' (confirmed), 'cancel' (confirmed, then cancelled),
        'draft' or 'sent' (quotations)."""
        order = cls.env["sale.order"].create(
            cls._order_values(partner, amount, currency)
        )
        if state in ("sale", "cancel"):
            order.action_confirm()
        if state == "cancel":
            order._action_cancel()
        elif state == "sent":
            order.write({"state": "sent"})
        # action_confirm() dates the order now: date it afterwards.
        if not isinstance(date, datetime.datetime):
            date = datetime.datetime.combine(date, datetime.time(12))
        order.write({"date_order": date})
        if classify:
            cls._classify_queued()
        return order

    @classmethod
    def _classify_queued(cls):
        """Classify the customers whose purchases changed, as the queue's
        scheduled action does within seconds of an order (tests do not run
        crons)."""
        cls.env["customer.segmentation.queue"].sudo()._process()

    @classmethod
    def _make_rfm_population(cls):
        """``{name: customer}`` for ``RFM_POPULATION``."""
        customers = {}
        for name, (ages, amount) in RFM_POPULATION.items():
            customers[name] = cls._make_customer(f"RFM {name}")
            for age in ages:
                cls._make_order(customers[name], amount, days_ago(age))
        return customers

    @classmethod
    def _make_confirmed_orders(cls, partners, amount, date):
        """One confirmed order per partner, created in a single batch (for
        data volume; ``_make_order`` is the way a user confirms orders)."""
        date_order = datetime.datetime.combine(date, datetime.time(12))
        orders = cls.env["sale.order"].create(
            [
                {
                    **cls._order_values(partner, amount),
                    "state": "sale",
                    "date_order": date_order,
                }
                for partner in partners
            ]
        )
        cls._classify_queued()
        return orders

    @classmethod
    def _set_params(cls, company=None, **values):
        """Store settings of ``company`` (default: the current one) as the
        settings form does, e.g. ``_set_params(new_days=30)``; None restores
        the default."""
        company = (company or cls.env.company).sudo()
        company.write(
            {
                FIELD_PREFIX + key: PARAMS[key].default if value is None else value
                for key, value in values.items()
            }
        )

    @classmethod
    def _force_param(cls, key, value, company=None):
        """Store a setting behind the ORM's back, as a bad import or an old
        database could have it."""
        company = company or cls.env.company
        cls.env.flush_all()
        cls.env.cr.execute(
            SQL(
                "UPDATE res_company SET %s = %s WHERE id = %s",
                SQL.identifier(FIELD_PREFIX + key),
                value,
                company.id,
            )
        )
        company.invalidate_recordset()

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _recompute(self, partners, user=None):
        """Recompute ``partners`` as a salesman would, from the Action menu."""
        return partners.with_user(user or self.salesman).action_recompute_segments()

    def _recompute_all(self, user=None):
        return (
            self.env["res.partner"]
            .with_user(user or self.sales_manager)
            .recompute_all_segments()
        )

    def _run_reports_job(self):
        """The job a full recompute wakes as it ends (the overview's figures
        of the day, Staff Performance), run as the cron would, after checking
        that it was woken."""
        cron = self.env.ref("customer_segmentation.ir_cron_refresh_reports")
        triggers = (
            self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)])
        )
        self.assertTrue(triggers, "the ending run wakes the reports' job")
        triggers.unlink()
        self.env["customer.segmentation.run"]._cron_refresh_reports()

    # ------------------------------------------------------------------
    # Inspection
    # ------------------------------------------------------------------

    def _segment(self, dimension, code):
        return self.env.ref(f"customer_segmentation.segment_{dimension}_{code}")

    def _segment_codes(self, partner):
        """``{dimension: code or False}``; a segment of the wrong dimension
        shows as ``'<dimension>:<code>'`` so that it never looks right."""
        codes = {}
        for dimension in DIMENSIONS:
            segment = partner[f"segment_{dimension}_id"]
            if not segment:
                codes[dimension] = False
            elif segment.dimension != dimension:
                codes[dimension] = f"{segment.dimension}:{segment.code}"
            else:
                codes[dimension] = segment.code
        return codes

    def assertSegments(self, partner, **expected):
        """``assertSegments(partner, lifecycle='new', value=False)`` checks the
        given dimensions only."""
        codes = self._segment_codes(partner)
        self.assertEqual(
            {dimension: codes[dimension] for dimension in expected},
            expected,
            f"segments of {partner.name}",
        )

    def _snapshot(self, partners):
        """The segmentation fields of ``partners``, comparable with ==."""
        return {
            partner.id: {
                name: partner[name].id if name.startswith("segment_") else partner[name]
                for name in SEGMENTATION_FIELDS
            }
            for partner in partners
        }

    def _commercial_partner_count(self):
        """Commercial entities of the whole database, archived ones included."""
        partners = self.env["res.partner"].with_context(active_test=False).search([])
        return len(partners.filtered(lambda p: p.commercial_partner_id == p))


# No segment manages anyone until a test says so.
NO_STRATEGY = {
    "manager_policy": "keep",
    "manager_team_id": False,
    "followup_days": 0,
    "followup_activity_type_id": False,
    "followup_summary": False,
    "pricelist_id": False,
    "partner_tag_ids": [Command.clear()],
}


def noon(days_later):
    """Noon UTC ``days_later`` days after the frozen ``TODAY``."""
    day = TODAY + datetime.timedelta(days=days_later)
    return datetime.datetime.combine(day, datetime.time(12))


class SegmentationCase(SegmentationMixin, TransactionCase):
    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
