"""A reason is stored as a code with its figures and read in the language of
whoever reads it: a Chinese manager reads in Chinese what an English user's
run changed."""

from odoo.tests import new_test_user, tagged

from .common import SegmentationCase, days_ago


@tagged("post_install", "-at_install")
class TestReasonsInTheReadersLanguage(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("zh_CN")
        cls.env["ir.module.module"]._load_module_terms(
            ["customer_segmentation"], ["zh_CN"], overwrite=True
        )
        cls.english = new_test_user(
            cls.env,
            "cs_reason_english",
            groups="sales_team.group_sale_manager",
            lang="en_US",
        )
        cls.chinese = new_test_user(
            cls.env,
            "cs_reason_chinese",
            groups="sales_team.group_sale_manager",
            lang="zh_CN",
        )
        cls.customer = cls._make_customer("Reason Customer")
        cls._make_order(cls.customer, 100.0, days_ago(3))

    @staticmethod
    def _as(record, user):
        """``record`` as ``user`` reads it in the web client: in its
        language."""
        return record.with_user(user).with_context(lang=user.lang)

    def test_history_reads_in_the_readers_language(self):
        # an English user's run moves the customer from new to active
        self._make_order(self.customer, 100.0, days_ago(200), classify=False)
        self.env["res.partner"].with_user(self.english).recompute_all_segments()
        [row] = self.env["customer.segment.history"].search(
            [("partner_id", "=", self.customer.id), ("dimension", "=", "lifecycle")],
            order="id desc",
            limit=1,
        )
        self.assertEqual(row.reason_code, "lifecycle_active")
        self.assertEqual(
            self._as(row, self.english).reason,
            "last purchase 3 days ago ≤ active period 180 days",
        )
        self.assertEqual(
            self._as(row, self.chinese).reason,
            "最近一次购买于 3 天前 ≤ 活跃期 180 天",
        )

    def test_explanation_and_segment_names_in_the_readers_language(self):
        customer = self._as(self.customer, self.chinese)
        self.assertIn("首次购买于 3 天前", customer.segmentation_explanation)
        self.assertIn(
            customer.segment_lifecycle_id.with_context(lang="zh_CN").name,
            customer.segmentation_explanation,
        )
        english = self._as(self.customer, self.english)
        self.assertIn("first purchase 3 days ago", english.segmentation_explanation)

    def test_chatter_names_segments_in_the_readers_language(self):
        lifecycle = self.env["ir.model.fields"]._get(
            "res.partner", "segment_lifecycle_id"
        )
        new, active = (
            self._segment("lifecycle", "new"),
            self._segment("lifecycle", "active"),
        )
        message = self.customer.with_user(self.english)._message_log(
            body="",
            tracking_value_ids=[
                (
                    0,
                    0,
                    {
                        "field_id": lifecycle.id,
                        "old_value_integer": new.id,
                        "new_value_integer": active.id,
                        "old_value_char": "New Customer",
                        "new_value_char": "Active Customer",
                    },
                )
            ],
        )
        # the chatter formats tracking values for the reader (with sudo)
        formatted = message.tracking_value_ids.with_context(
            lang=self.chinese.lang
        )._tracking_value_format()
        self.assertEqual(
            (formatted[0]["oldValue"]["value"], formatted[0]["newValue"]["value"]),
            (
                new.with_context(lang="zh_CN").name,
                active.with_context(lang="zh_CN").name,
            ),
        )
        self.assertNotEqual(new.with_context(lang="zh_CN").name, "New Customer")
