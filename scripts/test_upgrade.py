"""The data of a customer_segmentation 18.0.2 database, before and after the
upgrade to the current version; run by scripts/test_upgrade.sh.

    test_upgrade.py prepare -d DB --addons-path PATH --snapshot FILE
        with the 18.0.2 code: gives the demo database data of every kind (a
        second company and its customer, settings changed, history, pins,
        managers, pool, claims, churn dismissal, pricelists), then writes
        what the old tables hold to FILE (JSON).
    test_upgrade.py check -d DB --addons-path PATH --snapshot FILE
        with the current code, after the upgrade: every piece of FILE is
        where the new version keeps it, a recompute of the main company
        changes nothing, and the other company's first run logs its changes.
        Then runs in small batches, two at a time on two connections (what
        the tests of the suite cannot do: they never commit), put back
        segments emptied in SQL as runs one batch at a time do, commit in
        order, resume after a failure where they stopped, and a second batch
        holding a lock the first one needs gives way.

Exits 1 and lists what failed. Odoo is used as a library, as in
benchmarks/benchlib.py; the database is written to and committed.
"""

import argparse
import datetime
import functools
import json
import os
import sys
import threading
import time
from decimal import Decimal

os.environ["TZ"] = "UTC"  # Odoo expects its server clock in UTC
time.tzset()

SHIPPED_SEGMENT_FIELDS = (
    "segment_value_id",
    "segment_lifecycle_id",
    "segment_rfm_id",
    "segment_geo_id",
    "segment_scale_id",
)
FIGURE_FIELDS = (
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
    "segmentation_pricelist_id",
    "segmentation_previous_pricelist_id",
)
STRATEGY_FIELDS = (
    "service_level",
    "strategy_priority",
    "manager_policy",
    "manager_team_id",
    "followup_days",
    "followup_activity_type_id",
    "pricelist_id",
)
PARAM_PREFIX = "customer_segmentation."
# Settings changed from their defaults before the upgrade, as the old module
# stores them. The claim limit is valid in 18.0.2 and out of the current
# bounds: the upgrade gives the default instead.
OLD_PARAMS = {
    "new_days": "100",
    "value_high_share": "0.25",
    "churn_risk_threshold": "40",
    "pool_enabled": "True",
    "pool_grace_days": "10",
    "pool_daily_claim_limit": "50000",
}
EXPECTED_SETTINGS = {
    "new_days": 100,
    "value_high_share": 0.25,
    "churn_risk_threshold": 40,
    "pool_enabled": True,
    "pool_grace_days": 10,
    "pool_daily_claim_limit": 20,
}
COMPANY_DIMENSIONS = ("value", "lifecycle", "rfm", "geo", "scale")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("prepare", "check"))
    parser.add_argument("-d", "--db", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--snapshot", required=True)
    args = parser.parse_args()
    import odoo

    odoo.tools.config.parse_config(
        ["-d", args.db, "--addons-path", args.addons_path, "--log-level", "warn"]
    )
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        if args.step == "prepare":
            prepare(env)
            snapshot = take_snapshot(env)
            with open(args.snapshot, "w") as file:
                json.dump(snapshot, file, default=jsonable, indent=1)
            print(describe(snapshot))
            return 0
        with open(args.snapshot) as file:
            snapshot = json.load(file)
        checker = Checker(env, snapshot)
        checker.run()
        return checker.report()


def jsonable(value):
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(repr(value))


# ----------------------------------------------------------------------
# Before: the 18.0.2 code
# ----------------------------------------------------------------------


def prepare(env):
    """Data of every kind the upgrade moves, made through the 18.0.2 API."""
    ref = env.ref
    Partner = env["res.partner"]
    company_b = env["res.company"].create({"name": "Upgrade Company B"})
    # its customer last bought before the look-back window: the main company's
    # population (quantiles, RFM scores) is the same before and after
    customer_b = Partner.create(
        {"name": "Company B Customer", "company_id": company_b.id}
    )
    order = (
        env["sale.order"]
        .with_company(company_b)
        .create(
            {
                "partner_id": customer_b.id,
                "company_id": company_b.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": ref(
                                "customer_segmentation.product_segmentation_demo"
                            ).id,
                            "product_uom_qty": 1,
                            "price_unit": 900,
                        },
                    )
                ],
            }
        )
    )
    order.action_confirm()
    order.date_order = datetime.datetime.now() - datetime.timedelta(days=500)
    for key, value in OLD_PARAMS.items():
        env["ir.config_parameter"].set_param(PARAM_PREFIX + key, value)
    vip = env["product.pricelist"].create({"name": "Upgrade VIP"})
    ref("customer_segmentation.segment_value_high").write(
        {
            "pricelist_id": vip.id,
            "manager_policy": "round_robin",
            "manager_team_id": ref("sales_team.team_sales_department").id,
        }
    )
    Partner.recompute_all_segments()  # logged: the demo ran the baseline
    pins = env["customer.segment.override"].create(
        [
            {
                "partner_id": ref("customer_segmentation.res_partner_redwood_demo").id,
                "dimension": "lifecycle",
                "segment_id": ref("customer_segmentation.segment_lifecycle_active").id,
                "reason": "Key account, upgrade test",
            },
            {
                "partner_id": ref("customer_segmentation.res_partner_contoso_demo").id,
                "dimension": "value",
                "segment_id": ref("customer_segmentation.segment_value_medium").id,
                "reason": "Ended before the upgrade",
            },
            {
                "partner_id": ref(
                    "customer_segmentation.res_partner_minghui_wang_demo"
                ).id,
                "dimension": "job_level",
                "segment_id": ref("customer_segmentation.segment_job_level_senior").id,
                "reason": "Decides, whatever the title says",
            },
        ]
    )
    pins[1].action_end()
    Partner.apply_segment_strategies()
    admin = env.ref("base.user_admin")
    alerted = Partner.search([("churn_alert", "=", True)], limit=1)
    if alerted:
        alerted.with_user(admin).action_dismiss_churn_risk("Seasonal buyer")
    in_pool = Partner.search([("segmentation_in_pool", "=", True)], limit=2)
    in_pool[:1].with_user(admin).action_claim_from_pool()
    # a nightly run interrupted before the upgrade
    env["customer.segmentation.run"]._start("cron")
    env.flush_all()


def take_snapshot(env):
    """What the 18.0.2 tables hold, read with SQL."""

    def rows(query, *params):
        env.cr.execute(query, params)
        names = [column.name for column in env.cr.description]
        return [dict(zip(names, row, strict=True)) for row in env.cr.fetchall()]

    companies = [row["id"] for row in rows("SELECT id FROM res_company ORDER BY id")]
    segments = ", ".join(f"p.{name}" for name in SHIPPED_SEGMENT_FIELDS)
    figures = ", ".join(f"p.{name}" for name in FIGURE_FIELDS)
    strategies = ", ".join(STRATEGY_FIELDS)
    return {
        "main_company": env.ref("base.main_company").id,
        "companies": companies,
        "params": {
            row["key"][len(PARAM_PREFIX) :]: row["value"]
            for row in rows(
                "SELECT key, value FROM ir_config_parameter WHERE key LIKE %s",
                PARAM_PREFIX + "%",
            )
        },
        "partners": rows(
            f"""SELECT p.id, p.commercial_partner_id AS entity_id,
                       e.company_id AS entity_company_id,
                       p.id = p.commercial_partner_id AS is_entity, {segments},
                       {figures},
                       p.specific_property_product_pricelist AS pricelists
                  FROM res_partner p
                  JOIN res_partner e ON e.id = p.commercial_partner_id
              ORDER BY p.id"""
        ),
        "segments": rows(f"SELECT id, {strategies} FROM customer_segment ORDER BY id"),
        "history": rows(
            """SELECT id, partner_id, company_id, dimension, old_segment_id,
                      new_segment_id, cause, movement, reason, run_id
                 FROM customer_segment_history ORDER BY id"""
        ),
        "pins": rows(
            """SELECT o.id, o.partner_id, p.company_id AS partner_company_id,
                      o.dimension, o.segment_id, o.rule_segment_id, o.active,
                      o.reason, o.date_expiry
                 FROM customer_segment_override o
                 JOIN res_partner p ON p.id = o.partner_id ORDER BY o.id"""
        ),
        "runs": rows(
            """SELECT id, state, trigger, stats IS NOT NULL AS has_stats
                 FROM customer_segmentation_run ORDER BY id"""
        ),
        "pool_moves": rows(
            """SELECT id, partner_id, company_id, user_id, move, reason
                 FROM customer_segmentation_pool_move ORDER BY id"""
        ),
        "partner_tags": rows(
            """SELECT partner_id, category_id FROM res_partner_segmentation_tag_rel
             ORDER BY 1, 2"""
        ),
        "users": rows("SELECT id, user_id FROM res_partner ORDER BY id"),
    }


def describe(snapshot):
    partners = snapshot["partners"]
    entities = [p for p in partners if p["is_entity"]]

    def count(rows, test):
        return sum(1 for row in rows if test(row))

    return (
        f"18.0.2 data: {len(snapshot['companies'])} companies, "
        f"{len(snapshot['params'])} settings changed, "
        f"{count(partners, lambda p: p['segment_value_id'])} partners with a value "
        f"tier, {count(entities, lambda p: p['last_order_date'])} customers with "
        f"purchases, {count(entities, lambda p: p['segmentation_in_pool'])} in the "
        f"pool, {count(entities, lambda p: p['churn_dismissed'])} churn dismissal, "
        f"{count(entities, lambda p: p['segmentation_pricelist_id'])} segment "
        f"pricelists, {len(snapshot['history'])} history rows, "
        f"{len(snapshot['pins'])} pins, {len(snapshot['runs'])} runs, "
        f"{len(snapshot['pool_moves'])} pool moves"
    )


# ----------------------------------------------------------------------
# After: the current code
# ----------------------------------------------------------------------


class Checker:
    def __init__(self, env, snapshot):
        self.env = env
        self.snapshot = snapshot
        self.failures = []
        self.checks = 0
        self.companies = env["res.company"].browse(snapshot["companies"])
        self.main = env["res.company"].browse(snapshot["main_company"])
        self.others = self.companies - self.main
        self.prospect_id = env.ref(
            "customer_segmentation.segment_lifecycle_prospect"
        ).id

    def expect(self, condition, message):
        self.checks += 1
        if not condition:
            self.failures.append(message)

    def equal(self, actual, expected, message):
        if isinstance(expected, float) or isinstance(actual, float):
            same = abs((actual or 0) - (expected or 0)) < 0.005
        else:
            same = actual == expected
        rows = isinstance(expected, list) and all(
            isinstance(row, list | tuple) for row in [*expected, *actual]
        )
        if same or not rows:
            self.expect(same, f"{message}: {actual!r}, expected {expected!r}")
            return
        # rows: the first ones that differ
        actual, expected = [list(row) for row in actual], [list(r) for r in expected]
        lost = [row for row in expected if row not in actual][:3]
        found = [row for row in actual if row not in expected][:3]
        self.expect(
            False,
            f"{message}: {len(actual)} rows, expected {len(expected)}; "
            f"expected rows such as {lost}, found {found}",
        )

    def run(self):
        steps = (
            self.check_schema,
            self.check_settings,
            self.check_segments,
            self.check_grouping,
            self.check_figures,
            self.check_pending,
            self.check_strategies,
            self.check_history,
            self.check_pins,
            self.check_runs,
            self.check_rest,
            self.check_recompute_main,
            self.check_strategies_main,
            self.check_recompute_other,
            self.check_parallel_batches,
        )
        for step in steps:
            before = (self.checks, len(self.failures))
            started = time.perf_counter()
            step()
            print(
                f"  {step.__name__[6:]:<20} {self.checks - before[0]:>5} checks, "
                f"{len(self.failures) - before[1]} failed "
                f"({time.perf_counter() - started:.1f} s)"
            )

    def report(self):
        if self.failures:
            print(
                f"test_upgrade: FAILED, {len(self.failures)} of {self.checks} checks:"
            )
            for failure in self.failures[:50]:
                print(f"  - {failure}")
            return 1
        print(f"test_upgrade: OK, {self.checks} checks passed")
        return 0

    def sql(self, query, *params):
        self.env.cr.execute(query, params)
        return self.env.cr.fetchall()

    def entity_companies(self, partner):
        company = partner["entity_company_id"]
        return [company] if company else self.snapshot["companies"]

    # -- where the data went -------------------------------------------

    def check_schema(self):
        module = self.env["ir.module.module"].search(
            [("name", "=", "customer_segmentation")]
        )
        self.equal(module.state, "installed", "module state")
        glue = self.env["ir.module.module"].search(
            [("name", "=", "customer_segmentation_crm")]
        )
        self.equal(glue.state, "installed", "the CRM glue addon's state")
        leftovers = self.sql(
            """SELECT table_name || '.' || column_name FROM information_schema.columns
                WHERE (table_name IN ('res_partner', 'customer_segment')
                       AND column_name LIKE 'legacy\\_%%')
                   OR (table_name = 'res_partner' AND column_name = ANY(%s))
                   OR (table_name = 'customer_segment_history'
                       AND column_name = 'reason')""",
            list(FIGURE_FIELDS),
        )
        self.equal(leftovers, [], "old columns left")
        for name in SHIPPED_SEGMENT_FIELDS:
            index = self.sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                f"res_partner__{name}_index",
            )
            # as on a fresh install: no index (res_partner.COMPANY_DEPENDENT_INDEXES)
            self.equal(index, [], f"index of the company-dependent {name}")

    def check_settings(self):
        left = self.sql(
            "SELECT key FROM ir_config_parameter WHERE key LIKE %s",
            PARAM_PREFIX + "%",
        )
        self.equal(left, [], "settings left in ir.config_parameter")
        for company in self.companies:
            for key, value in EXPECTED_SETTINGS.items():
                self.equal(
                    company["segmentation_" + key], value, f"{company.name} {key}"
                )
            self.equal(company._segmentation_param_errors(), [], "settings errors")

    def check_segments(self):
        Partner = self.env["res.partner"].with_context(active_test=False)
        for company in self.companies:
            partners = Partner.with_company(company).browse(
                p["id"] for p in self.snapshot["partners"]
            )
            for old, partner in zip(self.snapshot["partners"], partners, strict=True):
                mine = company.id in self.entity_companies(old)
                for name in SHIPPED_SEGMENT_FIELDS:
                    self.equal(
                        partner[name].id,
                        (old[name] or False) if mine else False,
                        f"{partner.display_name} {name} in {company.name}",
                    )

    def check_grouping(self):
        """Contacts grouped by value tier, as the kanban and list views do."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        for company in self.companies:
            groups = Partner.with_company(company)._read_group(
                [("segment_value_id", "!=", False)], ["segment_value_id"], ["__count"]
            )
            expected = {}
            for old in self.snapshot["partners"]:
                if old["segment_value_id"] and company.id in self.entity_companies(old):
                    expected[old["segment_value_id"]] = (
                        expected.get(old["segment_value_id"], 0) + 1
                    )
            self.equal(
                {segment.id: count for segment, count in groups},
                expected,
                f"contacts per value tier in {company.name}",
            )

    def check_figures(self):
        Partner = self.env["res.partner"].with_context(active_test=False)
        old_by_id = {p["id"]: p for p in self.snapshot["partners"]}
        for company in self.companies:
            partners = Partner.with_company(company).browse(old_by_id)
            for partner in partners:
                old = old_by_id[partner.id]
                entity = old_by_id[old["entity_id"]]
                mine = company.id in self.entity_companies(old)
                for name in FIGURE_FIELDS:
                    self.equal(
                        self.figure_value(partner, name),
                        self.expected_figure(entity, name, company, mine),
                        f"{partner.display_name} {name} in {company.name}",
                    )

    @staticmethod
    def figure_value(partner, name):
        value = partner[name]
        if hasattr(value, "_name"):
            return value.id
        if isinstance(value, datetime.date | datetime.datetime):
            return value.isoformat()
        return value

    def expected_figure(self, entity, name, company, mine):
        empty = {"rfm_frequency": 0, "rfm_monetary": 0, "churn_risk_score": 0}
        if not mine:
            return empty.get(name, False)
        value = entity[name]
        if name in ("segmentation_pricelist_id", "segmentation_previous_pricelist_id"):
            # kept where the customer still has the segment's pricelist
            applied = (entity["pricelists"] or {}).get(str(company.id))
            if applied != entity["segmentation_pricelist_id"]:
                value = None
        if value is None:
            return empty.get(name, False)
        return value

    def check_pending(self):
        """A prospect (no purchase, something pending) stays one until the
        first run reads the purchases again."""
        prospects = [
            p["id"]
            for p in self.snapshot["partners"]
            if p["is_entity"] and p["segment_lifecycle_id"] == self.prospect_id
        ]
        self.expect(prospects, "prospects before the upgrade")
        rows = self.sql(
            """SELECT partner_id, company_id FROM customer_segmentation_figure
                WHERE pending ORDER BY 1, 2"""
        )
        old_by_id = {p["id"]: p for p in self.snapshot["partners"]}
        self.equal(
            rows,
            sorted(
                (partner_id, company_id)
                for partner_id in prospects
                for company_id in self.entity_companies(old_by_id[partner_id])
            ),
            "figures of prospects marked pending",
        )

    def check_strategies(self):
        Segment = self.env["customer.segment"].with_context(active_test=False)
        for company in self.companies:
            segments = Segment.with_company(company).browse(
                s["id"] for s in self.snapshot["segments"]
            )
            for old, segment in zip(self.snapshot["segments"], segments, strict=True):
                for name in STRATEGY_FIELDS:
                    value = segment[name]
                    value = value.id if hasattr(value, "_name") else value
                    expected = old[name]
                    if expected is None:
                        expected = 0 if name in ("strategy_priority",) else False
                    self.equal(value, expected, f"{segment.code} {name} {company.name}")

    def check_history(self):
        History = self.env["customer.segment.history"].with_context(lang="en_US")
        old_rows = self.snapshot["history"]
        rows = History.browse(row["id"] for row in old_rows).exists()
        self.equal(len(rows), len(old_rows), "history rows")
        for old, row in zip(old_rows, rows, strict=False):
            self.equal(row.reason, old["reason"] or False, f"history {row.id} reason")
            self.equal(
                row.reason_text, old["reason"] or False, f"history {row.id} text"
            )
            self.equal(row.company_id.id or None, old["company_id"], "history company")
            for name in ("partner_id", "old_segment_id", "new_segment_id", "run_id"):
                self.equal(row[name].id or None, old[name], f"history {row.id} {name}")
            for name in ("dimension", "cause", "movement"):
                self.equal(row[name], old[name], f"history {row.id} {name}")
        logged = [row for row in old_rows if row["cause"] == "rule" and row["reason"]]
        self.expect(logged, "the old history holds rule changes with reasons")

    def check_pins(self):
        Pin = self.env["customer.segment.override"].with_context(active_test=False)
        for old in self.snapshot["pins"]:
            pin = Pin.browse(old["id"])
            per_company = old["dimension"] in COMPANY_DIMENSIONS
            expected = (
                old["partner_company_id"] or self.main.id if per_company else False
            )
            self.equal(pin.company_id.id, expected, f"pin {old['id']} company")
            self.equal(pin.active, old["active"], f"pin {old['id']} active")
            self.equal(pin.segment_id.id, old["segment_id"], f"pin {old['id']} segment")
            copies = (
                Pin.search(
                    [
                        ("partner_id", "=", old["partner_id"]),
                        ("dimension", "=", old["dimension"]),
                        ("active", "=", True),
                    ]
                )
                - pin
            )
            shared_active = (
                per_company and old["active"] and not old["partner_company_id"]
            )
            self.equal(
                sorted(copies.company_id.ids),
                sorted(self.others.ids) if shared_active else [],
                f"copies of pin {old['id']} for the other companies",
            )
            for copy in copies:
                self.equal(copy.segment_id.id, old["segment_id"], "pin copy segment")
                self.equal(copy.reason, old["reason"], "pin copy reason")
        self.expect(any(not p["active"] for p in self.snapshot["pins"]), "an ended pin")

    def check_runs(self):
        Run = self.env["customer.segmentation.run"]
        old_ids = [run["id"] for run in self.snapshot["runs"]]
        runs = Run.browse(old_ids)
        self.equal(set(runs.company_id.ids), {self.main.id}, "company of the old runs")
        for old, run in zip(self.snapshot["runs"], runs, strict=True):
            state = "abandoned" if old["state"] == "running" else old["state"]
            self.equal(run.state, state, f"run {run.id} state")
        latest_done = max(
            r["id"] for r in self.snapshot["runs"] if r["state"] == "done"
        )
        for company in self.others:
            baseline = Run.search([("company_id", "=", company.id)])
            self.equal(len(baseline), 1, f"baseline run of {company.name}")
            self.equal(baseline.state, "done", "baseline state")
            self.equal(baseline.stats, Run.browse(latest_done).stats, "baseline stats")

    def check_rest(self):
        moves = self.snapshot["pool_moves"]
        self.expect(any(m["move"] == "claim" for m in moves), "a claim before")
        current = self.sql(
            """SELECT id, partner_id, company_id, user_id, move, reason
                 FROM customer_segmentation_pool_move ORDER BY id"""
        )
        self.equal(
            [list(row) for row in current],
            [list(m.values()) for m in moves],
            "pool moves",
        )
        claims = self.sql(
            """SELECT user_id, claims FROM customer_segmentation_claim_counter
                WHERE day = (now() AT TIME ZONE 'UTC')::date"""
        )
        self.equal(claims, [(self.env.ref("base.user_admin").id, 1)], "claims today")
        tags = self.sql(
            "SELECT partner_id, category_id FROM res_partner_segmentation_tag_rel "
            "ORDER BY 1, 2"
        )
        self.equal(
            [list(row) for row in tags],
            [list(t.values()) for t in self.snapshot["partner_tags"]],
            "tags from segments",
        )

    # -- the new code on the migrated data ------------------------------

    def segment_state(self, company):
        key = str(company.id)
        columns = ", ".join(f"{name} ->> '{key}'" for name in SHIPPED_SEGMENT_FIELDS)
        return self.sql(f"SELECT id, {columns} FROM res_partner ORDER BY id")

    def figure_state(self, company):
        return self.sql(
            """SELECT partner_id, first_order_date, last_order_date, rfm_frequency,
                      rfm_monetary, rfm_recency_score, rfm_frequency_score,
                      rfm_monetary_score
                 FROM customer_segmentation_figure WHERE company_id = %s
             ORDER BY partner_id""",
            company.id,
        )

    def history_count(self, company):
        return self.sql(
            "SELECT count(*) FROM customer_segment_history WHERE company_id = %s",
            company.id,
        )[0][0]

    def check_recompute_main(self):
        """The main company's customers bought from it alone: its first run
        after the upgrade finds every segment and figure as they were."""
        Partner = self.env["res.partner"].with_company(self.main)
        segments, figures = self.segment_state(self.main), self.figure_state(self.main)
        history = self.history_count(self.main)
        summary = Partner.recompute_all_segments()
        self.env.flush_all()
        self.equal(
            summary["changes"],
            {"value": 0, "lifecycle": 0, "rfm": 0, "other": 0},
            "changes of the main company's recompute",
        )
        self.equal(self.segment_state(self.main), segments, "segments after recompute")
        self.equal(self.figure_state(self.main), figures, "figures after recompute")
        self.equal(self.history_count(self.main), history, "history after recompute")

    def check_strategies_main(self):
        """Managers, pool, tags and pricelists are where the strategies put
        them: applying them again moves nothing."""
        result = (
            self.env["res.partner"].with_company(self.main).apply_segment_strategies()
        )
        for key in (
            "assigned",
            "returned_to_pool",
            "tags_added",
            "tags_removed",
            "pricelists_applied",
            "pricelists_restored",
        ):
            self.equal(result[key], 0, f"strategies after the upgrade: {key}")
        users = self.sql("SELECT id, user_id FROM res_partner ORDER BY id")
        self.equal(
            [list(row) for row in users],
            [list(u.values()) for u in self.snapshot["users"]],
            "account managers",
        )

    def check_recompute_other(self):
        """The other company classified the shared customers by everyone's
        orders; its first run corrects that, and logs it."""
        for company in self.others:
            main_segments = self.segment_state(self.main)
            history = self.history_count(company)
            summary = (
                self.env["res.partner"].with_company(company).recompute_all_segments()
            )
            self.env.flush_all()
            changed = sum(summary["changes"].values())
            self.expect(changed > 0, f"{company.name}: its first run changes segments")
            logged = self.history_count(company) - history
            self.expect(
                logged >= summary["changes"]["value"] > 0,
                f"{company.name}: {logged} history rows for {summary['changes']}",
            )
            self.equal(
                self.segment_state(self.main), main_segments, "main company untouched"
            )
            own = (
                self.env["res.partner"]
                .with_company(company)
                .search([("company_id", "=", company.id)])
                .filtered(lambda p: p.name == "Company B Customer")
            )
            self.expect(
                own.segment_lifecycle_id.code == "churned" and own.rfm_frequency == 0,
                f"{company.name}'s own customer keeps its classification",
            )

    # -- two batches at once (segmentation_batch.SecondConnection) ---------

    def empty_lifecycle(self):
        """Empty the main company's lifecycle stage of every partner, in
        SQL and committed: the next run puts them back through the ORM.
        Returns how many customers lost theirs."""
        key = str(self.main.id)
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE res_partner SET segment_lifecycle_id = segment_lifecycle_id - %s
                WHERE segment_lifecycle_id ? %s
            RETURNING commercial_partner_id = id""",
            (key, key),
        )
        emptied = sum(own for (own,) in self.env.cr.fetchall())
        self.env.cr.commit()
        self.env.invalidate_all()
        return emptied

    def small_run(self, parallel, fail_later_at=None, hold_run_at=None):
        """A manual run of the main company in batches of 3 customers, with
        the system parameter of two batches at once set to ``parallel``.
        The ``fail_later_at``-th batch run on the second connection raises;
        the ``hold_run_at``-th locks the run's row first, which the batch
        beside it then needs (that batch starts once the row is locked).

        :return: ``(run, later, again, error)``: the ids ending the batches
            run on the second connection, those run again on the run's own
            after giving way, and the error that stopped the run, or None
        """
        from odoo.exceptions import UserError

        from odoo.addons.customer_segmentation.models import (
            customer_segmentation_run as run_module,
        )
        from odoo.addons.customer_segmentation.models import (
            segmentation_batch as batch_module,
        )

        Run = run_module.CustomerSegmentationRun
        Second = batch_module.SecondConnection
        self.env["ir.config_parameter"].sudo().set_param(
            run_module.PARALLEL_PARAM, str(parallel)
        )
        later, again = [], []
        held = threading.Event()
        process_later, run_pair = Run._process_later, Second.run_pair

        def counted(run, scope, upper, count, env, wait_turn):
            if env.cr is run.env.cr:
                again.append(upper)
            else:
                later.append(upper)
                if len(later) == fail_later_at:
                    raise RuntimeError("test_upgrade: a batch that fails")
                if len(later) == hold_run_at:
                    env.cr.execute(
                        "SELECT id FROM customer_segmentation_run"
                        " WHERE id = %s FOR UPDATE",
                        [run.id],
                    )
                    held.set()
            return process_later(run, scope, upper, count, env, wait_turn)

        def after_hold(first):
            held.wait(30)
            return first()

        def paired(second, first, then, job):
            if len(later) + 1 == hold_run_at:
                first = functools.partial(after_hold, first)
            return run_pair(second, first, then, job)

        Run._process_later, Second.run_pair = counted, paired
        # without giving way, the first batch would wait for the run's row
        # for ever: a lock it waits for 10 s fails it (five times, then the
        # run stops with an error)
        self.env.cr.execute("SET lock_timeout = '10s'")
        run = self.env["customer.segmentation.run"].sudo()
        run = run.with_company(self.main)._start_committed("manual", self.main)
        error = None
        try:
            run._process(batch_size=3)
        except (RuntimeError, UserError) as stopped:
            error = stopped
            print(f"    stopped: {error}")
        finally:
            Run._process_later, Second.run_pair = process_later, run_pair
            self.env.cr.execute("RESET lock_timeout")
            self.env["ir.config_parameter"].sudo().set_param(
                run_module.PARALLEL_PARAM, "True"
            )
        self.env.invalidate_all()
        return run, later, again, error

    def lifecycle_ids(self):
        """Ids of the customers (commercial partners) holding a lifecycle
        stage in the main company."""
        key = str(self.main.id)
        return {
            row[0]
            for row in self.sql(
                """SELECT id FROM res_partner
                    WHERE commercial_partner_id = id AND segment_lifecycle_id ? %s""",
                key,
            )
        }

    def check_parallel_batches(self):
        segments = self.segment_state(self.main)
        for parallel in (True, False):
            history = self.history_count(self.main)
            emptied = self.empty_lifecycle()
            self.expect(emptied > 10, f"lifecycle emptied for {emptied} customers")
            run, later, _again, error = self.small_run(parallel)
            label = "two batches at once" if parallel else "one batch at a time"
            self.equal(error, None, f"{label}: the run's error")
            self.expect(
                bool(later) == parallel,
                f"{label}: {len(later)} batches on the second connection",
            )
            self.equal(run.state, "done", f"{label}: the run's state")
            self.equal(
                run.changes_lifecycle, emptied, f"{label}: lifecycle changes counted"
            )
            self.equal(
                run.customers_done, run.customers_total, f"{label}: customers counted"
            )
            self.equal(
                self.history_count(self.main) - history,
                emptied,
                f"{label}: history rows of the run",
            )
            self.equal(self.segment_state(self.main), segments, f"{label}: segments")
        # a batch of the second connection fails: the batches committed
        # before it stay, in order, and the next call resumes after them
        emptied = self.empty_lifecycle()
        run, later, _again, error = self.small_run(True, fail_later_at=2)
        self.expect(isinstance(error, RuntimeError), f"failed run: stopped by {error}")
        self.equal(run.state, "running", "failed run: still running")
        self.expect(
            0 < run.last_customer_id < later[-1],
            f"failed run: resume point {run.last_customer_id} before the "
            f"failed batch's end {later[-1]}",
        )
        held = self.lifecycle_ids()
        restored = {i for i in held if i <= run.last_customer_id}
        self.expect(
            held == restored and len(restored) == run.changes_lifecycle > 0,
            f"failed run: {len(held)} customers restored, {len(restored)} of them "
            f"up to the resume point, {run.changes_lifecycle} counted",
        )
        self.expect(len(held) < emptied, "failed run: some customers left")
        run._process(batch_size=3)
        self.env.invalidate_all()
        self.equal(run.state, "done", "resumed run: its state")
        self.equal(
            run.changes_lifecycle, emptied, "resumed run: lifecycle changes counted"
        )
        self.equal(self.segment_state(self.main), segments, "resumed run: segments")
        # the second batch holds a lock the first one needs: it gives way,
        # rolled back, and runs again after the first on the run's connection
        emptied = self.empty_lifecycle()
        run, later, again, error = self.small_run(True, hold_run_at=2)
        self.equal(error, None, "second batch giving way: the run's error")
        self.equal(again, later[1:2], "second batch giving way: run again")
        self.equal(run.state, "done", "second batch giving way: the run's state")
        self.equal(
            run.changes_lifecycle,
            emptied,
            "second batch giving way: lifecycle changes counted",
        )
        self.equal(
            run.customers_done,
            run.customers_total,
            "second batch giving way: customers counted",
        )
        self.equal(
            self.segment_state(self.main), segments, "second batch giving way: segments"
        )


if __name__ == "__main__":
    sys.exit(main())
