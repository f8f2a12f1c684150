#!/usr/bin/env python3
"""Fill a benchmark database with synthetic customers and sale orders.

The database must already have customer_segmentation installed, without demo
data::

    python3 /opt/odoo-src/odoo-bin --addons-path=... -d cs_bench_100k \\
        -i customer_segmentation --without-demo=all --stop-after-init
    python3 benchmarks/generate.py -d cs_bench_100k --customers 100000

What it writes
--------------
Reference data, through the ORM (a few dozen records): a second active currency
with one rate a month over the order history, a pricelist in that currency (the
company's default pricelist, which Odoo then creates, serves the others), eight
salespeople in the Sales team, and one service product taxed with the
company's default sale tax.

Bulk data, through SQL (``INSERT ... SELECT generate_series``), with the values
the ORM would store:

* ``--customers`` commercial partners, ``--company-share`` of them companies and
  the rest individuals; ``--contact-share`` of the companies get 1 to 3 child
  contacts (``parent_id`` and ``commercial_partner_id`` the company, type
  ``contact``, address and pricelist of the company). Names, ``complete_name``,
  ``commercial_company_name``, e-mail, country, salesperson, language, creation
  dates and users, ``company_id`` empty (shared partner) or the main company;
  1% of the individuals are archived.
* Sale orders over the last three years: a customer orders between its first
  and last active day (a life time of exponential length, so some customers
  churned long ago and some are new), a log-normal number of orders per
  customer (mean ``--orders-per-customer``: many customers with 1 to 3 orders,
  a few with 50 and more) and log-normal amounts (companies spend more).
  States: 80% ``sale``, 8% ``cancel``, 6% ``draft``, 6% ``sent``; placed by the
  company itself or one of its contacts; a quarter of the customers buy in the
  second currency, with ``currency_rate`` the rate of that day as
  ``res.currency._get_conversion_rate`` returns it, the pricelist of that
  currency, and the partner's pricelist property set accordingly.
* Order lines: one line per order (unless ``--no-lines``), with the product,
  quantity, unit price, taxes, subtotals and invoicing figures the ORM computes,
  so that recomputing an order's amounts from its lines gives the stored
  amounts. customer_segmentation never reads order lines and the benchmark
  does not depend on them; they cost about as much disk and time as the orders,
  and we keep them because an order without lines is not something the ORM
  produces (and confirming one in run.py would be cheaper than in real life).
  With ``--no-lines``, orders still open and confirm in the ORM; their stored
  amounts just no longer match their (absent) lines.
* Not written: chatter messages and followers of the orders (the ORM would log
  one "quotation created" message per order and subscribe the customer on
  confirmation) and invoices (confirmed orders are all "to invoice").

Speed: everything runs in one transaction; the secondary indexes of the filled
tables are dropped and rebuilt (same definitions) and foreign-key triggers are
skipped (``session_replication_role = replica``) while loading, because every
reference is built from ids this script has just written; a few anti-joins
check that afterwards. Random values come from a hash of (seed, row, purpose),
so a seed gives the same data whatever the plan, dates being relative to the
day it runs.

Before committing, the script checks the data through the ORM: stored figures
equal what the ORM recomputes, pricelists and currencies are those the ORM
would pick, display names, and a generated quotation confirms (all rolled
back); a failed check aborts, and nothing is kept. After the commit it runs
``VACUUM ANALYZE``, recomputes the segments once (what the module's hooks would
have left if the orders had been created through the ORM; ``--no-recompute``
skips it) and vacuums ``res_partner`` again.
"""

import datetime
import math
import os
import random
import re
import sys

from benchlib import (
    ORDER_PREFIX,
    Stopwatch,
    add_common_arguments,
    autocommit_cursor,
    environment,
    open_registry,
    parser,
)

FIRST_NAMES = (
    "Emma Liam Olivia Noah Ava Elijah Sophia Lucas Mia Mateo Amelia Levi "
    "Harper Ethan Evelyn James Aria Leo Chloe Hugo Lina Wei Mei Hiroshi Yuki "
    "Aisha Omar Fatima Ivan Olga Sven Ingrid Pierre Camille Luca Giulia Jonas "
    "Marie Tomas Ana"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Martin Bernard "
    "Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Peeters Janssens "
    "Rossi Russo Ferrari Esposito Wang Li Zhang Liu Chen Tanaka"
).split()
COMPANY_WORDS = (
    "Trading Logistics Foods Systems Industries Consulting Retail Textiles "
    "Engineering Pharma Electronics Furniture"
).split()
COMPANY_SUFFIXES = ("Ltd", "SA", "GmbH", "Inc", "LLC", "& Sons", "Group", "BV")
COUNTRY_CODES = ("US", "US", "US", "BE", "FR", "DE", "GB", "NL", "CN", "IN")
# Job titles (``function``) of child contacts and of some individuals, with
# repeats for their weights: English and Chinese, senior, middle and junior
# keywords of the shipped job levels, and titles that match none of them.
JOB_TITLES = tuple(
    "|".join(
        (
            # senior
            "CEO|CEO|General Manager|Managing Director|Founder|Purchasing Director"
            "|总经理|总经理|董事长|副总经理|总监",
            # middle
            "Sales Manager|Sales Manager|Purchasing Manager|Office Manager"
            "|Team Leader|Head of Logistics|经理|经理|销售经理|主管|主管|部长",
            # junior
            "Assistant|Assistant|Sales Assistant|Engineer|Engineer|Accountant"
            "|Buyer|Sales Representative|专员|专员|采购专员|助理|工程师|会计",
            # no keyword
            "Consultant|Designer|Owner|Teacher|Analyst|Pharmacist|顾问|设计师|司机",
        )
    ).split("|")
)
SALESPEOPLE = 8
HISTORY_DAYS = 3 * 365
# Shares of the profile data (geography, business scale, job level).
ADDRESS_STATE_SHARE = 0.9  # partners in a country with states that have one
HOME_STATE_SHARE = 0.25  # of those in the company's country: its state
NO_ADDRESS_SHARE = 0.02  # individuals without a country
INDIVIDUAL_TITLE_SHARE = 0.4  # individuals with a job title
CONTACT_TITLE_SHARE = 0.95  # child contacts with a job title
EMPLOYEES_SHARE = 0.8  # companies with an employee count
REVENUE_SHARE = 0.7  # companies with an annual revenue
STATE_SHARES = (("sale", 0.80), ("cancel", 0.08), ("draft", 0.06), ("sent", 0.06))
# Secondary indexes are rebuilt after the load on these tables.
LOADED_TABLES = (
    "res_partner",
    "sale_order",
    "sale_order_line",
    "account_tax_sale_order_line_rel",
)


def main():
    args = parse_args()
    registry = open_registry(args)
    timings = {}
    with Stopwatch() as total:
        with environment(registry) as env:
            check_target(env)
            with Stopwatch() as watch:
                ref = setup_reference_data(env, args)
            timings["reference data (ORM)"] = watch.seconds
            load(env, args, ref, timings)
            with Stopwatch() as watch:
                env.cr.execute("ANALYZE " + ", ".join(LOADED_TABLES))
            timings["analyze"] = watch.seconds
            if not args.skip_checks:
                # A failed check exits before the commit: nothing is kept.
                with Stopwatch() as watch:
                    savepoint = env.cr.savepoint()
                    try:
                        check_with_orm(env, ref)
                        env.cr.flush()
                    finally:
                        savepoint.close(rollback=True)
                        env.cr.postcommit.clear()
                timings["ORM checks (rolled back)"] = watch.seconds
            with Stopwatch() as watch:
                env.cr.commit()
            timings["commit"] = watch.seconds
        # Vacuum before the recompute reads the orders (hint bits, visibility
        # map), and the partners again after it rewrote them.
        with autocommit_cursor(registry) as cr:
            with Stopwatch() as watch:
                cr.execute("VACUUM ANALYZE " + ", ".join(LOADED_TABLES))
            timings["vacuum analyze"] = watch.seconds
        if not args.no_recompute:
            with environment(registry) as env:
                with Stopwatch() as watch:
                    summary = env["res.partner"].recompute_all_segments()
                    env.cr.commit()
            timings["first full recompute"] = watch.seconds
            print(f"first full recompute: {summary}")
            with autocommit_cursor(registry) as cr:
                with Stopwatch() as watch:
                    cr.execute("VACUUM ANALYZE res_partner")
                timings["vacuum analyze res_partner"] = watch.seconds
    timings["total"] = total.seconds
    with environment(registry) as env:
        report(env, timings)


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument(
        "--customers",
        type=int,
        default=10000,
        help="commercial partners to create (10000, 100000, 1000000...)",
    )
    arguments.add_argument(
        "--orders-per-customer",
        type=float,
        default=10.0,
        help="average number of orders of a customer (default 10)",
    )
    arguments.add_argument(
        "--orders-sigma",
        type=float,
        default=1.3,
        help="log-normal spread of the number of orders per customer",
    )
    arguments.add_argument("--seed", type=int, default=1)
    arguments.add_argument("--company-share", type=float, default=0.3)
    arguments.add_argument(
        "--contact-share",
        type=float,
        default=0.3,
        help="share of the companies with 1-3 child contacts",
    )
    arguments.add_argument(
        "--foreign-share",
        type=float,
        default=0.25,
        help="share of the customers buying in the second currency",
    )
    arguments.add_argument(
        "--state-share",
        type=float,
        default=ADDRESS_STATE_SHARE,
        help="share of the partners of countries with states that have one",
    )
    arguments.add_argument(
        "--home-state-share",
        type=float,
        default=HOME_STATE_SHARE,
        help="share of those in the company's country that are in its state",
    )
    arguments.add_argument(
        "--title-share",
        type=float,
        default=INDIVIDUAL_TITLE_SHARE,
        help="share of the individuals with a job title (contacts: "
        f"{CONTACT_TITLE_SHARE * 100:.0f}%%)",
    )
    arguments.add_argument(
        "--employees-share",
        type=float,
        default=EMPLOYEES_SHARE,
        help="share of the companies with an employee count",
    )
    arguments.add_argument(
        "--revenue-share",
        type=float,
        default=REVENUE_SHARE,
        help="share of the companies with an annual revenue",
    )
    arguments.add_argument(
        "--no-lines", action="store_true", help="do not write order lines"
    )
    arguments.add_argument(
        "--keep-indexes",
        action="store_true",
        help="load with the indexes in place instead of rebuilding them",
    )
    arguments.add_argument(
        "--skip-checks", action="store_true", help="skip the ORM checks"
    )
    arguments.add_argument(
        "--no-recompute",
        action="store_true",
        help="leave the segment columns empty instead of recomputing them",
    )
    return arguments.parse_args()


def check_target(env):
    env.cr.execute(
        "SELECT state FROM ir_module_module WHERE name = 'customer_segmentation'"
    )
    row = env.cr.fetchone()
    if not row or row[0] != "installed":
        sys.exit("customer_segmentation is not installed in this database")
    env.cr.execute(
        "SELECT 1 FROM sale_order WHERE name LIKE %s LIMIT 1", [ORDER_PREFIX + "%"]
    )
    if env.cr.fetchone():
        sys.exit(
            "this database already holds generated orders; generate into a new "
            "database (dropdb, then install the module again)"
        )


# ----------------------------------------------------------------------
# Reference data, through the ORM
# ----------------------------------------------------------------------


def setup_reference_data(env, args):
    """Currencies, rates, pricelists, salespeople, product: ids for the load."""
    from odoo import Command

    rng = random.Random(args.seed)
    company = env.ref("base.main_company")
    currency = company.currency_id
    second_code = "USD" if currency.name == "EUR" else "EUR"
    second = (
        env["res.currency"]
        .with_context(active_test=False)
        .search([("name", "=", second_code)], limit=1)
    )
    second.active = True
    today = datetime.date.today()
    history_start = today - datetime.timedelta(days=HISTORY_DAYS)

    # One rate on the first day of each month, a random walk around the usual
    # value, as a finance team would enter them.
    rate = 0.92 if second_code == "EUR" else 1.09
    month = history_start.replace(day=1)
    existing = set(
        env["res.currency.rate"]
        .search([("currency_id", "=", second.id), ("company_id", "=", company.id)])
        .mapped("name")
    )
    rates = []
    while month <= today:
        rate *= math.exp(rng.gauss(0, 0.015))
        if month not in existing:
            rates.append(
                {
                    "name": month,
                    "rate": round(rate, 6),
                    "currency_id": second.id,
                    "company_id": company.id,
                }
            )
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    env["res.currency.rate"].create(rates)

    # Customers buying in the second currency get a pricelist in it; the
    # others get the pricelist the ORM falls back to (the company's default
    # one, which Odoo creates along with a second pricelist).
    Pricelist = env["product.pricelist"]
    name = f"Benchmark {second.name}"
    second_pricelist = Pricelist.search(
        [("name", "=", name)], limit=1
    ) or Pricelist.create(
        {"name": name, "currency_id": second.id, "company_id": company.id}
    )
    env.flush_all()
    default_pricelist = Pricelist._get_partner_pricelist_multi(env.user.partner_id.ids)[
        env.user.partner_id.id
    ]
    if default_pricelist.currency_id != currency:
        sys.exit(f"the default pricelist {default_pricelist.name} is not in {currency}")

    team = env.ref("sales_team.team_sales_department")
    salesman_group = env.ref("sales_team.group_sale_salesman")
    Users = env["res.users"].with_context(no_reset_password=True)
    users = Users.browse()
    for index in range(1, SALESPEOPLE + 1):
        login = f"bench_sales_{index}"
        user = Users.search([("login", "=", login)]) or Users.create(
            {
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "login": login,
                "email": f"{login}@example.com",
                "company_id": company.id,
                "company_ids": [Command.set(company.ids)],
                "groups_id": [Command.set(salesman_group.ids)],
            }
        )
        if not team.member_ids & user:
            env["crm.team.member"].create({"crm_team_id": team.id, "user_id": user.id})
        users |= user
    teams = [env["crm.team"]._get_default_team_id(user_id=user.id).id for user in users]

    tax = company.account_sale_tax_id
    product = env["product.product"].search(
        [("default_code", "=", "SBENCH-SERVICE")], limit=1
    ) or env["product.product"].create(
        {
            "name": "Benchmark Service",
            "default_code": "SBENCH-SERVICE",
            "type": "service",
            "list_price": 100.0,
            "invoice_policy": "order",
            "taxes_id": [Command.set(tax.ids)],
        }
    )
    if tax.amount_type != "percent" or tax.price_include:
        sys.exit(f"the default sale tax {tax.display_name} is not a plain percentage")

    # The rate of every day of the history, as the ORM computes an order's
    # currency_rate (the latest rate on or before the order's date).
    Currency = env["res.currency"]
    daily_rates = []
    day = history_start - datetime.timedelta(days=1)
    while day <= today:
        daily_rates.append(
            (day, Currency._get_conversion_rate(currency, second, company, day))
        )
        day += datetime.timedelta(days=1)

    country_ids = {
        country.code: country.id
        for country in env["res.country"].search([("code", "in", COUNTRY_CODES)])
    }
    countries = [country_ids[code] for code in COUNTRY_CODES]
    # Geography compares a contact's country and state with its company's
    # (the main company for shared partners): without a state on the company
    # no contact could be local. A US company gets California.
    company_partner = company.partner_id
    home_state = company_partner.state_id
    if not home_state and company_partner.country_id:
        States = env["res.country.state"]
        home_state = States.search(
            [("country_id", "=", company_partner.country_id.id), ("code", "=", "CA")],
            limit=1,
        ) or States.search(
            [("country_id", "=", company_partner.country_id.id)], order="id", limit=1
        )
        if home_state:
            company_partner.state_id = home_state
    states = {
        country_id: env["res.country.state"]
        .search([("country_id", "=", country_id)], order="id")
        .ids
        for country_id in set(countries)
    }
    env.flush_all()
    return {
        "company": company,
        "currency_id": currency.id,
        "second_currency_id": second.id,
        "pricelist_id": default_pricelist.id,
        "second_pricelist_id": second_pricelist.id,
        "user_ids": users.ids,
        "team_ids": teams,
        "product": product,
        "tax": tax,
        "daily_rates": daily_rates,
        "country_ids": countries,
        "home_country_id": company_partner.country_id.id or None,
        "home_state_id": home_state.id or None,
        "states": {country: ids for country, ids in states.items() if ids},
        "today": today,
        "history_start": history_start,
    }


# ----------------------------------------------------------------------
# Bulk load, through SQL
# ----------------------------------------------------------------------

HELPERS = """
-- uniform in (0, 1) from a hash of (key, purpose, seed): the same value
-- whatever order the rows are produced in
CREATE FUNCTION pg_temp.bench_u(key bigint, purpose int, seed int)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8extended(key, purpose::bigint * 1000003 + seed)
             & 9007199254740991)::float8 + 0.5) / 9007199254740992.0
$$;
-- standard normal (Box-Muller)
CREATE FUNCTION pg_temp.bench_n(key bigint, purpose int, seed int)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sqrt(-2 * ln(pg_temp.bench_u(key, purpose, seed)))
           * cos(2 * pi() * pg_temp.bench_u(key, purpose + 1000, seed))
$$;
"""

CUSTOMERS = """
CREATE TEMP TABLE bench_customer ON COMMIT DROP AS
WITH draw AS (
    SELECT g,
           pg_temp.bench_u(g, 1, %(seed)s) < %(company_share)s AS is_company,
           pg_temp.bench_u(g, 2, %(seed)s) AS u_start,
           pg_temp.bench_u(g, 3, %(seed)s) AS u_life,
           pg_temp.bench_n(g, 4, %(seed)s) AS z_orders,
           pg_temp.bench_n(g, 5, %(seed)s) AS z_size,
           pg_temp.bench_u(g, 6, %(seed)s) < %(foreign_share)s AS foreign_currency,
           pg_temp.bench_u(g, 7, %(seed)s) AS u_contacts,
           pg_temp.bench_u(g, 8, %(seed)s) AS u_contact_count,
           1 + floor(pg_temp.bench_u(g, 9, %(seed)s)
                     * cardinality(%(first_names)s::text[]))::int AS i_first,
           1 + floor(pg_temp.bench_u(g, 10, %(seed)s)
                     * cardinality(%(last_names)s::text[]))::int AS i_last,
           1 + floor(pg_temp.bench_u(g, 11, %(seed)s)
                     * cardinality(%(company_words)s::text[]))::int AS i_word,
           1 + floor(pg_temp.bench_u(g, 12, %(seed)s)
                     * cardinality(%(company_suffixes)s::text[]))::int AS i_suffix,
           1 + floor(pg_temp.bench_u(g, 13, %(seed)s)
                     * cardinality(%(country_ids)s::int[]))::int AS i_country,
           1 + floor(pg_temp.bench_u(g, 14, %(seed)s)
                     * cardinality(%(user_ids)s::int[]))::int AS i_user,
           pg_temp.bench_u(g, 15, %(seed)s) AS u_company,
           pg_temp.bench_u(g, 16, %(seed)s) AS u_created,
           pg_temp.bench_u(g, 17, %(seed)s) AS u_archived,
           pg_temp.bench_u(g, 40, %(seed)s) AS u_address,
           pg_temp.bench_u(g, 41, %(seed)s) AS u_state,
           pg_temp.bench_u(g, 42, %(seed)s) AS u_home_state,
           pg_temp.bench_u(g, 43, %(seed)s) AS u_state_pick,
           pg_temp.bench_u(g, 44, %(seed)s) AS u_title,
           1 + floor(pg_temp.bench_u(g, 45, %(seed)s)
                     * cardinality(%(job_titles)s::text[]))::int AS i_title,
           -- a company's size: log-normal, median 20 employees
           exp(ln(20) + 1.5 * pg_temp.bench_n(g, 46, %(seed)s)) AS size,
           pg_temp.bench_u(g, 47, %(seed)s) AS u_employees,
           pg_temp.bench_u(g, 48, %(seed)s) AS u_revenue,
           -- revenue per employee: log-normal, median 150,000
           exp(ln(150000) + 0.6 * pg_temp.bench_n(g, 49, %(seed)s))
               AS revenue_per_employee
      FROM generate_series(1, %(customers)s) g
),
life AS (
    SELECT d.*,
           -- customers arrive over four years: the three of the order
           -- history and one before it
           %(now)s::timestamp
               - (%(history_days)s + 365) * d.u_start * interval '1 day'
               AS life_start,
           -- active for an exponential time, 700 days on average
           -700 * ln(d.u_life) * interval '1 day' AS life_length,
           least(5000, greatest(1, round(exp(
               ln(%(mean_orders)s) - %(sigma)s ^ 2 / 2 + %(sigma)s * d.z_orders
           ))))::int AS n_orders,
           CASE WHEN d.is_company AND d.u_contacts < %(contact_share)s
                THEN 1 + floor(d.u_contact_count * 3)::int ELSE 0 END
               AS n_contacts
      FROM draw d
)
SELECT l.g,
       %(partner_base)s + l.g AS id,
       l.is_company,
       CASE WHEN l.is_company
            THEN (%(last_names)s::text[])[l.i_last] || ' '
                 || (%(company_words)s::text[])[l.i_word] || ' '
                 || (%(company_suffixes)s::text[])[l.i_suffix]
            ELSE (%(first_names)s::text[])[l.i_first] || ' '
                 || (%(last_names)s::text[])[l.i_last]
       END AS name,
       CASE WHEN l.is_company
            THEN 'info.c' || l.g || '@example.com'
            ELSE lower((%(first_names)s::text[])[l.i_first] || '.'
                       || (%(last_names)s::text[])[l.i_last]) || '.' || l.g
                 || '@example.com'
       END AS email,
       CASE WHEN l.u_company < 0.1 THEN %(company_id)s END AS company_id,
       a.country_id,
       CASE WHEN a.country_id IS NOT NULL AND l.u_state < %(address_state_share)s
            THEN (SELECT CASE WHEN s.country_id = %(home_country_id)s
                               AND l.u_home_state < %(home_state_share)s
                              THEN %(home_state_id)s
                              ELSE s.state_ids[1 + floor(l.u_state_pick
                                   * cardinality(s.state_ids))::int] END
                    FROM bench_state s WHERE s.country_id = a.country_id)
       END AS state_id,
       CASE WHEN NOT l.is_company AND l.u_title < %(individual_title_share)s
            THEN (%(job_titles)s::text[])[l.i_title] END AS function,
       CASE WHEN l.is_company AND l.u_employees < %(employees_share)s
            THEN greatest(1, round(l.size))::int END AS employees,
       CASE WHEN l.is_company AND l.u_revenue < %(revenue_share)s
            THEN round((greatest(1, l.size) * l.revenue_per_employee)::numeric, -3)
       END AS revenue,
       (%(user_ids)s::int[])[l.i_user] AS user_id,
       (%(team_ids)s::int[])[l.i_user] AS team_id,
       NOT l.is_company AND l.u_archived < 0.01 AS archived,
       l.foreign_currency,
       date_trunc('second', l.life_start - 30 * l.u_created * interval '1 day')
           AS create_date,
       greatest(l.life_start, %(history_start)s::timestamp) AS order_start,
       greatest(
           least(%(now)s::timestamp,
                 greatest(l.life_start, %(history_start)s::timestamp)
                     + l.life_length)
           - greatest(l.life_start, %(history_start)s::timestamp),
           interval '1 hour'
       ) AS order_span,
       -- log of the customer's typical unit price: companies buy more
       ln(60) + 0.8 * l.z_size + CASE WHEN l.is_company THEN ln(4) ELSE 0 END
           AS price_mu,
       l.n_orders,
       l.n_contacts,
       sum(l.n_orders) OVER w - l.n_orders AS orders_before,
       sum(l.n_contacts) OVER w - l.n_contacts AS contacts_before
  FROM life l
 CROSS JOIN LATERAL (
    SELECT CASE WHEN NOT l.is_company AND l.u_address < %(no_address_share)s
                THEN NULL
                ELSE (%(country_ids)s::int[])[l.i_country] END AS country_id
 ) a
WINDOW w AS (ORDER BY l.g)
"""

PARTNER_COLUMNS = """
    id, name, complete_name, commercial_company_name, is_company, type, active,
    company_id, lang, email, email_normalized, country_id, user_id, parent_id,
    commercial_partner_id, specific_property_product_pricelist, partner_share,
    state_id, function, segmentation_employee_count, segmentation_annual_revenue,
    color, message_bounce, supplier_rank, customer_rank, invoice_warn,
    sale_warn, autopost_bills, create_date, write_date, create_uid, write_uid
"""

INSERT_CUSTOMERS = f"""
INSERT INTO res_partner ({PARTNER_COLUMNS})
SELECT c.id, c.name, c.name,
       CASE WHEN c.is_company THEN c.name END,
       c.is_company, 'contact', NOT c.archived,
       c.company_id, 'en_US', c.email, c.email, c.country_id, c.user_id, NULL,
       c.id,
       CASE WHEN c.foreign_currency
            THEN jsonb_build_object(%(company_id)s::text, %(second_pricelist_id)s)
       END,
       true, c.state_id, c.function, c.employees, c.revenue,
       0, 0, 0, 0, 'no-message', 'no-message', 'ask',
       c.create_date, c.create_date, c.user_id, c.user_id
  FROM bench_customer c
"""

INSERT_CONTACTS = f"""
INSERT INTO res_partner ({PARTNER_COLUMNS})
SELECT k.id, k.name, c.name || ', ' || k.name, c.name, false, 'contact', true,
       c.company_id, 'en_US', k.email, k.email, c.country_id, NULL, c.id,
       c.id,
       CASE WHEN c.foreign_currency
            THEN jsonb_build_object(%(company_id)s::text, %(second_pricelist_id)s)
       END,
       -- a contact has its company's address (Odoo syncs it)
       true, c.state_id, k.function, NULL, NULL,
       0, 0, 0, 0, 'no-message', 'no-message', 'ask',
       c.create_date, c.create_date, c.user_id, c.user_id
  FROM bench_customer c
 CROSS JOIN LATERAL (
    SELECT %(contact_base)s + c.contacts_before + n AS id,
           (%(first_names)s::text[])[1 + floor(pg_temp.bench_u(
               %(contact_base)s + c.contacts_before + n, 30, %(seed)s)
               * cardinality(%(first_names)s::text[]))::int]
           || ' ' || (%(last_names)s::text[])[1 + floor(pg_temp.bench_u(
               %(contact_base)s + c.contacts_before + n, 31, %(seed)s)
               * cardinality(%(last_names)s::text[]))::int] AS name,
           'contact.' || (c.contacts_before + n) || '.c' || c.g || '@example.com'
               AS email,
           CASE WHEN pg_temp.bench_u(%(contact_base)s + c.contacts_before + n, 32,
                                     %(seed)s) < %(contact_title_share)s
                THEN (%(job_titles)s::text[])[1 + floor(pg_temp.bench_u(
                     %(contact_base)s + c.contacts_before + n, 33, %(seed)s)
                     * cardinality(%(job_titles)s::text[]))::int]
           END AS function
      FROM generate_series(1, c.n_contacts) n
 ) k
 WHERE c.n_contacts > 0
"""

# One row per order, with the draws its order and its line share; the line's
# quantity times its unit price is the order's untaxed amount.
ORDERS = """
CREATE TEMP TABLE bench_order ON COMMIT DROP AS
SELECT o.o,
       %(order_base)s + o.o AS id,
       c.id AS customer_id,
       CASE WHEN c.n_contacts > 0 AND pg_temp.bench_u(o.o, 23, %(seed)s) >= 0.5
            THEN %(contact_base)s + c.contacts_before + 1
                 + floor(pg_temp.bench_u(o.o, 24, %(seed)s) * c.n_contacts)::int
            ELSE c.id
       END AS partner_id,
       c.user_id,
       c.team_id,
       c.foreign_currency,
       CASE WHEN o.u_state < %(sale_share)s THEN 'sale'
            WHEN o.u_state < %(cancel_share)s THEN 'cancel'
            WHEN o.u_state < %(draft_share)s THEN 'draft'
            ELSE 'sent'
       END AS state,
       date_trunc('second', c.order_start
                            + c.order_span * pg_temp.bench_u(o.o, 21, %(seed)s))
           AS date_order,
       1 + floor(4 * pg_temp.bench_u(o.o, 25, %(seed)s) ^ 3)::int AS quantity,
       greatest(1, round(exp(c.price_mu + 0.7 * pg_temp.bench_n(o.o, 26, %(seed)s)
                             )::numeric, 2)) AS company_price
  FROM bench_customer c
 CROSS JOIN LATERAL (
    SELECT c.orders_before + k AS o,
           pg_temp.bench_u(c.orders_before + k, 22, %(seed)s) AS u_state
      FROM generate_series(1, c.n_orders) k
 ) o
"""

INSERT_ORDERS = """
INSERT INTO sale_order (
    id, name, state, date_order, create_date, write_date, create_uid, write_uid,
    company_id, partner_id, partner_invoice_id, partner_shipping_id, user_id,
    team_id, currency_id, pricelist_id, currency_rate, amount_untaxed,
    amount_tax, amount_total, invoice_status, validity_date, locked,
    require_signature, require_payment, prepayment_percent{module_columns}
)
SELECT o.id,
       %(prefix)s || lpad(o.o::text, greatest(7, length(o.o::text)), '0'),
       o.state, o.date_order, x.create_date, o.date_order, o.user_id, o.user_id,
       %(company_id)s, o.partner_id, o.partner_id, o.partner_id, o.user_id,
       o.team_id, x.currency_id, x.pricelist_id, x.rate, x.untaxed,
       round(x.untaxed * %(tax_rate)s, 2),
       x.untaxed + round(x.untaxed * %(tax_rate)s, 2),
       CASE WHEN o.state = 'sale' THEN 'to invoice' ELSE 'no' END,
       x.create_date::date + %(validity_days)s::int, false,
       %(require_signature)s, %(require_payment)s, %(prepayment_percent)s{module_values}
  FROM bench_order o
  JOIN bench_rate r ON r.day = o.date_order::date
 CROSS JOIN LATERAL (
    SELECT CASE WHEN o.foreign_currency THEN %(second_currency_id)s
                ELSE %(currency_id)s END AS currency_id,
           CASE WHEN o.foreign_currency THEN %(second_pricelist_id)s
                ELSE %(pricelist_id)s END AS pricelist_id,
           CASE WHEN o.foreign_currency THEN r.rate ELSE 1.0 END AS rate,
           o.quantity * CASE WHEN o.foreign_currency
                             THEN greatest(0.01, round(o.company_price * r.rate, 2))
                             ELSE o.company_price END AS untaxed,
           -- a confirmed order was quoted a few days before its confirmation
           CASE WHEN o.state = 'sale'
                THEN date_trunc('second', o.date_order - 3
                     * pg_temp.bench_u(o.o, 27, %(seed)s) * interval '1 day')
                ELSE o.date_order END AS create_date
 ) x
"""

INSERT_LINES = """
INSERT INTO sale_order_line (
    id, order_id, sequence, company_id, currency_id, order_partner_id,
    salesman_id, product_id, product_uom, state, qty_delivered_method,
    invoice_status, name, product_uom_qty, price_unit, discount, price_subtotal,
    price_tax, price_total, price_reduce_taxexcl, price_reduce_taxinc,
    technical_price_unit, qty_delivered, qty_invoiced, qty_to_invoice,
    untaxed_amount_invoiced, untaxed_amount_to_invoice, product_packaging_qty,
    customer_lead, create_date, write_date, create_uid, write_uid
)
SELECT %(line_base)s + o.o, so.id, 10, so.company_id, so.currency_id,
       so.partner_id, so.user_id, %(product_id)s, %(uom_id)s, so.state, 'manual',
       so.invoice_status, %(line_name)s, o.quantity,
       round(so.amount_untaxed / o.quantity, 2), 0, so.amount_untaxed,
       so.amount_tax, so.amount_total, round(so.amount_untaxed / o.quantity, 2),
       round(so.amount_total / o.quantity, 2),
       round(so.amount_untaxed / o.quantity, 2),
       0, 0,
       CASE WHEN so.state = 'sale' THEN o.quantity ELSE 0 END,
       0,
       CASE WHEN so.state = 'sale' THEN so.amount_untaxed ELSE 0 END,
       0, 0, so.create_date, so.write_date, so.create_uid, so.write_uid
  FROM bench_order o
  JOIN sale_order so ON so.id = o.id
"""

INSERT_LINE_TAXES = """
INSERT INTO account_tax_sale_order_line_rel (sale_order_line_id, account_tax_id)
SELECT %(line_base)s + o.o, %(tax_id)s FROM bench_order o
"""

INTEGRITY_CHECKS = {
    "orders without their partner": """
        SELECT count(*) FROM sale_order so
         WHERE so.id > %(order_base)s AND NOT EXISTS (
               SELECT 1 FROM res_partner p WHERE p.id = so.partner_id)""",
    "contacts without their company": """
        SELECT count(*) FROM res_partner p
         WHERE p.id > %(partner_base)s AND p.parent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM res_partner c
                            WHERE c.id = p.parent_id AND c.is_company)""",
    "lines without their order": """
        SELECT count(*) FROM sale_order_line l
         WHERE l.id > %(line_base)s AND NOT EXISTS (
               SELECT 1 FROM sale_order so WHERE so.id = l.order_id)""",
}


def load(env, args, ref, timings):
    cr = env.cr
    company = ref["company"]

    def next_base(table):
        cr.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
        return cr.fetchone()[0]

    params = {
        "seed": args.seed,
        "customers": args.customers,
        "company_share": args.company_share,
        "contact_share": args.contact_share,
        "foreign_share": args.foreign_share,
        "mean_orders": args.orders_per_customer,
        "sigma": args.orders_sigma,
        "first_names": list(FIRST_NAMES),
        "last_names": list(LAST_NAMES),
        "company_words": list(COMPANY_WORDS),
        "company_suffixes": list(COMPANY_SUFFIXES),
        "country_ids": ref["country_ids"],
        "home_country_id": ref["home_country_id"],
        "home_state_id": ref["home_state_id"],
        "job_titles": list(JOB_TITLES),
        # the unit tests call load() with the arguments of an older version
        "address_state_share": getattr(args, "state_share", ADDRESS_STATE_SHARE),
        "home_state_share": getattr(args, "home_state_share", HOME_STATE_SHARE),
        "no_address_share": getattr(args, "no_address_share", NO_ADDRESS_SHARE),
        "individual_title_share": getattr(args, "title_share", INDIVIDUAL_TITLE_SHARE),
        "contact_title_share": CONTACT_TITLE_SHARE,
        "employees_share": getattr(args, "employees_share", EMPLOYEES_SHARE),
        "revenue_share": getattr(args, "revenue_share", REVENUE_SHARE),
        "user_ids": ref["user_ids"],
        "team_ids": ref["team_ids"],
        "company_id": company.id,
        "currency_id": ref["currency_id"],
        "second_currency_id": ref["second_currency_id"],
        "pricelist_id": ref["pricelist_id"],
        "second_pricelist_id": ref["second_pricelist_id"],
        "now": datetime.datetime.now().replace(microsecond=0)
        - datetime.timedelta(hours=1),
        "history_start": ref["history_start"],
        "history_days": HISTORY_DAYS,
        "prefix": ORDER_PREFIX,
        "tax_id": ref["tax"].id,
        "tax_rate": ref["tax"].amount / 100,
        "validity_days": company.quotation_validity_days or None,
        "require_signature": company.portal_confirmation_sign,
        "require_payment": company.portal_confirmation_pay,
        "prepayment_percent": company.prepayment_percent,
        "product_id": ref["product"].id,
        "uom_id": ref["product"].uom_id.id,
        "line_name": ref["product"].get_product_multiline_description_sale(),
        "partner_base": next_base("res_partner"),
        "order_base": next_base("sale_order"),
        "line_base": next_base("sale_order_line"),
    }
    params["contact_base"] = params["partner_base"] + args.customers
    shares = dict(STATE_SHARES)
    params["sale_share"] = shares["sale"]
    params["cancel_share"] = params["sale_share"] + shares["cancel"]
    params["draft_share"] = params["cancel_share"] + shares["draft"]

    def step(label, query, query_params=params):
        with Stopwatch() as watch:
            cr.execute(query, query_params)
        timings[label] = watch.seconds
        rows = f"{cr.rowcount:>10,} rows" if cr.rowcount >= 0 else " " * 15
        print(f"{label:<34} {rows} {watch.seconds:8.1f} s", flush=True)

    # Bulk-load settings for this transaction only.
    cr.execute("SET LOCAL session_replication_role = replica")
    cr.execute("SET LOCAL maintenance_work_mem = '1GB'")
    cr.execute("SET LOCAL work_mem = '256MB'")
    cr.execute(HELPERS)
    cr.execute(
        "CREATE TEMP TABLE bench_state (country_id int PRIMARY KEY, state_ids int[])"
    )
    for country_id, state_ids in ref["states"].items():
        cr.execute("INSERT INTO bench_state VALUES (%s, %s)", [country_id, state_ids])
    cr.execute("CREATE TEMP TABLE bench_rate (day date PRIMARY KEY, rate numeric)")
    cr.execute(
        "INSERT INTO bench_rate SELECT * FROM unnest(%s::date[], %s::numeric[])",
        [
            [day for day, _rate in ref["daily_rates"]],
            [repr(rate) for _day, rate in ref["daily_rates"]],
        ],
    )
    indexes = []
    if not args.keep_indexes:
        indexes = secondary_indexes(cr)
        with Stopwatch() as watch:
            for name, _definition in indexes:
                cr.execute(f'DROP INDEX "{name}"')
        timings["drop indexes"] = watch.seconds
    step("customers (temp table)", CUSTOMERS)
    step("res_partner: customers", INSERT_CUSTOMERS)
    step("res_partner: contacts", INSERT_CONTACTS)
    step("orders (temp table)", ORDERS)
    cr.execute("ANALYZE bench_order")
    columns, values, defaults = module_columns(env, "sale.order", INSERT_ORDERS)
    step(
        "sale_order",
        INSERT_ORDERS.format(module_columns=columns, module_values=values),
        {**params, **defaults},
    )
    if not args.no_lines:
        step("sale_order_line", INSERT_LINES)
        step("account_tax_sale_order_line_rel", INSERT_LINE_TAXES)
    with Stopwatch() as watch:
        for _name, definition in indexes:
            cr.execute(definition)
    timings["rebuild indexes"] = watch.seconds
    print(f"{'rebuild ' + str(len(indexes)) + ' indexes':<50} {watch.seconds:8.1f} s")
    for sequence, table in (
        ("res_partner_id_seq", "res_partner"),
        ("sale_order_id_seq", "sale_order"),
        ("sale_order_line_id_seq", "sale_order_line"),
    ):
        cr.execute(
            f"SELECT setval('{sequence}', (SELECT max(id) FROM {table}))"  # noqa: S608
        )
    cr.execute("SET LOCAL session_replication_role = origin")
    with Stopwatch() as watch:
        for label, query in INTEGRITY_CHECKS.items():
            cr.execute(query, params)
            broken = cr.fetchone()[0]
            if broken:
                sys.exit(f"integrity check failed: {broken} {label}")
    timings["integrity checks"] = watch.seconds


def module_columns(env, model, insert):
    """``(columns, values, params)``: SQL naming the required columns of the
    table of ``insert`` that it does not name and that have no default in the
    database (columns other installed modules add, such as sale_stock's
    ``picking_policy`` when the Point of Sale is installed), their values as
    placeholders, and ``params`` holding the model's defaults for them."""
    table, named = re.match(r"\s*INSERT INTO (\w+) \(([^)]*)", insert).groups()
    named = {name.strip() for name in named.replace("{module_columns}", "").split(",")}
    env.cr.execute(
        """SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = %s
              AND is_nullable = 'NO' AND column_default IS NULL""",
        [table],
    )
    missing = sorted({name for (name,) in env.cr.fetchall()} - named)
    defaults = env[model].default_get(missing)
    if set(missing) - defaults.keys():
        sys.exit(f"{table}: no default for {sorted(set(missing) - defaults.keys())}")
    return (
        "".join(f", {name}" for name in missing),
        "".join(f", %(module_{name})s" for name in missing),
        {f"module_{name}": defaults[name] for name in missing},
    )


def secondary_indexes(cr):
    """Indexes of the loaded tables that back no constraint: (name, definition)."""
    cr.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
          FROM pg_index i
          JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = ANY(%s::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                            WHERE k.conindid = i.indexrelid)
      ORDER BY c.relname
        """,
        [list(LOADED_TABLES)],
    )
    return cr.fetchall()


# ----------------------------------------------------------------------
# Checks through the ORM
# ----------------------------------------------------------------------


def check_with_orm(env, ref):
    """Open generated records through the ORM and compare what it recomputes
    with what was written; confirm a quotation. The caller rolls back."""
    cr = env.cr
    cr.execute(
        """
        SELECT id FROM sale_order
         WHERE name LIKE %s
      ORDER BY hashint4(id) LIMIT 200
        """,
        [ORDER_PREFIX + "%"],
    )
    orders = env["sale.order"].browse(row[0] for row in cr.fetchall())
    partners = orders.partner_id | orders.partner_id.commercial_partner_id
    lines = orders.order_line
    # without lines, the ORM would compute zero amounts: only the order's own
    # fields can be compared
    line_dependent = ["amount_untaxed", "amount_tax", "amount_total", "invoice_status"]
    fields_to_check = {
        orders: [
            *(line_dependent if lines else []),
            "currency_rate",
            "currency_id",
            "partner_invoice_id",
            "partner_shipping_id",
        ],
        lines: [
            "price_subtotal",
            "price_tax",
            "price_total",
            "price_reduce_taxexcl",
            "price_reduce_taxinc",
            "invoice_status",
            "qty_to_invoice",
            "untaxed_amount_to_invoice",
            "tax_id",
        ],
        partners: [
            "complete_name",
            "commercial_partner_id",
            "commercial_company_name",
        ],
    }
    mismatches = []
    for records, names in fields_to_check.items():
        mismatches += recompute_mismatches(env, records, names)
    for order in orders:
        # the ORM takes an order's pricelist from its partner, and its
        # currency from the pricelist
        pricelist = order.partner_id.property_product_pricelist
        if order.pricelist_id != pricelist or order.currency_id != (
            pricelist.currency_id
        ):
            mismatches.append(
                f"{order}: pricelist {order.pricelist_id.name}, currency "
                f"{order.currency_id.name}; partner pricelist {pricelist.name}"
            )
    for partner in partners:
        # Odoo keeps a contact's address equal to its company's, and a state
        # belongs to the partner's country
        parent = partner.parent_id
        if parent and partner.type == "contact":
            for name in partner._address_fields():
                if partner[name] != parent[name]:
                    mismatches.append(
                        f"{partner}.{name}: {partner[name]!r}, its company has "
                        f"{parent[name]!r}"
                    )
        if partner.state_id and partner.state_id.country_id != partner.country_id:
            mismatches.append(
                f"{partner}: state {partner.state_id.name} is not in "
                f"{partner.country_id.name}"
            )
        if not partner.is_company and (
            partner.segmentation_employee_count or partner.segmentation_annual_revenue
        ):
            mismatches.append(f"{partner}: a person with a company size")
    for order in orders[:5]:
        print(
            f"  {order.display_name}: {order.partner_id.display_name} "
            f"({order.partner_id.commercial_partner_id.display_name}), "
            f"{order.state}, {order.date_order}, {order.amount_total} "
            f"{order.currency_id.name}, {len(order.order_line)} line(s)"
        )
    quotation = orders.filtered(lambda o: o.state in ("draft", "sent"))[:1]
    if quotation:
        customer = quotation.partner_id.commercial_partner_id
        quotation.action_confirm()
        env.flush_all()
        env.cr.execute(
            "SELECT count(*) FROM customer_segmentation_queue WHERE partner_id = %s",
            [customer.id],
        )
        print(
            f"  confirmed {quotation.display_name}: state {quotation.state}; "
            f"customer {customer.display_name} queued for classification: "
            f"{bool(env.cr.fetchone()[0])}"
        )
        if quotation.state != "sale":
            mismatches.append(f"{quotation} not confirmed")
    if mismatches:
        print("ORM checks FAILED:")
        for mismatch in mismatches[:30]:
            print("  " + mismatch)
        sys.exit(1)
    print(
        f"ORM checks passed: {len(orders)} orders, {len(lines)} lines and "
        f"{len(partners)} partners agree with what the ORM computes"
    )


def recompute_mismatches(env, records, names):
    """Fields of ``records`` whose stored value differs from what the ORM
    computes now."""
    if not records:
        return []
    stored = {name: {record.id: record[name] for record in records} for name in names}
    for name in names:
        field = records._fields[name]
        if field.compute and field.store:
            env.add_to_compute(field, records)
        elif field.compute:
            records.invalidate_recordset([name])
    mismatches = []
    for name in names:
        for record in records:
            value, before = record[name], stored[name][record.id]
            if isinstance(value, float):
                same = abs(value - before) < 1e-6
            else:
                same = value == before
            if not same:
                mismatches.append(
                    f"{record}.{name}: stored {before!r}, ORM computes {value!r}"
                )
    return mismatches


def report(env, timings):
    cr = env.cr
    cr.execute(
        """
        SELECT count(*) FILTER (WHERE id = commercial_partner_id),
               count(*) FILTER (WHERE id = commercial_partner_id AND is_company),
               count(*) FILTER (WHERE parent_id IS NOT NULL)
          FROM res_partner
        """
    )
    customers, companies, contacts = cr.fetchone()
    cr.execute(
        """
        SELECT state, count(*), count(*) FILTER (WHERE currency_rate <> 1)
          FROM sale_order WHERE name LIKE %s GROUP BY state ORDER BY 2 DESC
        """,
        [ORDER_PREFIX + "%"],
    )
    states = cr.fetchall()
    cr.execute(
        """
        WITH n AS (
            SELECT p.commercial_partner_id, count(*) AS orders
              FROM sale_order so JOIN res_partner p ON p.id = so.partner_id
             WHERE so.name LIKE %s GROUP BY 1
        )
        SELECT avg(orders), percentile_disc(ARRAY[0.5, 0.9, 0.99])
                   WITHIN GROUP (ORDER BY orders),
               max(orders), avg((orders <= 3)::int), avg((orders >= 50)::int)
          FROM n
        """,
        [ORDER_PREFIX + "%"],
    )
    mean, percentiles, most, small, large = cr.fetchone()
    cr.execute(
        "SELECT pg_size_pretty(pg_database_size(current_database())), "
        + ", ".join(
            f"pg_size_pretty(pg_total_relation_size('{t}'))" for t in LOADED_TABLES
        )
    )
    sizes = cr.fetchone()
    orders = sum(count for _state, count, _foreign in states)
    print()
    print(
        f"customers {customers:,} ({companies:,} companies), "
        f"child contacts {contacts:,}, orders {orders:,}"
    )
    print(
        "orders by state: "
        + ", ".join(
            f"{state} {count:,} ({count / orders:.0%})" for state, count, _f in states
        )
        + f"; in the second currency: {sum(f for *_x, f in states) / orders:.0%}"
    )
    print(
        f"orders per customer: mean {mean:.1f}, median {percentiles[0]}, "
        f"p90 {percentiles[1]}, p99 {percentiles[2]}, max {most}; "
        f"{small:.0%} with 1-3 orders, {large:.1%} with 50+"
    )
    print(
        f"database {sizes[0]}; "
        + ", ".join(f"{t} {s}" for t, s in zip(LOADED_TABLES, sizes[1:], strict=True))
    )
    cr.execute(
        """
        SELECT s.dimension, s.code, count(*)
          FROM res_partner p
         CROSS JOIN LATERAL (VALUES ((p.segment_geo_id ->> %(company)s)::int),
                                    ((p.segment_scale_id ->> %(company)s)::int),
                                    (p.segment_job_level_id)) v(segment_id)
          JOIN customer_segment s ON s.id = v.segment_id
      GROUP BY s.dimension, s.code, s.sequence
      ORDER BY s.dimension, s.sequence
        """,
        # geography and scale are classified per company (jsonb by company id)
        {"company": str(env.ref("base.main_company").id)},
    )
    profile = {}
    for dimension, code, count in cr.fetchall():
        profile.setdefault(dimension, []).append(f"{code} {count:,}")
    cr.execute(
        """
        SELECT count(*) FILTER (WHERE state_id IS NOT NULL),
               count(*) FILTER (WHERE COALESCE(function, '') <> ''),
               count(*) FILTER (WHERE segmentation_employee_count > 0
                                   OR segmentation_annual_revenue > 0)
          FROM res_partner
        """
    )
    with_state, with_title, with_size = cr.fetchone()
    cr.execute("SELECT count(*) FROM customer_segment_history")
    history = cr.fetchone()[0]
    print(
        f"partners with a state {with_state:,}, a job title {with_title:,}, "
        f"a company size {with_size:,}"
    )
    print(
        "profile segments of the partners: "
        + "; ".join(f"{d}: {', '.join(c)}" for d, c in profile.items())
        + f"; history rows {history:,}"
    )
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(
        "load average (1, 5, 15 min): "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f" ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
