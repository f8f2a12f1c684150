from odoo import api, models
from odoo.tools import SQL

# Orders of one currency and day listed by name in a line of a run's log.
LOGGED_REFERENCES = 5
# Lines of a run's log about skipped orders; the rest is summed up.
LOGGED_GROUPS = 50


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
                orders=self._sale_orders(day),
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
            lines.append(
                _(
                    "%(count)s orders skipped: no exchange rate for %(currency)s "
                    "on %(date)s (%(orders)s)",
                    count=count,
                    currency=currency or _("no currency"),
                    date=date,
                    orders=", ".join(references) + more,
                )
            )
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
        conditions = [SQL("so.date_order < %s", _day_after(day))]
        if since is not None:
            conditions.append(SQL("so.date_order >= %s::date", since))
        if customers is not None:
            conditions.append(SQL("p.commercial_partner_id IN (%s)", customers))
        return SQL(
            """
            SELECT so.id AS order_id, so.name AS reference,
                   p.commercial_partner_id AS customer_id, so.company_id,
                   so.user_id, so.currency_id, so.date_order::date AS date,
                   so.amount_untaxed,
                   CASE WHEN so.currency_rate > 0
                             AND so.currency_rate < 'Infinity'::numeric
                        THEN so.currency_rate
                        ELSE %(company_rate)s END AS rate
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = 'sale' AND %(conditions)s
            """,
            company_rate=_company_rate(
                SQL("so.currency_id"), SQL("so.company_id"), SQL("so.date_order::date")
            ),
            conditions=SQL(" AND ").join(conditions),
        )


def _day_after(day):
    """The first instant after ``day`` (a date or an SQL date expression), for
    comparisons with UTC timestamps such as ``date_order``."""
    return SQL("(%s::date + 1)", day)


def _company_rate(currency, company, date):
    """SQL of how many units of ``currency`` one unit of ``company``'s
    currency was worth on ``date``, as ``res.currency._get_conversion_rate``
    computes an order's ``currency_rate``: 1 in the company currency, else the
    ratio of both currencies' rates, each the latest on or before ``date``,
    the company's own rates before the shared ones. NULL when ``currency`` has
    no such rate. The company currency without a rate counts as the reference
    (Odoo takes its first rate, or 1)."""
    root = SQL("split_part(co.parent_path, '/', 1)::int")
    return SQL(
        """
        (SELECT CASE WHEN %(currency)s = co.currency_id THEN 1::numeric
                     ELSE %(rate)s / COALESCE(%(company_rate)s, %(first_rate)s, 1)
                END
           FROM res_company co
          WHERE co.id = %(company)s)
        """,
        currency=currency,
        company=company,
        rate=_rate(currency, root, SQL("AND r.name <= %s", date), SQL("DESC")),
        company_rate=_rate(
            SQL("co.currency_id"), root, SQL("AND r.name <= %s", date), SQL("DESC")
        ),
        first_rate=_rate(SQL("co.currency_id"), root, SQL(), SQL("ASC")),
    )


def _rate(currency, root_company, dates, direction):
    """SQL of one ``res.currency.rate`` of ``currency`` for ``root_company``
    (its own, else a shared one), the first by date in ``direction``."""
    return SQL(
        """
        (SELECT r.rate FROM res_currency_rate r
          WHERE r.currency_id = %(currency)s
            AND (r.company_id = %(root)s OR r.company_id IS NULL) %(dates)s
       ORDER BY r.company_id NULLS LAST, r.name %(direction)s
          LIMIT 1)
        """,
        currency=currency,
        root=root_company,
        dates=dates,
        direction=direction,
    )
