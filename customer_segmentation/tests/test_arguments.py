"""What callers pass to the public methods: ids and text are checked before
anything is read or written, and refused with an error naming the argument
and no record the caller may not read."""

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.customer_segmentation.models.arguments import (
    MAX_RECORDS,
    MAX_TEXT_LENGTH,
)

from .common import SegmentationCase

# Record ids as a remote caller may send them, none of them a record id.
BAD_IDS = [
    ("abc",),
    ("1",),
    ([1],),
    ((1, 2),),
    (None,),
    (False,),
    (True,),
    (1.0,),
    (float("nan"),),
    (0,),
    (-3,),
    (2**31,),
    (2**64,),
]
BAD_REASONS = [5, 1.5, ["a reason"], {"a": "reason"}, True, "", "   ", "a\x00b"]
SECRET_NAME = "Secret Customer Of The Other Company"


@tagged("post_install", "-at_install")
class TestArguments(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.env["res.company"].create({"name": "CS Other Co"})
        cls.other_salesman = new_test_user(
            cls.env,
            "cs_args_other_salesman",
            groups="sales_team.group_sale_salesman",
            company_id=cls.other_company.id,
            company_ids=[Command.set(cls.other_company.ids)],
        )
        cls.secret = cls._make_customer(
            SECRET_NAME,
            company_id=cls.other_company.id,
            churn_risk_score=100,
            segmentation_in_pool=True,
        )
        cls.warned = cls._make_customer(
            "Warned Customer", user_id=cls.salesman.id, churn_risk_score=100
        )
        cls.pooled = cls._make_customer("Pooled Customer", segmentation_in_pool=True)
        cls.missing_id = cls.env["res.partner"].search([], order="id desc", limit=1).id
        cls.missing_id += 1000

    def _partners(self, ids, user=None):
        return self.env["res.partner"].with_user(user or self.salesman).browse(ids)

    def _partner_methods(self):
        return {
            "action_recompute_segments": lambda p: p.action_recompute_segments(),
            "action_claim_from_pool": lambda p: p.action_claim_from_pool(),
            "action_dismiss_churn_risk": lambda p: p.action_dismiss_churn_risk(
                "Orders through a distributor"
            ),
        }

    def _assert_untouched(self):
        self.assertFalse(
            self.env["customer.segmentation.pool.move"].search([("move", "=", "claim")])
        )
        self.assertFalse((self.warned | self.secret).filtered("churn_dismissed"))
        self.assertTrue(self.pooled.segmentation_in_pool)

    def test_bad_ids(self):
        for method, call in self._partner_methods().items():
            for ids in BAD_IDS:
                with self.subTest(method=method, ids=ids):
                    with self.assertRaises(UserError) as caught:
                        call(self._partners(ids))
                    self.assertIn("(ids)", str(caught.exception))
                    self.assertNotIsInstance(caught.exception, AccessError)
        self._assert_untouched()

    def test_no_ids_and_too_many_ids(self):
        too_many = list(range(1, MAX_RECORDS + 2))
        for method, call in self._partner_methods().items():
            for ids, expected in (
                ([], "at least one"),
                (too_many, f"at most {MAX_RECORDS}"),
            ):
                with self.subTest(method=method, count=len(ids)):
                    with self.assertRaises(UserError) as caught:
                        call(self._partners(ids))
                    self.assertIn("(ids)", str(caught.exception))
                    self.assertIn(expected, str(caught.exception))
        self._assert_untouched()

    def test_ids_that_do_not_exist(self):
        for method, call in self._partner_methods().items():
            with self.subTest(method=method):
                with self.assertRaises(UserError) as caught:
                    call(self._partners([self.pooled.id, self.missing_id]))
                self.assertIn(str(self.missing_id), str(caught.exception))
                self.assertIn("(ids)", str(caught.exception))
        self._assert_untouched()

    def test_ids_the_caller_cannot_read(self):
        for method, call in self._partner_methods().items():
            with self.subTest(method=method):
                with self.assertRaises(AccessError) as caught:
                    call(self._partners([self.secret.id]))
                message = str(caught.exception)
                self.assertIn("(ids)", message)
                self.assertIn(str(self.secret.id), message)
                self.assertNotIn(SECRET_NAME, message)
        self._assert_untouched()

    def test_repeated_ids_count_once(self):
        self._partners([self.pooled.id, self.pooled.id]).action_claim_from_pool()
        moves = self.env["customer.segmentation.pool.move"].search(
            [("move", "=", "claim")]
        )
        self.assertEqual(moves.partner_id, self.pooled)
        self.assertEqual(len(moves), 1)

    def test_bad_reasons(self):
        for reason in BAD_REASONS:
            with self.subTest(reason=reason):
                with self.assertRaises(UserError) as caught:
                    self._partners(self.warned.ids).action_dismiss_churn_risk(reason)
                self.assertIn("(reason)", str(caught.exception))
        with self.assertRaises(UserError) as caught:
            self._partners(self.warned.ids).action_dismiss_churn_risk(
                "x" * (MAX_TEXT_LENGTH + 1)
            )
        self.assertIn("(reason)", str(caught.exception))
        self.assertIn(str(MAX_TEXT_LENGTH), str(caught.exception))
        self._assert_untouched()
        # the longest reason allowed is kept whole
        longest = "x" * MAX_TEXT_LENGTH
        self._partners(self.warned.ids).action_dismiss_churn_risk(f"  {longest}  ")
        self.assertEqual(self.warned.churn_dismiss_reason, longest)

    def test_single_record_methods(self):
        segment = self._segment("value", "high")
        dimension = segment.dimension_id
        calls = {
            "customer.segment": lambda ids: (
                self.env["customer.segment"]
                .with_user(self.salesman)
                .browse(ids)
                .action_view_customers()
            ),
            "customer.segment.dimension": lambda ids: (
                self.env["customer.segment.dimension"]
                .with_user(self.salesman)
                .browse(ids)
                .action_view_customers()
            ),
        }
        for model, call in calls.items():
            record = segment if model == "customer.segment" else dimension
            for ids in ([], [record.id, record.id + 1], ["abc"], [None]):
                with self.subTest(model=model, ids=ids):
                    with self.assertRaises(UserError) as caught:
                        call(ids)
                    self.assertIn("(ids)", str(caught.exception))
            self.assertEqual(call([record.id])["type"], "ir.actions.act_window")

    def test_pin_ids(self):
        pin = (
            self.env["customer.segment.override"]
            .with_user(self.sales_manager)
            .create(
                {
                    "partner_id": self.warned.id,
                    "dimension": "value",
                    "segment_id": self._segment("value", "high").id,
                    "reason": "Key account",
                }
            )
        )
        Override = self.env["customer.segment.override"].with_user(self.sales_manager)
        for ids in (["abc"], [[pin.id]], [None], [], [pin.id + 1000]):
            with self.subTest(ids=ids):
                with self.assertRaises(UserError) as caught:
                    Override.browse(ids).action_end()
                self.assertIn("(ids)", str(caught.exception))
        self.assertTrue(pin.active)
        # a plain salesman may read pins, not end them
        with self.assertRaises(AccessError) as caught:
            pin.with_user(self.salesman).action_end()
        self.assertIn("(ids)", str(caught.exception))
        self.assertTrue(pin.active)

    def test_pin_values(self):
        Override = self.env["customer.segment.override"].with_user(self.sales_manager)
        valid = {
            "partner_id": self.warned.id,
            "dimension": "value",
            "segment_id": self._segment("value", "high").id,
            "reason": "Key account",
        }
        cases = [
            ({"partner_id": "abc"}, "(partner_id)"),
            ({"partner_id": [self.warned.id]}, "(partner_id)"),
            ({"partner_id": self.missing_id}, "(partner_id)"),
            ({"segment_id": "high"}, "(segment_id)"),
            ({"segment_id": 2**40}, "(segment_id)"),
            ({"dimension": "no_such_dimension"}, "(dimension)"),
            ({"dimension": ["value"]}, "(dimension)"),
            ({"reason": 42}, "(reason)"),
            ({"reason": "x" * (MAX_TEXT_LENGTH + 1)}, "(reason)"),
            ({"date_expiry": "tomorrow"}, "(date_expiry)"),
            ({"date_expiry": "2026-13-45"}, "(date_expiry)"),
        ]
        for values, argument in cases:
            with self.subTest(values=values):
                with self.assertRaises(UserError) as caught:
                    Override.create({**valid, **values})
                self.assertIn(argument, str(caught.exception))
        with self.assertRaises(AccessError) as caught:
            Override.create({**valid, "partner_id": self.secret.id})
        self.assertIn("(partner_id)", str(caught.exception))
        self.assertNotIn(SECRET_NAME, str(caught.exception))
        self.assertFalse(
            self.env["customer.segment.override"].search(
                [("partner_id", "in", (self.warned | self.secret).ids)]
            )
        )
        pin = Override.create(valid)
        for values, argument in cases[3:]:
            if "dimension" in values:
                continue
            with self.subTest(write=values):
                with self.assertRaises(UserError) as caught:
                    pin.write(values)
                self.assertIn(argument, str(caught.exception))
        self.assertRecordValues(pin, [{**valid, "date_expiry": False}])

    def test_settings_records(self):
        Settings = self.env["customer.segmentation.settings"]
        mine = Settings.with_user(self.sales_manager).create({})
        other_manager = new_test_user(
            self.env, "cs_args_other_manager", groups="sales_team.group_sale_manager"
        )
        theirs = Settings.with_user(other_manager).create({})
        calls = {
            "action_save": lambda s: s.action_save(),
            "action_apply_segment_strategies": lambda s: (
                s.action_apply_segment_strategies()
            ),
        }
        for method, call in calls.items():
            for ids in ([], [mine.id, theirs.id], ["abc"], [mine.id + 1000]):
                with self.subTest(method=method, ids=ids):
                    with self.assertRaises(UserError) as caught:
                        call(Settings.with_user(self.sales_manager).browse(ids))
                    self.assertIn("(ids)", str(caught.exception))
            with self.subTest(method=method, ids="another user's"):
                with self.assertRaises(AccessError) as caught:
                    call(theirs.with_user(self.sales_manager))
                self.assertIn("(ids)", str(caught.exception))
        for fields_list in (5, None, [["name"]], ["no_such_field"]):
            with self.subTest(fields_list=fields_list):
                with self.assertRaises(UserError) as caught:
                    Settings.with_user(self.sales_manager).default_get(fields_list)
                self.assertIn("fields_list", str(caught.exception))

    def test_dismiss_wizard_refuses_customers_the_caller_cannot_read(self):
        wizard = (
            self.env["customer.churn.dismiss"]
            .with_user(self.salesman)
            .create(
                {
                    "partner_ids": [Command.set((self.warned | self.secret).ids)],
                    "reason": "Both fine",
                }
            )
        )
        with self.assertRaises(AccessError) as caught:
            wizard.action_dismiss()
        self.assertNotIn(SECRET_NAME, str(caught.exception))
        self._assert_untouched()
        other = (
            self.env["customer.churn.dismiss"]
            .with_user(self.other_salesman)
            .create({"partner_ids": [Command.set(self.secret.ids)], "reason": "x"})
        )
        with self.assertRaises(AccessError):
            other.with_user(self.salesman).action_dismiss()
        self._assert_untouched()
