"""From 18.0.2: each company classifies its customers on its own.

What was stored once for everybody is now stored per company, and every
company starts from what it saw before the upgrade:

- the settings (``ir.config_parameter``) become fields of every company;
- a partner's value tier, lifecycle stage, RFM segment, geography and business
  scale (set aside as ``legacy_<column>`` by pre-migrate.py) become
  company-dependent: the value goes to the customer's company, or, for a
  customer shared by the companies (no company), to every company. The old
  classification summed the orders of every company; the first run of each
  company after the upgrade corrects that, and logs the differences as
  changes (history, chatter, automation rules): a database with one company
  sees no change at all;
- a customer's figures, churn risk and dismissal, pool state and pricelists
  move from the wide partner row to one row of customer.segmentation.figure
  per company, which the partner fields now show;
- a segment's strategy becomes company-dependent, the same in every company;
- pins of the per-company dimensions belong to a company;
- runs belong to the main company, and each other company gets a copy of the
  latest completed run: it is the baseline that company was classified from,
  so its next run logs changes instead of starting silently again.

Set-based SQL throughout (a database may hold millions of customers); each
step is keyed on what it migrates (a legacy column, a missing company), so
running the script again changes nothing.
"""

import logging

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL, sql

from odoo.addons.customer_segmentation.models.customer_segmentation_rule import (
    COMPANY_DIMENSIONS,
)
from odoo.addons.customer_segmentation.models.res_partner import (
    STRATEGY_FIGURES_PARAM,
)
from odoo.addons.customer_segmentation.models.segmentation_params import (
    FIELD_PREFIX,
    PARAM_PREFIX,
    PARAMS,
    parse_params,
)

_logger = logging.getLogger(__name__)

# As in pre-migrate.py.
LEGACY_PREFIX = "legacy_"
PARTNER_SEGMENT_COLUMNS = (
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
    "segment_geo_id",
    "segment_scale_id",
)
SEGMENT_STRATEGY_COLUMNS = (
    "service_level",
    "strategy_priority",
    "manager_policy",
    "manager_team_id",
    "followup_days",
    "followup_activity_type_id",
    "pricelist_id",
)
# The columns of res_partner 18.0.2 held a customer's figures in (its
# contacts held copies); customer_segmentation_figure has the same names.
FIGURE_COLUMNS = (
    "first_order_date",
    "last_order_date",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_recency_score",
    "rfm_frequency_score",
    "rfm_monetary_score",
    "segmentation_last_interaction",
    "churn_typical_gap_days",
    "churn_risk_score",
    "churn_dismissed",
    "churn_dismiss_reason",
    "churn_dismissed_order_date",
    "churn_warned_order_date",
    "segmentation_in_pool",
    "segmentation_pool_date",
)
PRICELIST_COLUMNS = ("segmentation_pricelist_id", "segmentation_previous_pricelist_id")
# What tells that the old module knew something of a customer: a value in one
# of these, a number other than 0 in the next, or a true flag.
NULL_WHEN_NOTHING = (
    "first_order_date",
    "last_order_date",
    "rfm_recency_score",
    "rfm_frequency_score",
    "rfm_monetary_score",
    "segmentation_last_interaction",
    "churn_typical_gap_days",
    "churn_dismiss_reason",
    "churn_dismissed_order_date",
    "churn_warned_order_date",
    "segmentation_pool_date",
    *PRICELIST_COLUMNS,
)
ZERO_WHEN_NOTHING = ("rfm_frequency", "rfm_monetary", "churn_risk_score")


# One figures row per customer and company, and the partner's pointers to
# them (see _migrate_figures).
MIGRATE_FIGURES_SQL = """
WITH prospect AS (
    SELECT id FROM customer_segment
     WHERE dimension = 'lifecycle' AND code = 'prospect'
),
legacy AS (
    SELECT p.id AS partner_id, p.company_id, %(columns)s,
           p.segmentation_pricelist_id, p.segmentation_previous_pricelist_id,
           p.specific_property_product_pricelist AS pricelists,
           p.last_order_date IS NULL AND (
               p.legacy_segment_lifecycle_id IN (SELECT id FROM prospect)
               -- a pinned customer: what the rule said
               OR EXISTS (
                   SELECT 1 FROM customer_segment_override o
                    WHERE o.partner_id = p.id AND o.active
                      AND o.dimension = 'lifecycle'
                      AND o.rule_segment_id IN (SELECT id FROM prospect))
           ) AS pending,
           %(has_data)s OR p.churn_dismissed OR p.segmentation_in_pool
               AS has_data
      FROM res_partner p
     WHERE %(customer)s
),
inserted AS (
    INSERT INTO customer_segmentation_figure AS f (
           partner_id, company_id, %(columns)s, %(pricelist_columns)s,
           pending, create_uid, create_date, write_uid, write_date)
    SELECT l.partner_id, co.id, %(copied)s, %(pricelists)s,
           COALESCE(l.pending, false),
           %(uid)s, %(now)s, %(uid)s, %(now)s
      FROM legacy l
      JOIN res_company co ON l.company_id IS NULL OR co.id = l.company_id
     WHERE l.pending OR l.has_data
    ON CONFLICT (partner_id, company_id) DO NOTHING
 RETURNING f.id, f.partner_id, f.company_id
),
pointed AS (
    UPDATE res_partner p
       SET segmentation_figure_id =
           COALESCE(p.segmentation_figure_id, '{}'::jsonb) || i.pointers
      FROM (SELECT partner_id,
                   jsonb_object_agg(company_id::text, id) AS pointers
              FROM inserted GROUP BY partner_id) i
     WHERE p.id = i.partner_id
 RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM pointed)
"""


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    main_company = _main_company(env)
    _migrate_settings(env)
    # the figures read the old lifecycle stage (prospects): before the segments
    _migrate_figures(env)
    _migrate_partner_segments(env)
    _migrate_strategies(env)
    _migrate_pins(env, main_company)
    _migrate_runs(env)
    _seed_claim_counters(env)
    _forget_dropped_foreign_keys(env)
    _install_glue_addons(env)
    env.invalidate_all()


def _main_company(env):
    company = env.ref("base.main_company", raise_if_not_found=False)
    return company or env["res.company"].with_context(active_test=False).search(
        [], order="id", limit=1
    )


# ----------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------


def _migrate_settings(env):
    """Every company gets the global settings. A value the settings would
    refuse now (not a number, out of its bounds) is left out: the company
    keeps the default, and the log says so. Values that disagree with each
    other (e.g. a churn period shorter than the active period) were refused by
    18.0.2 too; they are kept, and the company's recompute names them until a
    manager fixes them, as before."""
    keys = {PARAM_PREFIX + key: key for key in PARAMS}
    raw = {
        keys[name]: value
        for name, value in env.execute_query(
            SQL(
                "SELECT key, value FROM ir_config_parameter WHERE key = ANY(%s)",
                list(keys),
            )
        )
    }
    if raw:
        values, _errors = parse_params(raw, env)
        for key in raw.keys() - values.keys():
            _logger.warning(
                "customer_segmentation: setting %s%s = %r is refused by this "
                "version; every company gets the default %r instead",
                PARAM_PREFIX,
                key,
                raw[key],
                PARAMS[key].default,
            )
        assignments = [
            SQL("%s = %s", SQL.identifier(FIELD_PREFIX + key), values[key])
            for key in raw
            if key in values
        ]
        if assignments:
            env.execute_query(
                SQL("UPDATE res_company SET %s", SQL(", ").join(assignments))
            )
    env["res.company"].invalidate_model()
    for company in env["res.company"].with_context(active_test=False).search([]):
        errors = company._segmentation_param_errors()
        if errors:
            _logger.warning(
                "customer_segmentation: the settings of %s are invalid; its "
                "customers are not classified until a manager fixes them:\n%s",
                company.name,
                "\n".join(errors),
            )
    # the strategy job's day is per company now: its next run starts afresh
    env.execute_query(
        SQL(
            "DELETE FROM ir_config_parameter WHERE key = ANY(%s)",
            [*keys, STRATEGY_FIGURES_PARAM],
        )
    )


# ----------------------------------------------------------------------
# Partners: figures and segments
# ----------------------------------------------------------------------


def _migrate_figures(env):
    """One figures row per customer (commercial partner) that has any, and
    company: its own company, or every company for a shared customer; the
    partner points to its row in each company. Then the old columns go:
    nothing reads them, and they would hold stale copies on every contact.

    ``pending`` (an open quotation or opportunity) is new: a customer had it
    when its lifecycle stage was Prospect, by rule. The segment pricelist and
    the one it replaced go to the companies where the customer still has that
    pricelist: elsewhere the module did not set it, and its next strategy run
    sets it from the customer's pricelist there."""
    if not sql.column_exists(env.cr, "res_partner", "rfm_monetary"):
        return
    rows = env.execute_query(
        SQL(
            MIGRATE_FIGURES_SQL,
            columns=SQL(", ").join(SQL.identifier(name) for name in FIGURE_COLUMNS),
            copied=SQL(", ").join(
                SQL("l.%s", SQL.identifier(name)) for name in FIGURE_COLUMNS
            ),
            pricelist_columns=SQL(", ").join(
                SQL.identifier(name) for name in PRICELIST_COLUMNS
            ),
            pricelists=_kept_pricelists_sql(),
            customer=env["res.partner"]._segmentation_customer_sql("p"),
            has_data=_legacy_has_data_sql(),
            uid=SUPERUSER_ID,
            now=SQL("(now() AT TIME ZONE 'UTC')"),
        )
    )
    _logger.info("customer_segmentation: %s rows of figures for %s customers", *rows[0])
    for name in (*FIGURE_COLUMNS, *PRICELIST_COLUMNS):
        _drop_column(env, "res_partner", name)


def _kept_pricelists_sql():
    """The legacy row ``l``'s segment pricelists, for the company ``co``
    where the customer still has the segment pricelist (else NULL)."""
    return SQL(", ").join(
        SQL(
            """CASE WHEN (l.pricelists ->> co.id::text)::int
                             = l.segmentation_pricelist_id
                    THEN l.%s END""",
            SQL.identifier(name),
        )
        for name in PRICELIST_COLUMNS
    )


def _legacy_has_data_sql():
    """Whether the old module knew something of the partner ``p``."""
    return SQL(
        "num_nonnulls(%s) > 0 OR %s",
        SQL(", ").join(SQL("p.%s", SQL.identifier(name)) for name in NULL_WHEN_NOTHING),
        SQL(" OR ").join(
            SQL("COALESCE(p.%s, 0) <> 0", SQL.identifier(name))
            for name in ZERO_WHEN_NOTHING
        ),
    )


def _migrate_partner_segments(env):
    """The segments of the per-company dimensions, from the legacy columns to
    the company-dependent ones: ``{"<company id>": segment id}`` for the
    customer's company, or every company for a shared customer (a contact
    follows its commercial partner, as the classification does)."""
    cr = env.cr
    legacy = [
        name
        for name in PARTNER_SEGMENT_COLUMNS
        if sql.column_exists(cr, "res_partner", LEGACY_PREFIX + name)
    ]
    if not legacy:
        return
    assignments = SQL(", ").join(
        SQL(
            """%(column)s = CASE WHEN p.%(old)s IS NOT NULL THEN
                   (SELECT jsonb_object_agg(c, p.%(old)s) FROM unnest(t.companies) c)
               END""",
            column=SQL.identifier(name),
            old=SQL.identifier(LEGACY_PREFIX + name),
        )
        for name in legacy
    )
    env.execute_query(
        SQL(
            """
        UPDATE res_partner p
           SET %(assignments)s
          FROM (SELECT p.id, array_agg(co.id::text) AS companies
                  FROM res_partner p
                  JOIN res_partner e ON e.id = p.commercial_partner_id
                  JOIN res_company co
                       ON e.company_id IS NULL OR co.id = e.company_id
                 WHERE num_nonnulls(%(olds)s) > 0
              GROUP BY p.id) t
         WHERE p.id = t.id
            """,
            assignments=assignments,
            olds=SQL(", ").join(
                SQL("p.%s", SQL.identifier(LEGACY_PREFIX + name)) for name in legacy
            ),
        )
    )
    _logger.info("customer_segmentation: segments of %s partners", cr.rowcount)
    for name in legacy:
        _drop_column(env, "res_partner", LEGACY_PREFIX + name)


# ----------------------------------------------------------------------
# Segments: strategies
# ----------------------------------------------------------------------


def _migrate_strategies(env):
    """A segment's strategy, the same in every company (a company-dependent
    field without a value in a company reads as empty there)."""
    cr = env.cr
    legacy = [
        name
        for name in SEGMENT_STRATEGY_COLUMNS
        if sql.column_exists(cr, "customer_segment", LEGACY_PREFIX + name)
    ]
    if not legacy:
        return
    env.execute_query(
        SQL(
            "UPDATE customer_segment s SET %s",
            SQL(", ").join(
                SQL(
                    """%(column)s = (SELECT jsonb_object_agg(co.id::text, s.%(old)s)
                                      FROM res_company co
                                     WHERE s.%(old)s IS NOT NULL)""",
                    column=SQL.identifier(name),
                    old=SQL.identifier(LEGACY_PREFIX + name),
                )
                for name in legacy
            ),
        )
    )
    for name in legacy:
        _drop_column(env, "customer_segment", LEGACY_PREFIX + name)


# ----------------------------------------------------------------------
# Pins, runs, claims
# ----------------------------------------------------------------------


def _migrate_pins(env, main_company):
    """A pin's company was its partner's (none for a shared partner); now it
    is the company whose classification it fixes, none for the dimensions
    every company shares. An active pin of a shared partner held in every
    company: it is copied for each company but the main one, which keeps the
    pin itself. Ended pins, a record of the past, stay with the main
    company."""
    table = "customer_segment_override"
    copied = [
        name
        for name in sql.table_columns(env.cr, table)
        if name not in ("id", "company_id")
    ]
    env.execute_query(
        SQL(
            """
        INSERT INTO customer_segment_override (company_id, %(columns)s)
        SELECT co.id, %(values)s
          FROM customer_segment_override o
          JOIN res_company co ON co.id <> %(main)s
         WHERE o.active AND o.company_id IS NULL AND o.dimension IN %(codes)s
            """,
            columns=SQL(", ").join(SQL.identifier(name) for name in copied),
            values=SQL(", ").join(SQL("o.%s", SQL.identifier(name)) for name in copied),
            main=main_company.id,
            codes=COMPANY_DIMENSIONS,
        )
    )
    env.execute_query(
        SQL(
            """
        UPDATE customer_segment_override
           SET company_id = CASE WHEN dimension IN %(codes)s
                                 THEN COALESCE(company_id, %(main)s) END
         WHERE CASE WHEN dimension IN %(codes)s THEN company_id IS NULL
                    ELSE company_id IS NOT NULL END
            """,
            codes=COMPANY_DIMENSIONS,
            main=main_company.id,
        )
    )


def _migrate_runs(env):
    """Runs of every customer become runs of the main company (the
    pre-migration gave them its id). A run left running is abandoned: its
    resume point and thresholds belong to the old engine, and the nightly job
    starts a new run per company. Each other company gets a copy of the
    latest completed run, its baseline."""
    env.execute_query(
        SQL(
            """
        UPDATE customer_segmentation_run
           SET state = 'abandoned', finished_at = now() AT TIME ZONE 'UTC'
         WHERE state = 'running'
           -- started before the upgrade: a new run has no thresholds before
           -- its classification phase
           AND phase = 'figures' AND stats IS NOT NULL
            """
        )
    )
    env.execute_query(
        SQL(
            """UPDATE customer_segmentation_run SET phase = 'classify'
                WHERE state <> 'running' AND phase = 'figures'"""
        )
    )
    copies = env.execute_query(
        SQL(
            """
        INSERT INTO customer_segmentation_run (
               company_id, trigger, state, user_id, date, started_at,
               finished_at, params, stats, phase, last_customer_id,
               customers_total, customers_done, customers_written,
               changes_value, changes_lifecycle, changes_rfm, changes_other,
               log, create_uid, create_date, write_uid, write_date)
        SELECT co.id, r.trigger, r.state, r.user_id, r.date, r.started_at,
               r.finished_at, r.params, r.stats, r.phase, r.last_customer_id,
               r.customers_total, r.customers_done, r.customers_written,
               r.changes_value, r.changes_lifecycle, r.changes_rfm,
               r.changes_other,
               %(log)s || r.id, r.create_uid, r.create_date, r.write_uid,
               r.write_date
          FROM (SELECT * FROM customer_segmentation_run
                 WHERE state = 'done' ORDER BY id DESC LIMIT 1) r
          JOIN res_company co ON NOT EXISTS (
               SELECT 1 FROM customer_segmentation_run o
                WHERE o.company_id = co.id)
     RETURNING id
            """,
            log="Before version 18.0.3 one run classified every company: this "
            "copy stands for that classification in this company. Run ",
        )
    )
    _logger.info(
        "customer_segmentation: baseline run copied for %s companies", len(copies)
    )


def _seed_claim_counters(env):
    """Today's claims were counted from the pool moves; the daily limit now
    reads a counter per salesperson, which must start at what they claimed
    today already."""
    env.execute_query(
        SQL(
            """
        INSERT INTO customer_segmentation_claim_counter
               (user_id, day, claims, create_uid, create_date, write_uid,
                write_date)
        SELECT user_id, date::date, count(*), %(uid)s, %(now)s, %(uid)s, %(now)s
          FROM customer_segmentation_pool_move
         WHERE move = 'claim' AND user_id IS NOT NULL
           AND date >= (now() AT TIME ZONE 'UTC')::date
      GROUP BY user_id, date::date
        ON CONFLICT (user_id, day) DO NOTHING
            """,
            uid=SUPERUSER_ID,
            now=SQL("(now() AT TIME ZONE 'UTC')"),
        )
    )


def _install_glue_addons(env):
    """What the module did with optional apps moved to glue addons
    (customer_segmentation_crm: open opportunities make prospects). Odoo
    installs them by themselves (auto_install) when the module is installed,
    not when it is upgraded: without this, a database with CRM would lose its
    prospects at the next run. Installed here as a new installation would,
    when every app they depend on is; Odoo then loads them in this same
    upgrade."""
    installed = ("installed", "to upgrade", "to install")
    glue = (
        env["ir.module.module"]
        .search([("state", "=", "uninstalled"), ("auto_install", "=", True)])
        .filtered(
            lambda module: (
                module.name.startswith("customer_segmentation_")
                and all(
                    dependency.state in installed
                    for dependency in module.dependencies_id
                )
            )
        )
    )
    if glue:
        _logger.info(
            "customer_segmentation: installing %s", ", ".join(glue.mapped("name"))
        )
        glue.button_install()


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


def _drop_column(env, table, column):
    if sql.column_exists(env.cr, table, column):
        env.execute_query(
            SQL(
                "ALTER TABLE %s DROP COLUMN %s",
                SQL.identifier(table),
                SQL.identifier(column),
            )
        )


def _forget_dropped_foreign_keys(env):
    """Odoo lists the module's foreign keys to drop them at uninstallation;
    those of the dropped columns are gone already."""
    env.execute_query(
        SQL(
            """
        DELETE FROM ir_model_constraint c
         USING ir_module_module m
         WHERE m.id = c.module AND m.name = 'customer_segmentation'
           AND c.type = 'f'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                            WHERE k.conname = c.name AND k.contype = 'f')
            """
        )
    )
