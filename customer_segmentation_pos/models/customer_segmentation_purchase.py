from odoo import api, models
from odoo.tools import SQL

from odoo.addons.customer_segmentation.models.customer_segmentation_purchase import (
    company_amount,
    company_condition,
    customers_condition,
    day_after,
    fallback_rates,
    unusable_rate,
    usable_rate,
)

# States of a POS order that was paid (then posted with its session, or
# invoiced).
PAID_STATES = ("paid", "done", "invoiced")
# Paid orders whose own currency_rate converts nothing (imports, broken
# integrations): few, so indexed apart to be read without a scan.
UNUSABLE_RATE_INDEX = "pos_order_segmentation_unusable_rate_index"


class CustomerSegmentationPurchase(models.AbstractModel):
    """Paid Point of Sale orders are purchases too, whatever the company's
    purchase source, each counted once:

    - with the ``sale`` source, invoices are no purchases: every paid order
      counts, invoiced or not;
    - with the ``invoice`` source, an invoiced order counts through its
      invoice: only the orders without invoice are read here.
    """

    _inherit = "customer.segmentation.purchase"

    def init(self):
        res = super().init()
        self.env.cr.execute(
            SQL(
                """CREATE INDEX IF NOT EXISTS %s ON pos_order (partner_id)
                    WHERE state IN %s AND %s""",
                SQL.identifier(UNUSABLE_RATE_INDEX),
                PAID_STATES,
                unusable_rate(SQL.identifier("currency_rate")),
            )
        )
        return res

    @api.model
    def _sources(self, company):
        return [*super()._sources(company), self._pos_orders]

    @api.model
    def _unconverted(self, company, day):
        return [
            *super()._unconverted(company, day),
            SQL(
                """SELECT o.order_id, o.reference, o.currency_id, o.date
                     FROM (%s) o WHERE NOT o.pending AND o.rate IS NULL""",
                self._pos_orders_without_rate(company, day),
            ),
        ]

    @api.model
    def _pos_orders(self, company, day, since=None, customers=None):
        """Paid POS orders of customers as purchases: the rows of
        ``_query_orders``.

        An order is dated by the UTC day of its order date, its untaxed
        amount (total less taxes) converted to the company currency as a sale
        order's is: by its ``currency_rate`` or, when that rate is unusable,
        the company's rate of its day; an order with neither is skipped (the
        run logs it). A refund (a negative order) takes its amount back
        without being a purchase. An order dated later is pending; a refund
        dated later is not read.
        """
        own_rate = self._pos_order_rows(
            company,
            SQL("po.currency_rate"),
            SQL("NULL::int"),
            SQL(),
            usable_rate(SQL("po.currency_rate")),
            day,
            since,
            customers,
        )
        return SQL(
            """
            SELECT 'pos'::varchar AS source, o.order_id, o.customer_id,
                   o.company_id, o.user_id, o.date,
                   CASE WHEN NOT o.pending THEN %s END AS amount,
                   o.purchase, o.pending
              FROM (%s UNION ALL %s) o
             -- skipped: an order of the day or before without rate
             WHERE o.rate IS NOT NULL OR o.pending
            """,
            company_amount(SQL("o.amount_untaxed"), SQL("o.rate")),
            own_rate,
            self._pos_orders_without_rate(company, day, since, customers),
        )

    @api.model
    def _pos_orders_without_rate(self, company, day, since=None, customers=None):
        """Paid orders whose own ``currency_rate`` is unusable, with their
        currency and the company's rate of their day as ``rate`` (NULL when
        there is none)."""
        unusable = unusable_rate(SQL("po.currency_rate"))
        currency, currency_joins = _pos_currency()
        orders = SQL(
            """SELECT po.id, po.company_id, %s AS currency_id,
                      po.date_order::date AS date
                 FROM pos_order po %s WHERE po.state IN %s AND %s""",
            currency,
            currency_joins,
            PAID_STATES,
            unusable,
        )
        return self._pos_order_rows(
            company,
            SQL("fallback.rate"),
            currency,
            SQL(
                "%s LEFT JOIN %s fallback ON fallback.order_id = po.id",
                currency_joins,
                fallback_rates(orders),
            ),
            unusable,
            day,
            since,
            customers,
        )

    @api.model
    def _pos_order_rows(
        self, company, rate, currency, joins, condition, day, since, customers
    ):
        day_end = day_after(day)
        conditions = [
            condition,
            SQL("po.state IN %s", PAID_STATES),
            _counted_here(company),
            # a refund dated later takes nothing back yet
            SQL("(po.amount_total >= 0 OR po.date_order < %s)", day_end),
        ]
        if company is not None:
            conditions.append(SQL("po.company_id = %s", company.id))
        if since is not None:
            conditions.append(SQL("po.date_order >= %s::date", since))
        return SQL(
            """
            SELECT po.id AS order_id, po.name AS reference,
                   p.commercial_partner_id AS customer_id, po.company_id,
                   po.user_id, %(currency)s AS currency_id,
                   po.date_order::date AS date,
                   po.amount_total - po.amount_tax AS amount_untaxed,
                   %(rate)s AS rate,
                   po.amount_total >= 0 AND po.date_order < %(day_end)s
                       AS purchase,
                   po.amount_total >= 0 AND po.date_order >= %(day_end)s
                       AS pending
              FROM pos_order po
              JOIN res_partner p ON p.id = po.partner_id
              %(joins)s
             WHERE %(conditions)s %(customers)s
            """,
            currency=currency,
            rate=rate,
            day_end=day_end,
            joins=joins,
            conditions=SQL(" AND ").join(conditions),
            customers=customers_condition(customers),
        )


def _counted_here(company):
    """SQL: the POS order ``po`` is not counted through an invoice, which it
    is in companies whose purchases are invoices (``company``, or each
    order's company when None)."""
    if company is None:
        return SQL(
            "(po.account_move IS NULL OR %s)",
            company_condition(SQL("po.company_id"), None, "sale"),
        )
    if company.sudo().segmentation_purchase_source == "invoice":
        return SQL("po.account_move IS NULL")
    return SQL("true")


def _pos_currency():
    """``(currency, joins)``: SQL of the currency of the POS order ``po``
    and the joins it reads, as ``pos.config.currency_id`` computes it (not
    stored): its sales journal's currency, else that journal's company's,
    else the point of sale's company's."""
    joins = SQL(
        """
        LEFT JOIN pos_config pc ON pc.id = po.config_id
        LEFT JOIN res_company pcc ON pcc.id = pc.company_id
        LEFT JOIN account_journal pj ON pj.id = pc.journal_id
        LEFT JOIN res_company pjc ON pjc.id = pj.company_id
        """
    )
    return SQL("COALESCE(pj.currency_id, pjc.currency_id, pcc.currency_id)"), joins
