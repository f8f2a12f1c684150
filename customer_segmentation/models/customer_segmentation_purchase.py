from odoo import api, models
from odoo.tools import SQL

# Orders of one currency and day listed by name in a line of a run's log.
LOGGED_REFERENCES = 5
# Lines of a run's log about skipped orders; the rest is summed up.
LOGGED_GROUPS = 50
# An order's own currency_rate converts its amount when positive and finite
# (NaN sorts above infinity), and the two conditions split the orders. Plain
# comparisons, so that PostgreSQL estimates from the column's statistics how
# few orders have no usable rate.
USABLE_RATE = SQL("so.currency_rate > 0 AND so.currency_rate < 'Infinity'::numeric")
UNUSABLE_RATE = SQL(
    "(so.currency_rate IS NULL OR so.currency_rate <= 0"
    " OR so.currency_rate >= 'Infinity'::numeric)"
)


class CustomerSegmentationPurchase(models.AbstractModel):
    """What the figures are computed from: the purchases of each customer.

    A purchase is a confirmed sale order dated (UTC day of ``date_order``) on
    or before the classification day, with its untaxed amount in the company
    currency: divided by the order's ``currency_rate`` or, when that rate is
    missing, zero or not finite, by the rate of the order's currency to the
    company's on the order's day. An order with neither is skipped (the run
    logs it), never summed unconverted. An order dated after the day is not a
    purchase yet: like an open quotation, it makes its customer a prospect.

    Every figure (dates, frequency, monetary, thresholds, churn, the
    performance report) reads purchases here. Sale orders are the only source
    today; other sources (invoices, point of sale) are to be read here too,
    with the same columns.
    """

    _name = "customer.segmentation.purchase"
    _description = "Customer Segmentation Purchases"

    @api.model
    def _query(self, day, since=None, customers=None):
        """SQL selecting the purchases dated from ``since`` to ``day``.

        :param day: the classification day, a date or an SQL date expression
        :param since: first day, or None for the whole history
        :param customers: SQL selecting the ids of the commercial partners to
            read, or None for all
        :return: SQL with the columns ``order_id``, ``customer_id`` (commercial
            partner), ``company_id``, ``user_id`` (salesperson), ``date`` and
            ``amount`` (untaxed, in the company currency)
        """
        return SQL(
            """
            SELECT o.order_id, o.customer_id, o.company_id, o.user_id, o.date,
                   o.amount_untaxed / o.rate AS amount
              FROM (%s) o
             WHERE o.rate IS NOT NULL
            """,
            self._sale_orders(day, since, customers),
        )

    @api.model
    def _query_pending(self, day):
        """SQL selecting the customers (column ``customer_id``) of the orders
        that are not purchases yet: open quotations, and confirmed orders
        dated after ``day``. A customer without purchase but with one of them
        is a prospect."""
        return SQL(
            """
            SELECT p.commercial_partner_id AS customer_id
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state IN ('draft', 'sent')
                OR (so.state = 'sale' AND so.date_order >= %s)
            """,
            _day_after(day),
        )

    @api.model
    def _skipped(self, day):
        """Confirmed orders dated up to ``day`` that no rate converts.

        :return: ``[(currency name, date, count, first references)]`` per
            currency and day, oldest first
        """
        return self.env.execute_query(
            SQL(
                """
            SELECT cur.name, o.date, count(*),
                   (array_agg(o.reference ORDER BY o.order_id))[1:%(shown)s]
              FROM (%(orders)s) o
              LEFT JOIN res_currency cur ON cur.id = o.currency_id
             WHERE o.rate IS NULL
          GROUP BY cur.name, o.date
          ORDER BY o.date, cur.name
                """,
                orders=self._sale_orders_without_rate(day),
                shown=LOGGED_REFERENCES,
            )
        )

    @api.model
    def _skipped_log(self, day):
        """Lines telling which orders dated up to ``day`` are skipped for want
        of an exchange rate, or False when none is."""
        _ = self.env._
        groups = self._skipped(day)
        lines = []
        for currency, date, count, references in groups[:LOGGED_GROUPS]:
            more = ", …" if count > len(references) else ""
            values = {
                "count": count,
                "currency": currency or _("no currency"),
                "date": date,
                "orders": ", ".join(references) + more,
            }
            if count == 1:
                line = _(
                    "1 order skipped: no exchange rate for %(currency)s on "
                    "%(date)s (%(orders)s)",
                    **values,
                )
            else:
                line = _(
                    "%(count)s orders skipped: no exchange rate for %(currency)s "
                    "on %(date)s (%(orders)s)",
                    **values,
                )
            lines.append(line)
        if len(groups) > LOGGED_GROUPS:
            lines.append(
                _(
                    "%(count)s more orders skipped on other days.",
                    count=sum(row[2] for row in groups[LOGGED_GROUPS:]),
                )
            )
        return "\n".join(lines) or False

    # ------------------------------------------------------------------
    # Sale orders
    # ------------------------------------------------------------------

    @api.model
    def _sale_orders(self, day, since=None, customers=None):
        """Confirmed sale orders dated from ``since`` to ``day``, each with the
        rate of its currency to the company's (``rate``, NULL when there is
        none), untaxed amount, name (``reference``) and currency."""
        return SQL(
            "%s UNION ALL %s",
            self._sale_order_rows(
                SQL("so.currency_rate"), SQL(), USABLE_RATE, day, since, customers
            ),
            self._sale_orders_without_rate(day, since, customers),
        )

    @api.model
    def _sale_orders_without_rate(self, day, since=None, customers=None):
        """``_sale_orders`` whose own ``currency_rate`` is not usable: their
        rate is the company's of their day, or NULL."""
        rate, joins = _company_rate()
        return self._sale_order_rows(rate, joins, UNUSABLE_RATE, day, since, customers)

    @api.model
    def _sale_order_rows(self, rate, joins, rate_condition, day, since, customers):
        # Two statements rather than one CASE: PostgreSQL would cost the rate
        # lookups for every order, and then spend seconds compiling the query
        # (JIT) for lookups that few orders, if any, need.
        conditions = [rate_condition, SQL("so.date_order < %s", _day_after(day))]
        if since is not None:
            conditions.append(SQL("so.date_order >= %s::date", since))
        if customers is not None:
            conditions.append(SQL("p.commercial_partner_id IN (%s)", customers))
        return SQL(
            """
            SELECT so.id AS order_id, so.name AS reference,
                   p.commercial_partner_id AS customer_id, so.company_id,
                   so.user_id, so.currency_id, so.date_order::date AS date,
                   so.amount_untaxed, %(rate)s AS rate
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
              %(joins)s
             WHERE so.state = 'sale' AND %(conditions)s
            """,
            rate=rate,
            joins=joins,
            conditions=SQL(" AND ").join(conditions),
        )


def _day_after(day):
    """The first instant after ``day`` (a date or an SQL date expression), for
    comparisons with UTC timestamps such as ``date_order``."""
    return SQL("(%s::date + 1)", day)


def _company_rate():
    """``(rate, joins)``: SQL of how many units of the order's currency one
    unit of its company's currency was worth on the order's day, and the
    joins of ``sale_order so`` it reads, as ``res.currency._get_conversion_rate``
    computes an order's ``currency_rate``: 1 in the company currency, else the
    ratio of both currencies' rates, each the latest on or before that day,
    the company's own rates before the shared ones. NULL when the order's
    currency has no such rate. The company currency without a rate counts as
    the reference (Odoo takes its first rate, or 1)."""
    day = SQL("AND r.name <= so.date_order::date")
    joins = SQL(
        """
        JOIN res_company co ON co.id = so.company_id
        LEFT JOIN LATERAL %(order_rate)s order_rate ON true
        LEFT JOIN LATERAL %(company_rate)s company_rate ON true
        LEFT JOIN LATERAL %(first_rate)s first_rate ON true
        """,
        order_rate=_rate(SQL("so.currency_id"), day, SQL("DESC")),
        company_rate=_rate(SQL("co.currency_id"), day, SQL("DESC")),
        first_rate=_rate(SQL("co.currency_id"), SQL(), SQL("ASC")),
    )
    rate = SQL(
        """CASE WHEN so.currency_id = co.currency_id THEN 1::numeric
                ELSE order_rate.rate
                     / COALESCE(company_rate.rate, first_rate.rate, 1) END"""
    )
    return rate, joins


def _rate(currency, dates, direction):
    """SQL of the ``res.currency.rate`` of ``currency`` for the root company
    of ``co`` (its own, else a shared one), the first by date in
    ``direction``, as a subquery with the column ``rate``."""
    return SQL(
        """
        (SELECT r.rate FROM res_currency_rate r
          WHERE r.currency_id = %(currency)s
            AND (r.company_id = split_part(co.parent_path, '/', 1)::int
                 OR r.company_id IS NULL) %(dates)s
       ORDER BY r.company_id NULLS LAST, r.name %(direction)s
          LIMIT 1)
        """,
        currency=currency,
        dates=dates,
        direction=direction,
    )
