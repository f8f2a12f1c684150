"""A mailing to a segment: a new mailing's form, saved as a draft on contacts
whose domain selects the segment's customers of the company when it is sent,
in the segment's campaign, and the results of that campaign per segment."""

from ast import literal_eval

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.customer_segmentation.tests.common import SegmentationCase, days_ago
from odoo.addons.customer_segmentation.tests.test_multi_company import (
    TwoCompaniesMixin,
)

MAILING_USER_GROUPS = (
    "sales_team.group_sale_salesman,mass_mailing.group_mass_mailing_user"
)
RESULTS = (
    "mailing_count",
    "mailing_sent",
    "mailing_opened",
    "mailing_replied",
    "mailing_order_count",
    "mailing_revenue",
)


@tagged("post_install", "-at_install")
class TestSegmentMailing(TwoCompaniesMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_two_companies()
        cls._recompute_both()
        # In A: shared is high value, customer_a low; in B: customer_b is
        # high value, shared medium.
        cls.shared.email = "shared@example.com"
        cls.customer_a.email = "only.a@example.com"
        cls.customer_b.email = "only.b@example.com"
        cls.high = cls.env.ref("customer_segmentation.segment_value_high")
        cls.low = cls.env.ref("customer_segmentation.segment_value_low")
        cls.mailer_a = new_test_user(
            cls.env,
            "cs_mm_mailer_a",
            groups=MAILING_USER_GROUPS,
            email="mailer.a@example.com",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )
        cls.mailer_b = new_test_user(
            cls.env,
            "cs_mm_mailer_b",
            groups=MAILING_USER_GROUPS,
            email="mailer.b@example.com",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )

    def _open_mailing(self, segment, user=None):
        """The action of Send a Mailing on ``segment``: a new mailing's
        form, nothing written yet."""
        action = segment.with_user(user or self.mailer_a).action_send_mailing()
        self.assertEqual(action["res_model"], "mailing.mailing")
        self.assertEqual(action["views"], [(False, "form")])
        self.assertFalse(action.get("res_id"))
        return action

    def _save_form(self, action, user=None):
        """The mailing a user gets by saving, unchanged, the form that
        ``action`` opens."""
        Mailing = self.env["mailing.mailing"].with_user(user or self.mailer_a)
        form = Form(Mailing.with_context(**action["context"]))
        return self.env["mailing.mailing"].browse(form.save().id)

    def _send_mailing(self, segment, user=None):
        """The draft mailing Send a Mailing on ``segment`` gives once saved."""
        return self._save_form(self._open_mailing(segment, user), user)

    def _counts(self):
        """Mailings, campaigns and UTM sources (a mailing's name) in the
        database."""
        return {
            model: self.env[model].with_context(active_test=False).search_count([])
            for model in ("mailing.mailing", "utm.campaign", "utm.source")
        }

    def _recipients(self, mailing, user=None, company=None):
        mailing = mailing.with_user(user or self.mailer_a)
        if company:
            mailing = mailing.with_company(company)
        return self.env["res.partner"].browse(mailing._get_recipients())

    def test_draft_mailing_selects_the_segment_customers_of_the_company(self):
        mailing = self._send_mailing(self.high)
        self.assertEqual(mailing.state, "draft")
        self.assertEqual(mailing.mailing_model_real, "res.partner")
        self.assertEqual(mailing.customer_segment_id, self.high)
        self.assertEqual(mailing.segmentation_company_id, self.company_a)
        # a domain on the segment, not a list of customers frozen now
        domain = literal_eval(mailing.mailing_domain)
        self.assertIn(("segment_value_id", "=", self.high.id), domain)
        self.assertFalse([leaf for leaf in domain if leaf[0] == "id"])
        # customer_b is high value in company B only
        self.assertEqual(self._recipients(mailing), self.shared)
        self.assertEqual(mailing.with_user(self.mailer_a).total, 1)

    def test_nothing_is_written_before_the_form_is_saved(self):
        """A user who opens Send a Mailing and only looks leaves no draft
        and no campaign behind; saving the form makes both."""
        before = self._counts()
        action = self._open_mailing(self.high)
        self.assertEqual(self._counts(), before)
        context = action["context"]
        self.assertEqual(context["default_customer_segment_id"], self.high.id)
        self.assertEqual(context["default_segmentation_company_id"], self.company_a.id)
        self.assertEqual(context["default_subject"], self.high.name)
        self.assertEqual(
            context["default_mailing_model_id"],
            self.env["ir.model"]._get_id("res.partner"),
        )
        self.assertIn(
            ("segment_value_id", "=", self.high.id),
            literal_eval(context["default_mailing_domain"]),
        )
        # the segment's first mailing in A: no campaign yet
        self.assertNotIn("default_campaign_id", context)
        mailing = self._save_form(action)
        self.assertEqual(
            self._counts(),
            {
                "mailing.mailing": before["mailing.mailing"] + 1,
                "utm.campaign": before["utm.campaign"] + 1,
                "utm.source": before["utm.source"] + 1,
            },
        )
        self.assertEqual(mailing.subject, self.high.name)
        self.assertEqual(mailing.campaign_id.customer_segment_id, self.high)
        # the next one opens in the segment's campaign
        again = self._open_mailing(self.high)
        self.assertEqual(
            again["context"]["default_campaign_id"], mailing.campaign_id.id
        )
        # so does a selection of contacts: nothing before saving
        before = self._counts()
        action = (
            (self.shared + self.customer_a)
            .with_user(self.mailer_a)
            .action_send_mailing()
        )
        self.assertFalse(action.get("res_id"))
        self.assertEqual(self._counts(), before)

    def test_domain_is_evaluated_when_the_mailing_is_sent(self):
        mailing = self._send_mailing(self.high)
        self.assertEqual(self._recipients(mailing), self.shared)
        # customer_a buys enough to become high value in A
        self._make_order(self.customer_a, 5000.0, days_ago(3))
        self.assertSegments(self.customer_a, value="high")
        self.assertEqual(self._recipients(mailing), self.shared + self.customer_a)
        # the mailing queue may run in another company: still A's segments
        superuser = self.env.ref("base.user_root")
        self.assertEqual(
            self._recipients(mailing, user=superuser, company=self.company_b),
            self.shared + self.customer_a,
        )
        # sending it as Odoo does mails exactly those customers
        mailing.with_user(self.mailer_a).action_send_mail()
        traces = self.env["mailing.trace"].search(
            [("mass_mailing_id", "=", mailing.id)]
        )
        self.assertEqual(
            sorted(traces.mapped("res_id")),
            sorted((self.shared + self.customer_a).ids),
        )

    def test_user_of_company_b_gets_company_b_customers_only(self):
        mailing_b = self._send_mailing(self.high, user=self.mailer_b)
        self.assertEqual(mailing_b.segmentation_company_id, self.company_b)
        self.assertEqual(
            self._recipients(mailing_b, user=self.mailer_b), self.customer_b
        )
        mailing_a = self._send_mailing(self.high)
        # B's user sees A's mailing, not A's customers
        self.assertFalse(self._recipients(mailing_a, user=self.mailer_b))
        self.env.invalidate_all()  # as a new request of B's user
        self.assertEqual(mailing_a.with_user(self.mailer_b).total, 0)
        self.assertNotEqual(mailing_a.campaign_id, mailing_b.campaign_id)
        self.assertEqual(mailing_b.campaign_id.company_id, self.company_b)

    def test_campaign_per_segment_is_created_once_and_reused(self):
        Campaign = self.env["utm.campaign"]
        first = self._send_mailing(self.high)
        second = self._send_mailing(self.high)
        other = self._send_mailing(self.low)
        campaign = first.campaign_id
        self.assertTrue(campaign)
        self.assertEqual(second.campaign_id, campaign)
        self.assertNotEqual(other.campaign_id, campaign)
        self.assertEqual(
            Campaign.search_count([("customer_segment_id", "=", self.high.id)]), 1
        )
        self.assertIn(self.high.name, campaign.title)
        self.assertIn(self.company_a.name, campaign.title)
        self.assertEqual(campaign.company_id, self.company_a)
        # an archived campaign is still the segment's
        campaign.active = False
        self.assertEqual(self._send_mailing(self.high).campaign_id, campaign)

    def test_ab_test_of_a_segment_is_in_the_segment_campaign(self):
        """Saved with A/B testing on, a segment's first mailing is in the
        segment's campaign, not in one Odoo makes for the test."""
        action = self._open_mailing(self.low)
        Mailing = self.env["mailing.mailing"].with_user(self.mailer_a)
        ab_test = Mailing.with_context(**action["context"]).create(
            {"subject": "A/B", "ab_testing_enabled": True, "ab_testing_pc": 10}
        )
        self.assertEqual(ab_test.customer_segment_id, self.low)
        campaign = ab_test.campaign_id
        self.assertEqual(campaign.customer_segment_id, self.low)
        self.assertEqual(
            campaign.title,
            f"{self.low.dimension_id.name}: {self.low.name} ({self.company_a.name})",
        )
        self.assertEqual(
            self.env["utm.campaign"].search_count(
                [("customer_segment_id", "=", self.low.id)]
            ),
            1,
        )
        # a campaign made in the mailing's form is no segment's
        other = (
            self.env["utm.campaign"]
            .with_user(self.mailer_a)
            .with_context(**action["context"])
            .create({"title": "Spring"})
        )
        self.assertFalse(other.customer_segment_id)

    def _trace(self, mailing, partner, status):
        return {
            "mass_mailing_id": mailing.id,
            "model": "res.partner",
            "res_id": partner.id,
            "email": partner.email,
            "trace_status": status,
            "sent_datetime": "2026-06-10 10:00:00",
        }

    def _campaign_order(self, mailing, partner, amount, invoice=False):
        """An order of a customer who came by a link of ``mailing``: Odoo
        gives it the mailing's campaign, source and medium."""
        order = self.env["sale.order"].create(
            {
                **self._order_values(partner, amount),
                "campaign_id": mailing.campaign_id.id,
                "source_id": mailing.source_id.id,
                "medium_id": mailing.medium_id.id,
            }
        )
        if invoice:
            order.action_confirm()
            order._create_invoices().action_post()
        return order

    def test_results_per_segment(self):
        first = self._send_mailing(self.high)
        second = self._send_mailing(self.high)
        low = self._send_mailing(self.low)
        self.env["mailing.trace"].create(
            [
                self._trace(first, self.shared, "sent"),
                self._trace(first, self.customer_a, "open"),
                self._trace(first, self.customer_b, "reply"),
                self._trace(second, self.shared, "open"),
                self._trace(low, self.customer_a, "reply"),
            ]
        )
        self._campaign_order(first, self.shared, 300.0, invoice=True)
        self._campaign_order(second, self.customer_a, 50.0)
        self._campaign_order(low, self.customer_a, 20.0, invoice=True)
        self.env.invalidate_all()  # the figures as a new request reads them
        high = self.high.with_user(self.mailer_a)
        self.assertEqual([high[name] for name in RESULTS], [2, 4, 3, 1, 2, 300.0])
        self.assertEqual(high.mailing_campaign_id, first.campaign_id)
        self.assertEqual(high.mailing_currency_id, self.company_currency)
        low_segment = self.low.with_user(self.mailer_a)
        self.assertEqual([low_segment[name] for name in RESULTS], [1, 1, 1, 1, 1, 20.0])
        # company B has no mailing to the segment yet
        high_b = self.high.with_user(self.mailer_b)
        self.assertEqual([high_b[name] for name in RESULTS], [0, 0, 0, 0, 0, 0.0])
        # the figures Odoo shows on the mailing itself agree
        self.assertEqual(
            (first.sent, first.opened, first.replied, first.sale_quotation_count),
            (3, 2, 1, 1),
        )
        action = high.action_view_mailings()
        self.assertEqual(
            self.env["mailing.mailing"].search(action["domain"]), first + second
        )

    def test_results_cost_the_same_queries_for_one_segment_or_many(self):
        lifecycle = self.shared.with_company(self.company_a).segment_lifecycle_id
        segments = self.high + self.low + lifecycle
        for segment in segments:
            self._send_mailing(segment)

        def queries(records):
            records = records.with_user(self.mailer_a)
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            records.read(list(RESULTS))
            return self.env.cr.sql_log_count - start

        queries(segments)  # the caches of a running server
        self.assertEqual(queries(self.high), queries(segments))

    def test_bad_input_gets_a_clear_error_and_writes_nothing(self):
        Campaign = self.env["utm.campaign"]
        Mailing = self.env["mailing.mailing"]
        before = (Campaign.search_count([]), Mailing.search_count([]))
        # nobody is medium value in A
        medium = self._segment("value", "medium")
        with self.assertRaisesRegex(UserError, r"no customers.*Customers: 0"):
            self._open_mailing(medium)
        # the low value customer has no email address
        self.customer_a.email = False
        with self.assertRaisesRegex(UserError, r"Email \(email\)"):
            self._open_mailing(self.low)
        with self.assertRaisesRegex(UserError, r"Email \(email\)"):
            self.customer_a.with_user(self.mailer_a).action_send_mailing()
        with self.assertRaisesRegex(UserError, "exactly one"):
            (self.high + self.low).with_user(self.mailer_a).action_send_mailing()
        # a salesperson who is no Email Marketing user
        with self.assertRaises(AccessError):
            self.high.with_user(self.salesman).action_send_mailing()
        self.assertEqual((Campaign.search_count([]), Mailing.search_count([])), before)

    def test_selection_of_customers(self):
        partners = (self.shared + self.customer_a).with_user(self.mailer_a)
        mailing = self._save_form(partners.action_send_mailing())
        self.assertEqual(mailing.state, "draft")
        self.assertFalse(mailing.customer_segment_id)
        self.assertEqual(self._recipients(mailing), self.shared + self.customer_a)

    def test_segment_form_shows_mailing_to_mailing_users_only(self):
        def form_arch(user):
            views = self.high.with_user(user).get_views([(False, "form")])
            return views["views"]["form"]["arch"]

        self.assertIn('name="action_send_mailing"', form_arch(self.mailer_a))
        self.assertIn('name="mailing_revenue"', form_arch(self.mailer_a))
        for user in (self.salesman, self.sales_manager):
            self.assertNotIn('name="action_send_mailing"', form_arch(user))
            self.assertNotIn('name="mailing_revenue"', form_arch(user))
