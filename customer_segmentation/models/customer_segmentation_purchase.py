from odoo import api, models
from odoo.tools import SQL

# Orders of one currency and day listed by name in a line of a run's log.
LOGGED_REFERENCES = 5
# Lines of a run's log about skipped orders; the rest is summed up.
LOGGED_GROUPS = 50
# Confirmed orders whose own currency_rate converts nothing (imports, broken
# integrations): few, so indexed apart to be read without a scan.
UNUSABLE_RATE_INDEX = "sale_order_segmentation_unusable_rate_index"
# A company's batch reads its customers' orders by partner: with the company
# in the index, the orders of a partner in other companies are never read.
PARTNER_COMPANY_INDEX = "sale_order_segmentation_partner_company_index"


class CustomerSegmentationPurchase(models.AbstractModel):
    """What the figures are computed from: the purchases of each customer,
    per company.

    A company chooses what a purchase is (setting ``purchase_source``):

    - ``sale``: a confirmed sale order, dated by the UTC day of its order
      date, its untaxed amount converted to the company currency: divided by
      the order's ``currency_rate`` or, when that rate is missing, zero or not
      finite, by the rate of the order's currency to the company's on the
      order's day. An order with neither is skipped (the run logs it), never
      summed unconverted;
    - ``invoice``: a posted customer invoice, dated by its invoice date, its
      untaxed amount in the company currency; a posted credit note takes its
      amount back (it is no purchase of its own). Sale orders are then no
      purchases, so an order that was also invoiced counts once.

    Either way, an open quotation or a confirmed order not yet a purchase
    (dated later, or not invoiced yet) makes its customer a prospect. Other
    apps add their sources (``_sources``): the Point of Sale's paid orders
    through ``customer_segmentation_pos``.

    Every figure (dates, frequency, monetary, thresholds, churn, the
    performance report) reads purchases here.
    """

    _name = "customer.segmentation.purchase"
    _description = "Customer Segmentation Purchases"

    def init(self):
        self.env.cr.execute(
            SQL(
                """CREATE INDEX IF NOT EXISTS %s ON sale_order (partner_id)
                    WHERE state = 'sale' AND %s""",
                SQL.identifier(UNUSABLE_RATE_INDEX),
                unusable_rate(SQL.identifier("currency_rate")),
            )
        )
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON sale_order (partner_id, company_id)",
                SQL.identifier(PARTNER_COMPANY_INDEX),
            )
        )

    @api.model
    def _query(self, company, day, since=None, customers=None):
        """SQL selecting the purchases of ``company`` dated from ``since`` to
        ``day``, credit notes included (``purchase`` false, negative
        ``amount``).

        :param company: the ``res.company`` whose purchases are read, or None
            for every company's, each by its own setting
        :param day: the classification day, a date or an SQL date expression
        :param since: first day, or None for the whole history
        :param customers: SQL selecting the ids of the commercial partners to
            read, or None for all
        :return: SQL with the columns ``source`` (e.g. 'sale'), ``order_id``
            (the id in the source's table), ``customer_id`` (commercial
            partner), ``company_id``, ``user_id`` (salesperson), ``date``,
            ``amount`` (untaxed, in the company currency) and ``purchase``
            (a purchase, as opposed to a credit note)
        """
        return SQL(
            """
            SELECT source, order_id, customer_id, company_id, user_id, date,
                   amount, purchase
              FROM (%s) o
             WHERE o.amount IS NOT NULL
            """,
            self._query_orders(company, day, since, customers),
        )

    @api.model
    def _query_orders(self, company, day, since=None, customers=None):
        """``_query`` with, in the same reading, the documents that are not
        purchases yet (``pending``): open quotations, and confirmed orders
        dated after ``day`` or, when invoices are the purchases, not invoiced
        yet. A customer without purchase but with one of them is a prospect.

        :return: SQL with the columns of ``_query`` and ``pending``
            (boolean); ``amount`` is NULL when ``pending`` is true
        """
        return SQL(" UNION ALL ").join(
            method(company, day, since, customers) for method in self._sources(company)
        )

    @api.model
    def _sources(self, company):
        """The methods reading ``company``'s purchases (every company's, each
        by its own setting, when ``company`` is None), each called with
        ``(company, day, since, customers)`` and returning SQL with the
        columns of ``_query_orders``. Modules of other apps add theirs."""
        if company is None:
            return [self._sale_orders, self._sale_orders_pending, self._invoices]
        if company.sudo().segmentation_purchase_source == "invoice":
            return [self._sale_orders_pending, self._invoices]
        return [self._sale_orders]

    @api.model
    def _skipped(self, company, day):
        """Purchases of ``company`` dated up to ``day`` that no rate converts.

        :return: ``[(currency name, date, count, first references)]`` per
            currency and day, oldest first
        """
        unconverted = self._unconverted(company, day)
        if not unconverted:
            return []
        return self.env.execute_query(
            SQL(
                """
            SELECT cur.name, o.date, count(*),
                   (array_agg(o.reference ORDER BY o.order_id))[1:%(shown)s]
              FROM (%(orders)s) o
              LEFT JOIN res_currency cur ON cur.id = o.currency_id
          GROUP BY cur.name, o.date
          ORDER BY o.date, cur.name
                """,
                orders=SQL(" UNION ALL ").join(unconverted),
                shown=LOGGED_REFERENCES,
            )
        )

    @api.model
    def _unconverted(self, company, day):
        """SQL, one per source that converts amounts with exchange rates,
        selecting the ``order_id``, ``reference``, ``currency_id`` and
        ``date`` of ``company``'s documents dated up to ``day`` that count
        but that no rate converts. Modules of other apps add theirs."""
        if company.sudo().segmentation_purchase_source != "sale":
            return []
        return [
            SQL(
                """SELECT o.order_id, o.reference, o.currency_id, o.date
                     FROM (%s) o WHERE o.purchase AND o.rate IS NULL""",
                self._sale_orders_without_rate(company, day),
            )
        ]

    @api.model
    def _skipped_log(self, company, day):
        """Lines telling which orders dated up to ``day`` are skipped for want
        of an exchange rate, or False when none is."""
        _ = self.env._
        groups = self._skipped(company, day)
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
    def _sale_orders(self, company, day, since=None, customers=None):
        """Sale orders as purchases: the rows of ``_query_orders``.

        Orders with a usable rate of their own and those without are read
        apart: in one statement PostgreSQL would cost the rate lookups for
        every order, and then spend seconds compiling it (JIT) for lookups
        that few orders, if any, need.
        """
        own_rate = self._sale_order_rows(
            company,
            SQL("so.currency_rate"),
            SQL(),
            SQL(
                "(so.state IN ('draft', 'sent') OR (so.state = 'sale' AND %s))",
                usable_rate(SQL("so.currency_rate")),
            ),
            day,
            since,
            customers,
        )
        return SQL(
            """
            SELECT 'sale'::varchar AS source, o.order_id, o.customer_id,
                   o.company_id, o.user_id, o.date,
                   CASE WHEN o.purchase THEN %s END AS amount,
                   o.purchase, NOT o.purchase AS pending
              FROM (%s UNION ALL %s) o
             -- skipped: a confirmed order of the day or before without rate
             WHERE o.rate IS NOT NULL OR NOT o.purchase
            """,
            company_amount(SQL("o.amount_untaxed"), SQL("o.rate")),
            own_rate,
            self._sale_orders_without_rate(company, day, since, customers),
        )

    @api.model
    def _sale_orders_pending(self, company, day, since=None, customers=None):
        """When invoices are the purchases: open quotations and confirmed
        orders of ``company`` not invoiced yet, as prospect signals only.

        An order is invoiced once one of its customer invoices is posted (a
        draft one is no purchase yet): its invoice then counts, for the
        customer it was made out to, which may be another one.
        """
        return SQL(
            """
            SELECT 'sale'::varchar AS source, so.id AS order_id,
                   p.commercial_partner_id AS customer_id, so.company_id,
                   so.user_id, so.date_order::date AS date,
                   NULL::numeric AS amount, false AS purchase, true AS pending
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE %(company)s %(customers)s
               AND (so.state IN ('draft', 'sent')
                    OR so.state = 'sale' AND NOT EXISTS (
                        SELECT 1
                          FROM sale_order_line sol
                          JOIN sale_order_line_invoice_rel rel
                            ON rel.order_line_id = sol.id
                          JOIN account_move_line aml ON aml.id = rel.invoice_line_id
                          JOIN account_move m ON m.id = aml.move_id
                         WHERE sol.order_id = so.id AND m.state = 'posted'
                           AND m.move_type = 'out_invoice'))
            """,
            company=company_condition(SQL("so.company_id"), company, "invoice"),
            customers=customers_condition(customers),
        )

    @api.model
    def _sale_orders_without_rate(self, company, day, since=None, customers=None):
        """Confirmed orders whose own ``currency_rate`` is unusable, with the
        company's rate of their day as ``rate`` (NULL when there is none)."""
        unusable = SQL(
            "so.state = 'sale' AND %s", unusable_rate(SQL("so.currency_rate"))
        )
        orders = SQL(
            """SELECT so.id, so.company_id, so.currency_id,
                      so.date_order::date AS date
                 FROM sale_order so WHERE %s""",
            unusable,
        )
        return self._sale_order_rows(
            company,
            SQL("fallback.rate"),
            SQL(
                "LEFT JOIN %s fallback ON fallback.order_id = so.id",
                fallback_rates(orders),
            ),
            unusable,
            day,
            since,
            customers,
        )

    @api.model
    def _sale_order_rows(self, company, rate, joins, condition, day, since, customers):
        conditions = [
            condition,
            company_condition(SQL("so.company_id"), company, "sale"),
        ]
        if since is not None:
            conditions.append(SQL("so.date_order >= %s::date", since))
        return SQL(
            """
            SELECT so.id AS order_id, so.name AS reference,
                   p.commercial_partner_id AS customer_id, so.company_id,
                   so.user_id, so.currency_id, so.date_order::date AS date,
                   so.amount_untaxed, %(rate)s AS rate,
                   so.state = 'sale' AND so.date_order < %(day_after)s AS purchase
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
              %(joins)s
             WHERE %(conditions)s %(customers)s
            """,
            rate=rate,
            day_after=day_after(day),
            joins=joins,
            conditions=SQL(" AND ").join(conditions),
            customers=customers_condition(customers),
        )

    # ------------------------------------------------------------------
    # Customer invoices
    # ------------------------------------------------------------------

    @api.model
    def _invoices(self, company, day, since=None, customers=None):
        """Posted customer invoices of ``company`` dated up to ``day`` as
        purchases, their credit notes taking the amounts back; both in the
        company currency (``amount_untaxed_signed``). Posted invoices dated
        later are pending; credit notes dated later are not read (they make
        no prospect)."""
        since_condition = (
            SQL("AND m.invoice_date >= %s::date", since) if since is not None else SQL()
        )
        return SQL(
            """
            SELECT 'invoice'::varchar AS source, m.id AS order_id,
                   p.commercial_partner_id AS customer_id, m.company_id,
                   m.invoice_user_id AS user_id, m.invoice_date AS date,
                   CASE WHEN m.invoice_date <= %(day)s::date
                        THEN m.amount_untaxed_signed END AS amount,
                   m.move_type = 'out_invoice'
                       AND m.invoice_date <= %(day)s::date AS purchase,
                   m.invoice_date > %(day)s::date AS pending
              FROM account_move m
              JOIN res_partner p ON p.id = m.partner_id
             WHERE %(company)s AND m.state = 'posted'
               AND (m.move_type = 'out_invoice'
                    OR m.move_type = 'out_refund' AND m.invoice_date <= %(day)s::date)
               AND m.invoice_date IS NOT NULL %(since)s %(customers)s
            """,
            day=day,
            company=company_condition(SQL("m.company_id"), company, "invoice"),
            since=since_condition,
            customers=customers_condition(customers),
        )


def company_condition(column, company, source):
    """SQL: ``column`` is ``company``, or, for every company (None), one of
    the companies whose purchases come from ``source``."""
    if company is not None:
        return SQL("%s = %s", column, company.id)
    return SQL(
        "%s IN (SELECT id FROM res_company WHERE segmentation_purchase_source = %s)",
        column,
        source,
    )


def customers_condition(customers):
    """``AND`` the commercial partner of ``p`` is among ``customers`` (SQL
    selecting ids), or nothing for all."""
    if customers is None:
        return SQL()
    return SQL("AND p.commercial_partner_id IN (%s)", customers)


def usable_rate(rate):
    """An order's own ``currency_rate`` converts when positive and finite
    (NaN sorts above infinity). ``unusable_rate`` is its exact opposite,
    written as plain comparisons so that PostgreSQL estimates from the
    column's statistics how few orders have no usable rate."""
    return SQL("%(rate)s > 0 AND %(rate)s < 'Infinity'::numeric", rate=rate)


def unusable_rate(rate):
    return SQL(
        "(%(rate)s IS NULL OR %(rate)s <= 0 OR %(rate)s >= 'Infinity'::numeric)",
        rate=rate,
    )


def company_amount(amount, rate):
    """SQL of an order's ``amount`` in its company's currency, ``rate``
    being how many units of the order's currency one unit of the company's
    is worth (an order's ``currency_rate``, or ``fallback_rates``'s).

    NULLIF: conditions pushed down from a caller may be evaluated before
    those keeping unusable rates out.
    """
    return SQL("%s / NULLIF(%s, 0)", amount, rate)


def day_after(day):
    """The first instant after ``day`` (a date or an SQL date expression), for
    comparisons with UTC timestamps such as ``date_order``."""
    return SQL("(%s::date + 1)", day)


def fallback_rates(orders):
    """SQL of a table of the ``rate`` of each of ``orders`` (``order_id``):
    how many units of the order's currency one unit of its company's currency
    was worth on the order's day, as ``res.currency._get_conversion_rate``
    computes an order's ``currency_rate``: 1 in the company currency, else
    the ratio of both currencies' rates, each the latest on or before that
    day, the company's own rates before the shared ones. NULL when the
    order's currency has no such rate. The company currency without a rate
    counts as the reference (Odoo takes its first rate, or 1).

    :param orders: SQL selecting the ``id``, ``company_id``, ``currency_id``
        and ``date`` (a date) of the orders whose own rate is unusable: few,
        read four times

    Joins rather than a lookup per order: PostgreSQL reads the other orders
    in parallel only when no subquery is correlated to an order.
    """
    return SQL(
        """(
        SELECT b.id AS order_id,
               CASE WHEN b.currency_id = bc.currency_id THEN 1::numeric
                    ELSE order_rate.rate
                         / COALESCE(home_rate.rate, home_first.rate, 1) END AS rate
          FROM (%(orders)s) b
          JOIN res_company bc ON bc.id = b.company_id
          LEFT JOIN %(order_rate)s order_rate ON order_rate.order_id = b.id
          LEFT JOIN %(home_rate)s home_rate ON home_rate.order_id = b.id
          LEFT JOIN %(home_first)s home_first ON home_first.order_id = b.id
        )""",
        orders=orders,
        order_rate=_order_rates(orders, SQL("b.currency_id"), dated=True),
        home_rate=_order_rates(orders, SQL("bc.currency_id"), dated=True),
        home_first=_order_rates(orders, SQL("bc.currency_id"), dated=False),
    )


def _order_rates(orders, currency, dated):
    """SQL selecting, per order of ``orders`` (``order_id``), the ``rate`` of
    ``currency`` (over ``b``, the order, and ``bc``, its company): the
    company's own rates before the shared ones, the latest on or before the
    order's day when ``dated``, else the first."""
    if dated:
        when, order = SQL("AND r.name <= b.date"), SQL("DESC")
    else:
        when, order = SQL(), SQL("ASC")
    return SQL(
        """(
        SELECT DISTINCT ON (b.id) b.id AS order_id, r.rate
          FROM (%(orders)s) b
          JOIN res_company bc ON bc.id = b.company_id
          JOIN res_currency_rate r
            ON r.currency_id = %(currency)s %(when)s
           AND (r.company_id = split_part(bc.parent_path, '/', 1)::int
                OR r.company_id IS NULL)
      ORDER BY b.id, r.company_id NULLS LAST, r.name %(order)s
        )""",
        orders=orders,
        currency=currency,
        when=when,
        order=order,
    )


def currency_round(amount, currency):
    """SQL of ``amount`` rounded to ``currency``'s decimal places, as
    ``currency.round`` and a Monetary field written by the ORM round it (and
    as Odoo's own SQL does, e.g. account's ``ROUND(..., decimal_places)``).

    Amounts the module stores are rounded so: a total of them, in a report or
    a kanban column, is then the total of the amounts users see, one by one,
    in a list.
    """
    return SQL("round((%s)::numeric, %s)", amount, currency.decimal_places)
