"""The customer boards and lists: each kanban column adds up its customers'
12-month revenue of the user's company and counts their churn warnings in one
grouped query; the views list customers only, not the company's own contacts;
every view of the customer actions loads."""

import ast
from collections import Counter

from lxml import etree

from odoo.tests import HttpCase, new_test_user, tagged

from .common import SegmentationCase, SegmentationMixin, days_ago
from .test_multi_company import TwoCompaniesMixin

CUSTOMER_ACTIONS = (
    "res_partner_action_customers",
    "res_partner_action_customers_lifecycle",
    "res_partner_action_customers_rfm",
    "res_partner_action_customers_list",
)
ALL_ACTIONS = (
    *CUSTOMER_ACTIONS,
    "res_partner_action_churn_risk",
    "res_partner_action_customer_pool",
)
PROGRESS_BAR = {
    "field": "segmentation_churn_state",
    "colors": {"warning": "danger", "none": "success"},
    "sum_field": "segmentation_revenue",
}


@tagged("post_install", "-at_install")
class TestKanbanColumns(TwoCompaniesMixin, SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_two_companies()
        cls._recompute_both()
        cls.customers = cls.shared | cls.customer_a | cls.customer_b
        # a churn warning for the shared customer in company A only
        cls.shared.with_company(cls.company_a).sudo().write(
            {"churn_risk_score": 100, "model_alive_band": False}
        )

    def _columns(self, user):
        """``{value tier code: (customers, revenue)}`` of the board as ``user``
        reads it, through the web client's call."""
        groups = (
            self.env["res.partner"]
            .with_user(user)
            .web_read_group(
                [("id", "in", self.customers.ids)],
                ["segmentation_revenue:sum"],
                ["segment_value_id"],
            )["groups"]
        )
        Segment = self.env["customer.segment"]
        return {
            Segment.browse(group["segment_value_id"][0]).code: (
                group["segment_value_id_count"],
                group["segmentation_revenue"],
            )
            for group in groups
            if group["segment_value_id_count"]
        }

    def _figures(self, company):
        """``{value tier code: (customers, revenue)}`` from the figures rows of
        ``company``."""
        columns = Counter()
        revenue = Counter()
        figures = self.env["customer.segmentation.figure"].search(
            [
                ("company_id", "=", company.id),
                ("partner_id", "in", self.customers.ids),
            ]
        )
        for figure in figures:
            code = figure.partner_id.with_company(company).segment_value_id.code
            if code:
                columns[code] += 1
                revenue[code] += figure.rfm_monetary
        return {code: (columns[code], revenue[code]) for code in columns}

    def test_column_revenue_is_the_sum_of_the_current_company_figures(self):
        columns_a = self._columns(self.user_a)
        self.assertEqual(columns_a, self._figures(self.company_a))
        self.assertEqual(columns_a, {"high": (1, 1200.0), "low": (1, 50.0)})
        # in company B, B's customers, tiers and amounts
        columns_b = self._columns(self.user_b)
        self.assertEqual(columns_b, self._figures(self.company_b))
        self.assertEqual(columns_b, {"high": (1, 9000.0), "medium": (1, 800.0)})
        # the same user, switching company
        switched = self.user_both.with_context(allowed_company_ids=self.company_b.ids)
        self.assertEqual(
            self.env["res.partner"]
            .with_user(switched)
            .with_context(allowed_company_ids=(self.company_b | self.company_a).ids)
            ._read_group(
                [("id", "=", self.shared.id)],
                ["segment_value_id"],
                ["segmentation_revenue:sum"],
            )[0][1],
            800.0,
        )

    def test_revenue_is_an_aggregate_the_web_client_asks_for(self):
        Partner = self.env["res.partner"].with_user(self.user_a)
        description = Partner.fields_get(["segmentation_revenue"], ["aggregator"])
        self.assertEqual(description["segmentation_revenue"]["aggregator"], "sum")
        # not for a user without the segmentation group
        Internal = self.env["res.partner"].with_user(self.internal_user)
        self.assertNotIn("segmentation_revenue", Internal.fields_get())

    def test_column_revenue_is_one_grouped_query(self):
        Partner = self.env["res.partner"].with_user(self.user_a)

        def queries(domain):
            Partner._read_group(
                domain, ["segment_value_id"], ["segmentation_revenue:sum"]
            )
            before = self.env.cr.sql_log_count
            Partner._read_group(
                domain, ["segment_value_id"], ["segmentation_revenue:sum"]
            )
            return self.env.cr.sql_log_count - before

        self.env.flush_all()
        self.assertEqual(queries([("id", "=", self.shared.id)]), 1)
        self.assertEqual(queries([("id", "in", self.customers.ids)]), 1)
        self.assertEqual(queries([]), 1)

    def test_columns_read_the_company_segment_by_a_join(self):
        Partner = self.env["res.partner"].with_user(self.user_a)
        query = Partner._where_calc([])
        sql = Partner._field_to_sql(Partner._table, "segment_value_id", query)
        # no subquery per contact: one join of the segments
        self.assertNotIn("SELECT", sql.code)
        self.assertIn('LEFT JOIN "customer_segment"', query.select().code)

    def test_a_removed_segment_groups_with_no_segment(self):
        # a company-dependent value has no foreign key: a segment id that no
        # longer exists reads as no segment, in columns and searches
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE res_partner
                  SET segment_value_id =
                      segment_value_id || jsonb_build_object(%s, 999999)
                WHERE id = %s""",
            [str(self.company_a.id), self.customer_a.id],
        )
        self.env["res.partner"].invalidate_model(["segment_value_id"])
        Partner = self.env["res.partner"].with_user(self.user_a)
        groups = dict(
            Partner._read_group(
                [("id", "in", self.customers.ids)], ["segment_value_id"], ["__count"]
            )
        )
        self.assertEqual(groups[self.env["customer.segment"]], 1)
        self.assertEqual(
            Partner.search(
                [("id", "in", self.customers.ids), ("segment_value_id", "=", False)]
            ),
            self.customer_a,
        )

    def test_progress_bar_counts_churn_warnings_per_column(self):
        Partner = self.env["res.partner"]
        domain = [("id", "in", self.customers.ids)]
        high_a = str(self._segment("value", "high").id)
        low_a = str(self._segment("value", "low").id)
        bars_a = Partner.with_user(self.user_a).read_progress_bar(
            domain, "segment_value_id", PROGRESS_BAR
        )
        self.assertEqual(bars_a[high_a], {"warning": 1, "none": 0})
        self.assertEqual(bars_a[low_a], {"warning": 0, "none": 1})
        # company B has no warning for the shared customer
        bars_b = Partner.with_user(self.user_b).read_progress_bar(
            domain, "segment_value_id", PROGRESS_BAR
        )
        self.assertEqual(
            sum(bar["warning"] for bar in bars_b.values()), 0, "warnings in B"
        )
        self.assertEqual(sum(bar["none"] for bar in bars_b.values()), 2)

    def test_clicking_a_bar_filters_the_column(self):
        Partner = self.env["res.partner"]
        warned = [("id", "in", self.customers.ids)]
        warned += [("segmentation_churn_state", "=", "warning")]
        self.assertEqual(Partner.with_user(self.user_a).search(warned), self.shared)
        self.assertFalse(Partner.with_user(self.user_b).search(warned))
        calm = [("id", "in", self.customers.ids)]
        calm += [("segmentation_churn_state", "!=", "warning")]
        self.assertEqual(Partner.with_user(self.user_a).search(calm), self.customer_a)
        # and the revenue of the selected bar
        groups = Partner.with_user(self.user_a)._read_group(
            [("id", "in", self.customers.ids)],
            ["segmentation_churn_state"],
            ["segmentation_revenue:sum", "__count"],
        )
        self.assertEqual(sorted(groups), [("none", 50.0, 1), ("warning", 1200.0, 1)])
        self.assertEqual(
            self.shared.with_user(self.user_a).segmentation_churn_state, "warning"
        )
        self.assertEqual(
            self.shared.with_user(self.user_b).segmentation_churn_state, "none"
        )


@tagged("post_install", "-at_install")
class TestCustomersOnly(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._set_params(
            value_method="fixed", value_high_amount=1000, value_medium_amount=100
        )
        Partner = cls.env["res.partner"]
        cls.own_company = cls.env.company.partner_id
        cls.own_employee = Partner.create(
            {"name": "Own Employee Contact", "parent_id": cls.own_company.id}
        )
        cls.customer = cls._make_customer("Real Customer Ltd", is_company=True)
        cls.customer_contact = Partner.create(
            {"name": "Buyer at Real Customer", "parent_id": cls.customer.id}
        )
        cls.portal_customer = new_test_user(
            cls.env,
            "cs_portal_customer",
            groups="base.group_portal",
            password="cs-portal-customer-1",
        ).partner_id
        # everybody buys, the company itself included (an internal sale)
        for partner in (
            cls.own_company,
            cls.salesman.partner_id,
            cls.customer,
            cls.portal_customer,
        ):
            cls._make_order(partner, 2000.0, days_ago(10))
        cls.own_contacts = cls.own_company | cls.own_employee | cls.salesman.partner_id

    def _listed(self, xmlid, user=None):
        action = self.env.ref(f"customer_segmentation.{xmlid}")
        return (
            self.env["res.partner"]
            .with_user(user or self.salesman)
            .search(ast.literal_eval(action.domain))
        )

    def test_customer_views_leave_out_the_company_own_contacts(self):
        for xmlid in ALL_ACTIONS:
            with self.subTest(action=xmlid):
                self.assertFalse(self._listed(xmlid) & self.own_contacts)
        for xmlid in CUSTOMER_ACTIONS:
            with self.subTest(action=xmlid):
                listed = self._listed(xmlid)
                self.assertIn(self.customer, listed)
                self.assertIn(self.portal_customer, listed)
                self.assertNotIn(self.customer_contact, listed)

    def test_pool_and_churn_risk_list_customers_not_their_contacts(self):
        # a contact shows its company's figures: listed too, it would be
        # claimed alone and counted again in the column totals
        self.customer.sudo().segmentation_figure_id.write(
            {"segmentation_in_pool": True, "churn_risk_score": 100}
        )
        for xmlid in (
            "res_partner_action_customer_pool",
            "res_partner_action_churn_risk",
        ):
            with self.subTest(action=xmlid):
                listed = self._listed(xmlid)
                self.assertIn(self.customer, listed)
                self.assertNotIn(self.customer_contact, listed)

    def test_own_contact_flag(self):
        partners = self.own_contacts | self.customer | self.portal_customer
        flags = dict(
            zip(
                partners.ids,
                partners.with_user(self.salesman).mapped("segmentation_own_contact"),
                strict=True,
            )
        )
        self.assertEqual(
            {pid for pid, own in flags.items() if own}, set(self.own_contacts.ids)
        )
        # a former employee's contact stays the company's own
        self.salesman.sudo().action_archive()
        self.assertIn(
            self.salesman.partner_id, self._listed_own(), "archived user's contact"
        )

    def _listed_own(self):
        return (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([("segmentation_own_contact", "=", True)])
        )

    def test_segment_customers_leave_out_contacts_and_own_contacts(self):
        high = self._segment("value", "high")
        self.assertEqual(self.own_company.segment_value_id, high)
        self.assertEqual(self.customer_contact.segment_value_id, high)
        action = high.with_user(self.salesman).action_view_customers()
        listed = (
            self.env["res.partner"].with_user(self.salesman).search(action["domain"])
        )
        self.assertIn(self.customer, listed)
        self.assertIn(self.portal_customer, listed)
        self.assertFalse(listed & (self.own_contacts | self.customer_contact))


@tagged("post_install", "-at_install")
class TestCustomerSearchView(SegmentationCase):
    def _group_bys(self, xmlid):
        action = self.env.ref(f"customer_segmentation.{xmlid}")
        views = (
            self.env["res.partner"]
            .with_user(self.salesman)
            .get_views([(False, "search")], {"action_id": action.id})
        )
        arch = etree.fromstring(views["views"]["search"]["arch"])
        return [
            ast.literal_eval(node.get("context"))["group_by"]
            for node in arch.iter("filter")
            if "group_by" in (node.get("context") or "")
        ]

    def test_group_by_menu_has_each_dimension_once(self):
        self.env["customer.segment.dimension"].create(
            {"name": "Psychographic Style", "code": "style", "rule_type": "manual"}
        )
        group_bys = self._group_bys("res_partner_action_customers")
        duplicates = [name for name, n in Counter(group_bys).items() if n > 1]
        self.assertFalse(duplicates, "group-bys listed twice")
        fields = self.env["res.partner"]._segmentation_dimension_fields()
        for field_name in fields.values():
            self.assertIn(field_name, group_bys)


@tagged("post_install", "-at_install")
class TestCustomerViewsLoad(SegmentationMixin, HttpCase):
    """Every view of the customer actions loads and reads its records as a
    salesman's browser does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_segmentation_fixtures()
        cls.customer = cls._make_customer("Loaded Customer")
        cls._make_order(cls.customer, 500.0, days_ago(20))

    def test_every_view_loads(self):
        self.authenticate("cs_salesman", "cs-salesman-pwd-1")
        for xmlid in ALL_ACTIONS:
            action = self.env.ref(f"customer_segmentation.{xmlid}")
            views = [(view.view_id.id, view.view_mode) for view in action.view_ids]
            with self.subTest(action=xmlid):
                result = self.make_jsonrpc_request(
                    "/web/dataset/call_kw/res.partner/get_views",
                    {
                        "model": "res.partner",
                        "method": "get_views",
                        "args": [[*views, (False, "search")]],
                        "kwargs": {"options": {"action_id": action.id}},
                    },
                )
                self.assertEqual(
                    set(result["views"]), {mode for __, mode in views} | {"search"}
                )
                kanban = etree.fromstring(result["views"]["kanban"]["arch"])
                bar = kanban.find(".//progressbar")
                self.assertEqual(bar.get("sum_field"), "segmentation_revenue")
                self.assertIsNone(kanban.find(".//field[@name='avatar_128']"))
                domain = ast.literal_eval(action.domain)
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/res.partner/web_read_group",
                    {
                        "model": "res.partner",
                        "method": "web_read_group",
                        "args": [],
                        "kwargs": {
                            "domain": domain,
                            "fields": ["segmentation_revenue:sum"],
                            "groupby": ["segment_value_id"],
                        },
                    },
                )
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/res.partner/read_progress_bar",
                    {
                        "model": "res.partner",
                        "method": "read_progress_bar",
                        "args": [],
                        "kwargs": {
                            "domain": domain,
                            "group_by": "segment_rfm_id",
                            "progress_bar": PROGRESS_BAR,
                        },
                    },
                )
                records = self.make_jsonrpc_request(
                    "/web/dataset/call_kw/res.partner/web_search_read",
                    {
                        "model": "res.partner",
                        "method": "web_search_read",
                        "args": [],
                        "kwargs": {
                            "domain": domain,
                            "specification": {
                                node.get("name"): {}
                                for mode in ("list", "kanban")
                                for node in etree.fromstring(
                                    result["views"][mode]["arch"]
                                ).iter("field")
                            },
                        },
                    },
                )
                if xmlid in CUSTOMER_ACTIONS:
                    self.assertIn(
                        self.customer.id, [r["id"] for r in records["records"]]
                    )

    def test_rfm_board_opens_on_the_grouped_list(self):
        action = self.env.ref("customer_segmentation.res_partner_action_customers_rfm")
        self.assertEqual(action.view_mode.split(",")[0], "list")
        self.assertEqual(action.view_ids[0].view_mode, "list")
        self.assertEqual(ast.literal_eval(action.context)["group_by"], "segment_rfm_id")
