"""The overview: the app's first screen, a dashboard of the figures each full
recompute stores per company, day, dimension and segment."""

import datetime

from dateutil.relativedelta import relativedelta
from lxml import etree

from odoo.exceptions import AccessError
from odoo.tools import SQL, mute_logger
from odoo.tools.safe_eval import safe_eval

from .common import TODAY, SegmentationCase, days_ago
from .test_multi_company import TwoCompaniesMixin

OVERVIEW_ACTION = "customer_segmentation.customer_segmentation_overview_action"
OVERVIEW_VIEW = "customer_segmentation.customer_segmentation_overview_view_form"


class OverviewCase(SegmentationCase):
    def _rows(self, company=None, day=TODAY, dimension="value", user=None):
        """``{segment code: (customers, revenue, warnings, value at stake)}``
        stored for ``day``, read as ``user`` (default: the salesman)."""
        rows = (
            self.env["customer.segmentation.snapshot"]
            .with_user(user or self.salesman)
            .search(
                [
                    ("company_id", "=", (company or self.env.company).id),
                    ("date", "=", day),
                    ("dimension_id.code", "=", dimension),
                ]
            )
        )
        return {
            row.segment_id.code: (
                row.customers,
                row.revenue,
                row.warned_customers,
                row.value_at_stake,
            )
            for row in rows
        }

    def _store(self, day=TODAY, company=None):
        return self.env["customer.segmentation.snapshot"]._store(
            company or self.env.company, day
        )

    def _panel_domains(self, action):
        """The domains of the overview's panels showing ``action`` (an xmlid
        of this module), evaluated as the board evaluates them for the
        salesman, one per panel in the board's order."""
        board = self.env["board.board"].with_user(self.salesman)
        arch = etree.fromstring(
            board.get_view(self.env.ref(OVERVIEW_VIEW).id, "form")["arch"]
        )
        action_id = self.env.ref(f"customer_segmentation.{action}").id
        context = {"context_today": lambda: TODAY, "relativedelta": relativedelta}
        return [
            safe_eval(panel.get("domain"), context)
            for panel in arch.xpath(f"//action[@name='{action_id}']")
        ]


class TestSnapshotValues(OverviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls._set_params(value_high_amount=1000, value_medium_amount=100)
        # high value: 1,200 in the window
        cls.big = cls._make_customer("Big Buyer", is_company=True)
        cls.big_contact = cls._make_customer("Big Buyer's buyer", parent_id=cls.big.id)
        cls._make_order(cls.big, 600.0, days_ago(10))
        cls._make_order(cls.big_contact, 600.0, days_ago(40))
        # medium value: 300
        cls.medium = cls._make_customer("Medium Buyer")
        cls._make_order(cls.medium, 300.0, days_ago(20))
        # medium value, 400, buying every 30 days and silent for 150: warned
        cls.lapsing = cls._make_customer("Lapsing Buyer")
        for age in (150, 180, 210, 240):
            cls._make_order(cls.lapsing, 100.0, days_ago(age))
        cls.env["res.partner"].apply_segment_strategies()

    def test_sizes_revenue_and_value_at_stake(self):
        self.assertTrue(self.lapsing.churn_alert, "the fixture has a warning")
        self._store()
        self.assertEqual(
            self._rows(),
            {"high": (1, 1200.0, 0, 0.0), "medium": (2, 700.0, 1, 400.0)},
            "customers, not their contacts, with their window's revenue",
        )

    def test_dismissed_warning_is_no_value_at_stake(self):
        self.lapsing.with_user(self.sales_manager).action_dismiss_churn_risk("Known")
        self._store()
        self.assertEqual(self._rows()["medium"], (2, 700.0, 0, 0.0))

    def test_storing_a_day_again_replaces_it(self):
        Snapshot = self.env["customer.segmentation.snapshot"]
        written = self._store()
        self.assertEqual(self._store(), written)
        self.assertEqual(
            Snapshot.search_count(
                [("company_id", "=", self.env.company.id), ("date", "=", TODAY)]
            ),
            written,
        )
        self._make_order(self.medium, 900.0, days_ago(1))
        self._store()
        self.assertEqual(
            self._rows(),
            {"high": (2, 2400.0, 0, 0.0), "medium": (1, 400.0, 1, 400.0)},
        )
        self.assertEqual(
            Snapshot.search_count(
                [("company_id", "=", self.env.company.id), ("date", "=", TODAY)]
            ),
            written,
        )

    def test_latest_day_and_last_day_of_each_month(self):
        Snapshot = self.env["customer.segmentation.snapshot"]
        may, yesterday = days_ago(40), days_ago(1)
        for day in (may, TODAY, yesterday):  # a past day stored last (replay)
            self._store(day)
        company = [("company_id", "=", self.env.company.id)]
        self.assertEqual(
            set(Snapshot.search([*company, ("is_latest", "=", True)]).mapped("date")),
            {TODAY},
        )
        self.assertEqual(
            set(
                Snapshot.search([*company, ("is_month_end", "=", True)]).mapped("date")
            ),
            {may, TODAY},
        )


class TestValueAtStakeRounding(OverviewCase):
    """The value at stake is one amount wherever it shows: the overview's
    panel, the Churn Risk list (which adds up the amounts it shows, one per
    customer) and the churn warning bar of a kanban column."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_without_strategies()
        cls._set_params(value_high_amount=1000, value_medium_amount=100)
        # two customers buying every 30 days in the other currency, silent
        # for 150 days (warned): 100.01 of it is 50.005 in the company
        # currency, so each has 200.005 in the window, shown as 200.01
        cls.lapsing = cls.env["res.partner"]
        for name in ("Lapsing Abroad", "Lapsing Abroad Too"):
            customer = cls._make_customer(name)
            for age, amount in (
                (150, 100.01),
                (180, 100.0),
                (210, 100.0),
                (240, 100.0),
            ):
                cls._make_order(
                    customer, amount, days_ago(age), currency=cls.other_currency
                )
            cls.lapsing |= customer
        cls.env["res.partner"].apply_segment_strategies()
        cls.env["customer.segmentation.snapshot"]._store(cls.env.company, TODAY)

    def _action_domain(self, xmlid):
        action = self.env.ref(f"customer_segmentation.{xmlid}")
        return safe_eval(action.domain or "[]")

    def test_each_customer_amount_is_stored_rounded(self):
        Figure = self.env["customer.segmentation.figure"]
        Figure.flush_model()
        stored = self.env.execute_query(
            SQL(
                "SELECT rfm_monetary::text FROM customer_segmentation_figure "
                "WHERE company_id = %s AND partner_id IN %s",
                self.env.company.id,
                tuple(self.lapsing.ids),
            )
        )
        self.assertEqual(sorted(stored), [("200.01",), ("200.01",)])

    def test_overview_churn_list_and_kanban_agree(self):
        self.assertEqual(len(self.lapsing.filtered("churn_alert")), 2)
        # the overview's panel: its domain's total, as the pivot shows it
        [domain] = self._panel_domains("customer_segmentation_snapshot_action_stake")
        Snapshot = self.env["customer.segmentation.snapshot"].with_user(self.salesman)
        [overview] = Snapshot.read_group(
            domain,
            ["warned_customers:sum", "value_at_stake:sum"],
            [],
            lazy=False,
        )
        self.assertEqual(overview["warned_customers"], 2)
        # the Churn Risk list: the amounts it reads, added up as its Total
        Partner = self.env["res.partner"].with_user(self.salesman)
        listed = Partner.web_search_read(
            self._action_domain("res_partner_action_churn_risk"),
            {"rfm_monetary": {}},
        )["records"]
        self.assertEqual(len(listed), 2)
        # a kanban column's churn warning bar (its revenue, one grouped read)
        bars = dict(
            Partner._read_group(
                self._action_domain("res_partner_action_customers_list"),
                ["segmentation_churn_state"],
                ["segmentation_revenue:sum"],
            )
        )
        self.assertEqual(
            {
                "overview": overview["value_at_stake"],
                "churn risk list": sum(r["rfm_monetary"] for r in listed),
                "kanban warning bar": bars["warning"],
            },
            dict.fromkeys(
                ("overview", "churn risk list", "kanban warning bar"), 400.02
            ),
        )


class TestSnapshotMovements(OverviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._make_customer("Moving Customer")
        cls.other = cls._make_customer("Other Customer")
        cls.contact = cls._make_customer("A contact", parent_id=cls.other.id)

    def _move(self, partner, dimension, old, new, movement, when, company=None):
        self.env["customer.segment.history"].create(
            {
                "partner_id": partner.id,
                "company_id": (company or self.env.company).id,
                "dimension": dimension,
                "old_segment_id": old and self._segment(dimension, old).id,
                "new_segment_id": new and self._segment(dimension, new).id,
                "movement": movement,
                "cause": "rule",
                "date": when,
            }
        )

    def test_movements_of_the_month_into_each_segment(self):
        this_month = datetime.datetime(2026, 6, 3, 8)
        self._move(
            self.customer, "lifecycle", "churned", "active", "upgrade", this_month
        )
        self._move(self.other, "lifecycle", "active", "churned", "churn", this_month)
        self._move(self.customer, "value", "low", "high", "upgrade", this_month)
        self._move(self.other, "value", "high", "medium", "downgrade", this_month)
        self._move(self.other, "value", "medium", "low", "downgrade", this_month)
        self._move(self.customer, "value", False, "low", "entry", this_month)
        # not this month's, not a customer, later than the day stored
        self._move(
            self.other,
            "value",
            "low",
            "high",
            "upgrade",
            datetime.datetime(2026, 5, 31, 23, 59),
        )
        self._move(self.contact, "value", "low", "high", "upgrade", this_month)
        self._move(
            self.other,
            "value",
            "low",
            "high",
            "upgrade",
            datetime.datetime(2026, 6, 16, 0, 1),
        )
        self._store()
        rows = self.env["customer.segmentation.snapshot"].search(
            [("date", "=", TODAY), ("company_id", "=", self.env.company.id)]
        )
        moved = {
            (row.dimension_id.code, row.segment_id.code): (
                row.upgrades,
                row.downgrades,
                row.churned,
                row.won_back,
            )
            for row in rows
            if row.upgrades or row.downgrades or row.churned or row.won_back
        }
        self.assertEqual(
            moved,
            {
                ("lifecycle", "active"): (1, 0, 0, 1),
                ("lifecycle", "churned"): (0, 0, 1, 0),
                ("value", "high"): (1, 0, 0, 0),
                ("value", "medium"): (0, 1, 0, 0),
                ("value", "low"): (0, 1, 0, 0),
            },
        )


class TestSnapshotCompanies(TwoCompaniesMixin, OverviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_two_companies()
        Snapshot = cls.env["customer.segmentation.snapshot"]
        Snapshot._store(cls.company_a, TODAY)
        Snapshot._store(cls.company_b, TODAY)

    def test_each_company_its_customers_and_currency(self):
        # A: shared 1,200 (high), Only A 50 (low); B: shared 800 (medium),
        # Only B 9,000 (high), in B's currency
        self.assertEqual(
            self._rows(self.company_a, user=self.user_a),
            {"high": (1, 1200.0, 0, 0.0), "low": (1, 50.0, 0, 0.0)},
        )
        self.assertEqual(
            self._rows(self.company_b, user=self.user_b),
            {"high": (1, 9000.0, 0, 0.0), "medium": (1, 800.0, 0, 0.0)},
        )

    def test_user_of_b_sees_nothing_of_a(self):
        Snapshot = self.env["customer.segmentation.snapshot"]
        of_a = Snapshot.search([("company_id", "=", self.company_a.id)])
        self.assertTrue(of_a)
        as_b = Snapshot.with_user(self.user_b)
        self.assertEqual(as_b.search([]).company_id, self.company_b)
        self.assertFalse(as_b.search_count([("company_id", "=", self.company_a.id)]))
        groups = as_b.read_group([], ["customers:sum"], ["company_id"])
        self.assertEqual([g["company_id"][0] for g in groups], self.company_b.ids)
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"),
        ):
            of_a[:1].with_user(self.user_b).read(["customers"])
        both = Snapshot.with_user(self.user_both).with_context(
            allowed_company_ids=(self.company_a | self.company_b).ids
        )
        self.assertEqual(both.search([]).company_id, self.company_a | self.company_b)

    def test_read_only_and_for_segmentation_users(self):
        row = self.env["customer.segmentation.snapshot"].search(
            [("company_id", "=", self.company_a.id)], limit=1
        )
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"),
        ):
            row.with_user(self.internal_user).read(["customers"])
        manager = row.with_user(self.user_both)
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"),
        ):
            manager.write({"customers": 0})
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"),
        ):
            manager.unlink()
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.models", "odoo.addons.base.models.ir_rule"),
        ):
            manager.create(
                {
                    "company_id": self.company_a.id,
                    "date": TODAY,
                    "dimension_id": row.dimension_id.id,
                    "segment_id": row.segment_id.id,
                }
            )


class TestSnapshotByRecompute(OverviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._set_params(
            value_method="fixed", value_high_amount=1000, value_medium_amount=100
        )
        cls.customer = cls._make_customer("Nightly Customer")
        cls._make_order(cls.customer, 1500.0, days_ago(3))

    def test_nightly_job_stores_the_day(self):
        self.env["res.partner"]._cron_recompute_segments(batch_size=2)
        self._run_reports_job()
        self.assertEqual(self._rows()["high"][:2], (1, 1500.0))
        latest = self.env["customer.segmentation.snapshot"].search(
            [("company_id", "=", self.env.company.id), ("is_latest", "=", True)]
        )
        self.assertEqual(set(latest.mapped("date")), {TODAY})

    def test_full_recompute_by_hand_stores_the_day(self):
        summary = self._recompute_all()
        run = self.env["customer.segmentation.run"].browse(summary["run_id"])
        self.assertFalse(run.reports_done)
        self._run_reports_job()
        self.assertTrue(run.reports_done)
        self.assertEqual(self._rows()["high"][:2], (1, 1500.0))
        # done once: nothing left for the job's next wake-up
        self.assertFalse(
            self.env["customer.segmentation.run"].search(
                [("state", "=", "done"), ("reports_done", "=", False)]
            )
        )


class TestOverviewScreen(OverviewCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._set_params(
            value_method="fixed", value_high_amount=1000, value_medium_amount=100
        )
        cls.customer = cls._make_customer("Overview Customer")
        cls._make_order(cls.customer, 1500.0, days_ago(3))
        # a company whose contact buys: one customer, not two
        company = cls._make_customer("Overview Company", is_company=True)
        contact = cls._make_customer("Overview Buyer", parent_id=company.id)
        cls._make_order(contact, 200.0, days_ago(200))
        # one movement this month, on the value tiers only
        cls.env["customer.segment.history"].create(
            {
                "partner_id": cls.customer.id,
                "company_id": cls.env.company.id,
                "dimension": "value",
                "old_segment_id": cls.env.ref(
                    "customer_segmentation.segment_value_low"
                ).id,
                "new_segment_id": cls.env.ref(
                    "customer_segmentation.segment_value_high"
                ).id,
                "movement": "upgrade",
                "cause": "rule",
                "date": datetime.datetime(2026, 6, 3, 8),
            }
        )
        Snapshot = cls.env["customer.segmentation.snapshot"]
        Snapshot._store(cls.env.company, TODAY - relativedelta(months=1))
        Snapshot._store(cls.env.company, TODAY)

    def _load_action(self, action_id):
        """The action as /web/action/load gives it to the salesman."""
        return (
            self.env["ir.actions.act_window"]
            .with_user(self.salesman)
            .sudo()
            .browse(action_id)
            ._get_action_dict()
        )

    def test_app_opens_on_the_overview(self):
        root = self.env.ref("customer_segmentation.customer_segmentation_menu_root")
        self.assertEqual(root.action, self.env.ref(OVERVIEW_ACTION))
        menus = self.env["ir.ui.menu"].with_user(self.salesman).load_web_menus(False)
        self.assertEqual(menus[root.id]["actionID"], self.env.ref(OVERVIEW_ACTION).id)

    def test_each_sizes_panel_counts_a_customer_once(self):
        """The Total of each sizes panel of the overview (its domain's
        figures summed, as the pivot's Total row) is the number of customers
        in one of the dimension's segments: no dimension adds up another's."""
        Snapshot = self.env["customer.segmentation.snapshot"].with_user(self.salesman)
        Partner = self.env["res.partner"].with_user(self.sales_manager)
        codes = set()
        for domain in self._panel_domains(
            "customer_segmentation_snapshot_action_sizes"
        ):
            [code] = [leaf[2] for leaf in domain if leaf[0] == "dimension_id.code"]
            codes.add(code)
            [total] = Snapshot.read_group(domain, ["customers:sum"], [], lazy=False)
            field = f"segment_{code}_id"
            # customers: companies and individuals, not their contacts
            classified = Partner.search_count(
                [
                    (field, "!=", False),
                    "|",
                    ("is_company", "=", True),
                    ("parent_id", "=", False),
                ]
            )
            with self.subTest(dimension=code):
                self.assertTrue(classified, "the fixture classifies customers")
                self.assertEqual(total["customers"], classified)
        self.assertEqual(codes, {"value", "lifecycle", "rfm"})

    def test_movements_panel_leaves_out_rows_without_movements(self):
        """Every segment has a row each day for its size; the movements
        panel lists, per dimension and, drilled down, per segment, only
        those where something moved."""
        [domain] = self._panel_domains(
            "customer_segmentation_snapshot_action_movements"
        )
        Snapshot = self.env["customer.segmentation.snapshot"].with_user(self.salesman)
        measures = ["upgrades", "downgrades", "churned", "won_back"]
        unmoved = [("is_latest", "=", True)] + [(m, "=", 0) for m in measures]
        self.assertTrue(Snapshot.search_count(unmoved), "the fixture has such rows")
        high = self._segment("value", "high")
        moved = {"dimension_id": high.dimension_id.id, "segment_id": high.id}
        for groupby, moved_id in moved.items():
            rows = Snapshot.read_group(
                domain, [f"{m}:sum" for m in measures], [groupby], lazy=False
            )
            with self.subTest(rows=groupby):
                self.assertEqual(
                    {row[groupby][0]: [row[m] for m in measures] for row in rows},
                    {moved_id: [1, 0, 0, 0]},
                )

    def test_trend_charts_fit_their_column(self):
        """The month-by-month charts carry the class of the backend style
        that lifts the board's 1,200-pixel minimum width: in a half-width
        column it hid the latest months and the legend."""
        trend = self.env.ref(
            "customer_segmentation.customer_segmentation_snapshot_action_trend"
        )
        view = self.env["customer.segmentation.snapshot"].get_views(
            [(trend.view_id.id, "graph")]
        )["views"]["graph"]
        arch = etree.fromstring(view["arch"])
        self.assertIn("o_customer_segmentation_trend", arch.get("class").split())
        paths = self.env["ir.asset"]._get_asset_paths("web.assets_backend", {})
        self.assertTrue(
            any(
                str(part).endswith(
                    "customer_segmentation/static/src/scss/overview.scss"
                )
                for asset in paths
                for part in asset
            )
        )

    def test_overview_panels_load_as_a_salesman(self):
        """Each panel of the dashboard, as the web client loads it: its
        action, its view, and the grouped read of its domain."""
        action = self._load_action(self.env.ref(OVERVIEW_ACTION).id)
        self.assertEqual(action["res_model"], "board.board")
        self.assertEqual(action["views"], [(self.env.ref(OVERVIEW_VIEW).id, "form")])
        board = self.env["board.board"].with_user(self.salesman)
        arch = etree.fromstring(board.get_view(action["views"][0][0], "form")["arch"])
        self.assertEqual(arch.get("js_class"), "board")
        panels = arch.xpath("//action")
        self.assertEqual(len(panels), 7)
        context = {"context_today": lambda: TODAY, "relativedelta": relativedelta}
        for panel in panels:
            with self.subTest(panel=panel.get("string")):
                loaded = self._load_action(int(panel.get("name")))
                Model = self.env[loaded["res_model"]].with_user(self.salesman)
                view_id = dict((mode, vid) for vid, mode in loaded["views"])[
                    panel.get("view_mode")
                ]
                view = Model.get_views([(view_id, panel.get("view_mode"))])["views"]
                view_arch = etree.fromstring(view[panel.get("view_mode")]["arch"])
                measures = [
                    f"{node.get('name')}:sum"
                    for node in view_arch.xpath("//field[@type='measure']")
                ]
                groupby = [
                    node.get("name")
                    + (f":{node.get('interval')}" if node.get("interval") else "")
                    for node in view_arch.xpath("//field[not(@type='measure')]")
                ]
                domain = safe_eval(panel.get("domain"), context)
                groups = Model.read_group(domain, measures, groupby, lazy=False)
                self.assertTrue(groups, "the panel shows figures")
        sizes = self.env["customer.segmentation.snapshot"].with_user(self.salesman)
        high = sizes.read_group(
            [
                ("is_latest", "=", True),
                ("segment_id", "=", self._segment("value", "high").id),
            ],
            ["customers:sum", "revenue:sum"],
            ["date:day"],
            lazy=False,
        )
        self.assertEqual([(g["customers"], g["revenue"]) for g in high], [(1, 1500.0)])
