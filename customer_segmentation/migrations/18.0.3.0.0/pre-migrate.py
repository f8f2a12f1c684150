"""From 18.0.2, before the ORM updates the tables: set aside the columns whose
type changes, so that their data survive for the post-migration.

Columns that become company-dependent (jsonb) cannot be converted by the ORM:
it would run ``ALTER COLUMN ... TYPE jsonb USING column::jsonb``, which
PostgreSQL refuses for integers and for plain texts such as ``dedicated``.
They are renamed ``legacy_<column>``; the ORM then creates the new jsonb columns
empty, and the post-migration fills them for every company and drops the old
ones.

Each step checks the schema first, so running the script again is harmless.
"""

import logging

from odoo.tools import SQL, sql

_logger = logging.getLogger(__name__)

# Prefix of the columns set aside, read (then dropped) by post-migrate.py.
LEGACY_PREFIX = "legacy_"

# The per-company dimensions: integer many2one columns -> company-dependent.
PARTNER_SEGMENT_COLUMNS = (
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
    "segment_geo_id",
    "segment_scale_id",
)
# The strategy of a segment, now set per company.
SEGMENT_STRATEGY_COLUMNS = (
    "service_level",
    "strategy_priority",
    "manager_policy",
    "manager_team_id",
    "followup_days",
    "followup_activity_type_id",
    "pricelist_id",
)


def migrate(cr, version):
    if not version:
        return
    for column in PARTNER_SEGMENT_COLUMNS:
        _set_aside(cr, "res_partner", column)
    for column in SEGMENT_STRATEGY_COLUMNS:
        _set_aside(cr, "customer_segment", column)
    _rename_history_reason(cr)
    _add_run_company(cr)


def _set_aside(cr, table, column):
    """Rename ``column`` to ``LEGACY_PREFIX + column`` unless it is jsonb
    already (migrated) or gone."""
    old = LEGACY_PREFIX + column
    if sql.column_exists(cr, table, old):
        return
    cr.execute(
        "SELECT udt_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name = %s",
        [table, column],
    )
    row = cr.fetchone()
    if not row or row[0] == "jsonb":
        return
    sql.rename_column(cr, table, column, old)
    # The index keeps its name, that of the new column's index: Odoo would
    # take it for the new column's and not create that one.
    sql.drop_index(cr, sql.make_index_name(table, column), table)
    # manager_policy was required: segments that the data files create
    # before the post-migration would break its NOT NULL.
    sql.drop_not_null(cr, table, old)


def _rename_history_reason(cr):
    """The reason text of a history row is ``reason_text`` now; ``reason`` is
    computed from the reason code, or shows ``reason_text`` for the old rows
    that have no code."""
    table = "customer_segment_history"
    if sql.column_exists(cr, table, "reason") and not sql.column_exists(
        cr, table, "reason_text"
    ):
        sql.rename_column(cr, table, "reason", "reason_text")


def _add_run_company(cr):
    """A run classifies one company now. The old runs classified every
    customer: they are given the main company, the one whose baseline they
    are (the post-migration copies the latest one for the other companies).
    Set here rather than by the field's default, which is the company of
    whoever runs the upgrade."""
    table = "customer_segmentation_run"
    if sql.column_exists(cr, table, "company_id"):
        return
    sql.create_column(cr, table, "company_id", "int4")
    cr.execute(
        SQL(
            "UPDATE %s SET company_id = %s",
            SQL.identifier(table),
            _main_company_sql(),
        )
    )
    _logger.info("customer_segmentation: %s runs given the main company", cr.rowcount)


def _main_company_sql():
    """SQL of the main company's id: Odoo's first company, else the oldest."""
    return SQL(
        """COALESCE(
               (SELECT d.res_id FROM ir_model_data d
                  JOIN res_company c ON c.id = d.res_id
                 WHERE d.module = 'base' AND d.name = 'main_company'),
               (SELECT min(id) FROM res_company))"""
    )
