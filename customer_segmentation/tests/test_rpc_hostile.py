"""Every public method of the module driven over XML-RPC with bad arguments,
as each group: every call is refused with a UserError or AccessError fault
naming the argument, with no raw Python or PostgreSQL error and no name of a
record the caller may not read, and nothing in the module's tables or the
partner columns it owns changes (checked with SQL)."""

import math
import xmlrpc.client

import odoo
from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from .common import NOW, SegmentationMixin

# faultCode of /xmlrpc/2 (odoo/addons/base/controllers/rpc.py)
FAULT_USER_ERROR = 2
FAULT_ACCESS_ERROR = 4

# Texts of errors that escaped the module's checks.
RAW_ERRORS = (
    "Traceback",
    "psycopg2",
    "TypeError",
    "ValueError",
    "KeyError",
    "IndexError",
    "AttributeError",
    "unhashable",
    "invalid input syntax",
    "out of range",
)
# An AccessError that does not name the argument refuses the method or model
# as a whole to the caller.
WHOLE_REFUSALS = (
    "Only members of the group",
    "You are not allowed to",
    "You do not have enough rights",
)
# Tables of the module, whole rows compared; res_partner is compared on the
# columns the module owns.
TABLES = (
    "customer_segment",
    "customer_segment_dimension",
    "customer_segment_override",
    "customer_segment_history",
    "customer_segmentation_pool_move",
    "customer_segmentation_run",
    "customer_segmentation_claim_counter",
    "customer_segmentation_settings",
    "customer_churn_dismiss",
    "res_config_settings",
    "res_partner_customer_segment_need_rel",
    "res_partner_segmentation_tag_rel",
    "customer_segment_partner_tag_rel",
)
HUGE = list(range(1, 200_001))

# The public recordset methods: (model, method, arguments after the ids).
RECORD_METHODS = (
    ("res.partner", "action_recompute_segments", ()),
    ("res.partner", "action_claim_from_pool", ()),
    ("res.partner", "action_dismiss_churn_risk", ("A fine reason",)),
    ("customer.segment", "action_view_customers", ()),
    ("customer.segment.dimension", "action_view_customers", ()),
    ("customer.segment.override", "action_end", ()),
    ("customer.churn.dismiss", "action_dismiss", ()),
    ("customer.segmentation.settings", "action_save", ()),
    ("customer.segmentation.settings", "action_save_and_recompute", ()),
    ("customer.segmentation.settings", "action_apply_segment_strategies", ()),
    ("res.config.settings", "action_recompute_all_segments", ()),
    ("res.config.settings", "action_apply_segment_strategies", ()),
    ("res.config.settings", "set_values", ()),
)
# args[0] of a recordset method as a hostile client sends it.
BAD_IDS = (
    ["abc"],
    ["1"],
    [[1]],
    [None],
    [False],
    [True],
    [1.5],
    [math.inf],
    [math.nan],
    [-1],
    [0],
    [],
    "abc",
    None,
    False,
    {"1": 1},
)
BAD_REASONS = (5, 1.5, math.inf, None, False, "", "   ", ["x"], {"x": 1}, "x" * 100_000)


@tagged("post_install", "-at_install")
class TestRpcHostile(SegmentationMixin, HttpCase):
    freeze_time = NOW

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls.other_company = cls.env["res.company"].create({"name": "CS Hostile Co"})
        cls.other_salesman = new_test_user(
            cls.env,
            "cs_hostile_other_salesman",
            groups="sales_team.group_sale_salesman",
            password="cs-hostile-other-pwd-1",
            company_id=cls.other_company.id,
            company_ids=[Command.set(cls.other_company.ids)],
        )
        company = cls.env.company.id
        cls.mine = cls._make_customer(
            "Hostile Own Customer",
            company_id=company,
            user_id=cls.salesman.id,
            churn_risk_score=100,
        )
        cls.pooled = cls._make_customer(
            "Hostile Pooled Customer", company_id=company, segmentation_in_pool=True
        )
        cls.secret = cls._make_customer(
            "Hostile Secret Customer",
            company_id=cls.other_company.id,
            user_id=cls.other_salesman.id,
            churn_risk_score=100,
            segmentation_in_pool=True,
        )
        cls.env["res.partner"].recompute_all_segments()
        Override = cls.env["customer.segment.override"]
        pin = {"dimension": "value", "segment_id": cls._segment_of("value", "high")}
        cls.pin = Override.create(
            {**pin, "partner_id": cls.mine.id, "reason": "Hostile Own Reason"}
        )
        cls.secret_pin = Override.create(
            {**pin, "partner_id": cls.secret.id, "reason": "Hostile Secret Reason"}
        )
        cls.wizards = {
            user: cls.env["customer.churn.dismiss"]
            .with_user(user)
            .create({"partner_ids": [Command.set(customer.ids)], "reason": "Fine"})
            for user, customer in (
                (cls.salesman, cls.mine),
                (cls.other_salesman, cls.secret),
            )
        }
        cls.settings = {
            user: cls.env["customer.segmentation.settings"].with_user(user).create({})
            for user in (cls.sales_manager, cls.env.user)
        }
        cls.config = cls.env["res.config.settings"].create({})
        cls.users = {
            "internal": (cls.internal_user, "cs-internal-pwd-1"),
            "salesman": (cls.salesman, "cs-salesman-pwd-1"),
            "manager": (cls.sales_manager, "cs-sales-manager-pwd-1"),
            "other company": (cls.other_salesman, "cs-hostile-other-pwd-1"),
        }

    @classmethod
    def _segment_of(cls, dimension, code):
        return cls.env.ref(f"customer_segmentation.segment_{dimension}_{code}").id

    def setUp(self):
        super().setUp()
        url = f"http://127.0.0.1:{odoo.tools.config['http_port']}/xmlrpc/2"
        self.common = xmlrpc.client.ServerProxy(f"{url}/common")
        self.object = xmlrpc.client.ServerProxy(f"{url}/object", allow_none=True)
        self.uids = {
            key: self.common.authenticate(self.env.cr.dbname, user.login, pwd, {})
            for key, (user, pwd) in self.users.items()
        }

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _digest(self):
        """What the module owns, as compared before and after each call."""
        self.env.flush_all()
        cr = self.env.cr
        digest = {}
        for table in TABLES:
            cr.execute(
                SQL(
                    "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
                    "'')) FROM %s t",
                    SQL.identifier(table),
                )
            )
            digest[table] = cr.fetchone()[0]
        cr.execute(
            """SELECT column_name FROM information_schema.columns
                WHERE table_name = 'res_partner'
                  AND (column_name ~ '^(segment|segmentation|rfm|churn|x_cs)_'
                       OR column_name IN ('first_order_date', 'last_order_date',
                                          'user_id', 'write_date'))"""
        )
        columns = sorted(row[0] for row in cr.fetchall())
        cr.execute(
            SQL(
                "SELECT md5(string_agg(ROW(%s)::text, '|' ORDER BY id)) "
                "FROM res_partner",
                SQL(", ").join(SQL.identifier(column) for column in columns),
            )
        )
        digest["res_partner"] = cr.fetchone()[0]
        for query in (
            """SELECT md5(string_agg(key || '=' || value, '|' ORDER BY key))
                 FROM ir_config_parameter
                WHERE key LIKE 'customer_segmentation.%'""",
            "SELECT count(*), max(id) FROM mail_message WHERE model = 'res.partner'",
            "SELECT count(*), max(id) FROM mail_activity",
        ):
            cr.execute(query)
            digest[query] = cr.fetchall()
        return digest

    def _call(self, user, model, method, args, kwargs=None):
        login_user, password = self.users[user]
        self.env.flush_all()
        try:
            return self.object.execute_kw(
                self.env.cr.dbname,
                self.uids[user],
                password,
                model,
                method,
                args,
                kwargs or {},
            )
        finally:
            self.env.invalidate_all()

    def _hidden_names(self, user):
        """Names the user may not read."""
        if user == "other company":
            return [self.mine.name, self.pooled.name, "Hostile Own Reason"]
        return [self.secret.name, "Hostile Secret Reason"]

    def _assert_refused(self, user, model, method, args, argument, kwargs=None):
        """The call faults as the module docstring says, and changes nothing."""
        before = self._digest()
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self._call(user, model, method, args, kwargs)
        code, message = caught.exception.faultCode, caught.exception.faultString
        self.assertIn(code, (FAULT_USER_ERROR, FAULT_ACCESS_ERROR), message[:3000])
        for text in (*RAW_ERRORS, *self._hidden_names(user)):
            self.assertNotIn(text, message)
        if code == FAULT_USER_ERROR or argument in message:
            self.assertIn(argument, message)
        else:
            self.assertTrue(
                any(text in message for text in WHOLE_REFUSALS),
                f"{message!r} names neither {argument!r} nor a whole refusal",
            )
        self.assertLess(len(message), 3000)
        self.assertEqual(self._digest(), before, "the refused call wrote")

    def _other_ids(self, user, model):
        """Ids of ``model`` that exist but that ``user`` may not use."""
        theirs = {
            "res.partner": (self.mine if user == "other company" else self.secret),
            "customer.segment.override": (
                self.pin if user == "other company" else self.secret_pin
            ),
            "customer.churn.dismiss": self.wizards[
                self.salesman if user == "other company" else self.other_salesman
            ],
            "customer.segmentation.settings": self.settings[self.env.user],
            "res.config.settings": self.config,
        }.get(model)
        return theirs.ids if theirs else []

    def _missing_id(self, model):
        self.env.cr.execute(
            SQL(
                "SELECT coalesce(max(id), 0) + 1000 FROM %s",
                SQL.identifier(self.env[model]._table),
            )
        )
        return self.env.cr.fetchone()[0]

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------

    @mute_logger("odoo.http")
    def test_bad_ids(self):
        for user in self.users:
            for model, method, rest in RECORD_METHODS:
                cases = [
                    *BAD_IDS,
                    [self._missing_id(model)],
                    [self._missing_id(model), self._missing_id(model) + 1],
                ]
                if self._other_ids(user, model):
                    cases.append(self._other_ids(user, model))
                for ids in cases:
                    with self.subTest(user=user, method=f"{model}.{method}", ids=ids):
                        self._assert_refused(user, model, method, [ids, *rest], "(ids)")

    @mute_logger("odoo.http")
    def test_huge_lists(self):
        for model, method, rest in RECORD_METHODS:
            with self.subTest(method=f"{model}.{method}"):
                self._assert_refused("manager", model, method, [HUGE, *rest], "(ids)")

    @mute_logger("odoo.http")
    def test_ids_beyond_postgresql_integers(self):
        # xmlrpc.client refuses to send them; a hand-made request can
        for value in (2**31, 2**63):
            body = xmlrpc.client.dumps(
                (
                    self.env.cr.dbname,
                    self.uids["salesman"],
                    self.users["salesman"][1],
                    "res.partner",
                    "action_claim_from_pool",
                    [[424242]],
                    {},
                ),
                "execute_kw",
            ).replace("<int>424242</int>", f"<i8>{value}</i8>")
            before = self._digest()
            self.env.flush_all()
            response = self.url_open(
                "/xmlrpc/2/object", data=body, headers={"Content-Type": "text/xml"}
            )
            self.env.invalidate_all()
            with self.assertRaises(xmlrpc.client.Fault) as caught:
                xmlrpc.client.loads(response.content)
            self.assertEqual(caught.exception.faultCode, FAULT_USER_ERROR)
            self.assertIn("(ids)", caught.exception.faultString)
            self.assertEqual(self._digest(), before)

    @mute_logger("odoo.http")
    def test_bad_reasons(self):
        for user in self.users:
            own = self.secret if user == "other company" else self.mine
            for reason in BAD_REASONS:
                with self.subTest(user=user, reason=repr(reason)[:30]):
                    self._assert_refused(
                        user,
                        "res.partner",
                        "action_dismiss_churn_risk",
                        [own.ids, reason],
                        "(reason)",
                    )
        # a warning of another salesperson's customer
        self._assert_refused(
            "salesman",
            "res.partner",
            "action_dismiss_churn_risk",
            [self.pooled.ids, "Not mine"],
            "account manager",
        )

    @mute_logger("odoo.http")
    def test_model_methods(self):
        for user in ("internal", "salesman", "other company"):
            for method in ("recompute_all_segments", "apply_segment_strategies"):
                with self.subTest(user=user, method=method):
                    self._assert_refused(
                        user, "res.partner", method, [], "group", {"context": {}}
                    )
        for fields_list in (5, None, "name", [["x"]], ["no_such_field"], [None]):
            with self.subTest(fields_list=fields_list):
                self._assert_refused(
                    "manager",
                    "customer.segmentation.settings",
                    "default_get",
                    [fields_list],
                    "fields_list",
                )

    @mute_logger("odoo.http")
    def test_engine_fields(self):
        segment = self._segment_of("value", "low")
        forged = {
            "segmentation_in_pool": True,
            "churn_dismissed": True,
            "churn_dismiss_reason": "x" * 100_000,
            "segment_value_id": segment,
            "rfm_monetary": 1e300,
            "segmentation_manager_since": "2000-01-01",
        }
        for user in self.users:
            for name, value in forged.items():
                argument = f"({name})" if user != "internal" else name
                with self.subTest(user=user, write=name):
                    self._assert_refused(
                        user,
                        "res.partner",
                        "write",
                        [self.mine.ids, {name: value}],
                        argument,
                    )
                with self.subTest(user=user, create=name):
                    self._assert_refused(
                        user,
                        "res.partner",
                        "create",
                        [{"name": "Hostile Forged", name: value}],
                        argument,
                    )
        for name, value in (
            ("active", False),
            ("user_id", self.internal_user.id),
            ("rule_segment_id", segment),
            ("ended_by_id", self.internal_user.id),
            ("date_end", "2000-01-01 00:00:00"),
            ("company_id", self.other_company.id),
        ):
            with self.subTest(pin=name):
                self._assert_refused(
                    "manager",
                    "customer.segment.override",
                    "write",
                    [self.pin.ids, {name: value}],
                    f"({name})",
                )

    @mute_logger("odoo.http")
    def test_bad_pins(self):
        cases = [
            ({"partner_id": "abc"}, "(partner_id)"),
            ({"partner_id": [self.pooled.id]}, "(partner_id)"),
            ({"partner_id": 1.5}, "(partner_id)"),
            ({"partner_id": self._missing_id("res.partner")}, "(partner_id)"),
            ({"segment_id": "high"}, "(segment_id)"),
            ({"segment_id": None}, "(segment_id)"),
            ({"dimension": ["value"]}, "(dimension)"),
            ({"dimension": "x" * 10_000}, "(dimension)"),
            ({"reason": 5}, "(reason)"),
            ({"reason": "x" * 100_000}, "(reason)"),
            ({"date_expiry": "soon"}, "(date_expiry)"),
            ({"date_expiry": "99999-01-01"}, "(date_expiry)"),
        ]
        # each user pins a customer it may read, then one it may not
        for user, own, other in (
            ("manager", self.pooled, self.secret),
            ("other company", self.secret, self.pooled),
        ):
            valid = {
                "partner_id": own.id,
                "dimension": "value",
                "segment_id": self._segment_of("value", "high"),
                "reason": "Key account",
            }
            for values, argument in [
                *cases,
                ({"partner_id": other.id}, "(partner_id)"),
            ]:
                with self.subTest(user=user, values=repr(values)[:60]):
                    self._assert_refused(
                        user,
                        "customer.segment.override",
                        "create",
                        [{**valid, **values}],
                        argument,
                    )
        for values, argument in cases[4:]:
            if "dimension" in values:
                continue
            with self.subTest(write=repr(values)[:60]):
                self._assert_refused(
                    "manager",
                    "customer.segment.override",
                    "write",
                    [self.pin.ids, values],
                    argument,
                )

    @mute_logger("odoo.http")
    def test_hostile_settings_and_fields(self):
        """Bad values of the settings and of the segments' fields, bounded by
        the settings and fields checks: refused when saved, nothing stored."""
        settings_cases = [
            ("segmentation_lookback_days", 1_000_000),
            ("segmentation_lookback_days", -1),
            ("segmentation_lookback_days", "abc"),
            ("segmentation_lookback_days", math.nan),
            ("segmentation_lookback_days", 2**31 - 1),
            ("segmentation_new_days", math.inf),
            ("segmentation_churn_days", 10**9),
            ("segmentation_value_high_amount", math.inf),
            ("segmentation_value_high_amount", math.nan),
            ("segmentation_value_medium_amount", 1e308),
            ("segmentation_value_high_share", math.nan),
            ("segmentation_churn_full_risk_ratio", math.inf),
            ("segmentation_churn_full_risk_ratio", 1e12),
            ("segmentation_scale_large_revenue", math.inf),
            ("segmentation_pool_daily_claim_limit", 10**9),
            ("segmentation_pool_grace_days", 10**9),
            ("segmentation_churn_risk_threshold", math.nan),
        ]
        for name, value in settings_cases:
            with self.subTest(setting=name, value=value):
                before = self._digest()
                try:
                    settings_id = self._call(
                        "manager",
                        "customer.segmentation.settings",
                        "create",
                        [{name: value}],
                    )
                except xmlrpc.client.Fault as fault:
                    self._check_fault(fault, name.removeprefix("segmentation_"))
                else:
                    with self.assertRaises(xmlrpc.client.Fault) as caught:
                        self._call(
                            "manager",
                            "customer.segmentation.settings",
                            "action_save",
                            [[settings_id]],
                        )
                    self._check_fault(
                        caught.exception, name.removeprefix("segmentation_")
                    )
                after = self._digest()
                # a settings record may have been created; nothing else changes
                after["customer_segmentation_settings"] = before[
                    "customer_segmentation_settings"
                ]
                self.assertEqual(after, before)
        segment = self._segment_of("value", "low")
        segment_cases = [
            ("followup_days", 10**9),
            ("followup_days", -5),
            ("followup_summary", "{customer.__init__.__globals__}"),
            ("followup_summary", "{customer:>100000000}"),
            ("followup_summary", "x" * 100_000),
            ("rule_domain", "[('id', '=', 1)" + ")" * 10_000),
            ("name", "x" * 100_000),
            ("code", "x" * 100_000),
            ("description", "x" * 1_000_000),
            ("job_title_keywords", "x" * 100_000),
        ]
        Segment = self.env["customer.segment"]
        for name, value in segment_cases:
            with self.subTest(segment=name, value=repr(value)[:40]):
                before = self._digest()
                with self.assertRaises(xmlrpc.client.Fault) as caught:
                    self._call(
                        "manager",
                        "customer.segment",
                        "write",
                        [[segment], {name: value}],
                    )
                self._check_fault(caught.exception, name, Segment._fields[name].string)
                self.assertEqual(self._digest(), before)

    def _check_fault(self, fault, *names):
        """A UserError or AccessError fault naming one of ``names``."""
        code, message = fault.faultCode, fault.faultString
        self.assertIn(code, (FAULT_USER_ERROR, FAULT_ACCESS_ERROR), message[:3000])
        for text in RAW_ERRORS:
            self.assertNotIn(text, message)
        self.assertTrue(
            any(name in message for name in names), f"{message!r} names none of {names}"
        )
