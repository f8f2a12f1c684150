"""The profile dimensions: geography, business scale, job level, needs and
psychographic type, classified from each contact's own data."""

from odoo.tests import Form, new_test_user, tagged

from .common import SegmentationCase

PARTNER_FORM = "base.view_partner_form"


class ProfileCase(SegmentationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.china = cls.env.ref("base.cn")
        cls.shanghai = cls.env.ref("base.state_cn_SH")
        cls.beijing = cls.env.ref("base.state_cn_BJ")
        cls.usa = cls.env.ref("base.us")
        cls.new_york = cls.env.ref("base.state_us_27")
        # the company classifying its customers is in Shanghai
        cls.env.company.partner_id.write(
            {"country_id": cls.china.id, "state_id": cls.shanghai.id}
        )
        # may edit contacts and sees segments, nothing more
        cls.contact_user = new_test_user(
            cls.env,
            "cs_profile_user",
            groups="customer_segmentation.group_segmentation_user,"
            "base.group_partner_manager",
        )

    def _code(self, partner, field_name):
        """The code of ``partner``'s segment in ``field_name``; a segment of
        another dimension shows as ``'<dimension>:<code>'``."""
        segment = partner[field_name]
        dimension = field_name.removeprefix("segment_").removesuffix("_id")
        if not segment:
            return False
        if segment.dimension != dimension:
            return f"{segment.dimension}:{segment.code}"
        return segment.code

    def _history(self, partner, dimension):
        return self.env["customer.segment.history"].search(
            [("partner_id", "=", partner.id), ("dimension", "=", dimension)],
            order="id",
        )


@tagged("post_install", "-at_install")
class TestGeography(ProfileCase):
    def _assert_geo(self, cases):
        for partner, expected in cases:
            with self.subTest(partner=partner.name):
                self.assertEqual(self._code(partner, "segment_geo_id"), expected)

    def test_geography_compares_the_address_with_the_company(self):
        local = self._make_customer(
            "Shanghai Buyer", country_id=self.china.id, state_id=self.shanghai.id
        )
        domestic = self._make_customer(
            "Beijing Buyer", country_id=self.china.id, state_id=self.beijing.id
        )
        domestic_no_state = self._make_customer(
            "Somewhere In China", country_id=self.china.id
        )
        international = self._make_customer(
            "New York Buyer", country_id=self.usa.id, state_id=self.new_york.id
        )
        no_address = self._make_customer("No Address")
        cases = [
            (local, "local"),
            (domestic, "domestic"),
            (domestic_no_state, "domestic"),
            (international, "international"),
            (no_address, False),
        ]
        # classified as soon as they are created ...
        self._assert_geo(cases)
        # ... and a full recompute agrees
        self._recompute_all()
        self._assert_geo(cases)

    def test_customers_of_another_company_compare_with_that_company(self):
        new_york_company = self.env["res.company"].create(
            {
                "name": "New York Branch",
                "country_id": self.usa.id,
                "state_id": self.new_york.id,
            }
        )
        ours = self._make_customer(
            "Branch Customer In New York",
            company_id=new_york_company.id,
            country_id=self.usa.id,
            state_id=self.new_york.id,
        )
        theirs = self._make_customer(
            "Branch Customer In Shanghai",
            company_id=new_york_company.id,
            country_id=self.china.id,
            state_id=self.shanghai.id,
        )
        # the New York branch classifies its customers against its address
        self.env["res.partner"].with_company(new_york_company).with_user(
            self.env.user
        ).recompute_all_segments()
        for partner, expected in ((ours, "local"), (theirs, "international")):
            with self.subTest(partner=partner.name):
                self.assertEqual(
                    partner.with_company(new_york_company).segment_geo_id.code,
                    expected,
                )
        # a shared customer is local to one company and foreign to the other
        shared = self._make_customer(
            "Shared Customer In New York",
            country_id=self.usa.id,
            state_id=self.new_york.id,
        )
        self.assertEqual(
            shared.with_company(new_york_company).segment_geo_id.code, "local"
        )
        self.assertEqual(self._code(shared, "segment_geo_id"), "international")

    def test_moving_reclassifies_at_once(self):
        customer = self._make_customer(
            "Moving Customer", country_id=self.china.id, state_id=self.shanghai.id
        )
        self.assertEqual(self._code(customer, "segment_geo_id"), "local")
        customer.with_user(self.contact_user).write(
            {"country_id": self.usa.id, "state_id": self.new_york.id}
        )
        self.assertEqual(self._code(customer, "segment_geo_id"), "international")
        customer.with_user(self.contact_user).write(
            {"country_id": False, "state_id": False}
        )
        self.assertFalse(customer.segment_geo_id)
        self.assertEqual(
            self._history(customer, "geo").mapped(
                lambda h: (h.old_segment_id.code, h.new_segment_id.code)
            ),
            [(False, "local"), ("local", "international"), ("international", False)],
        )

    def test_contacts_get_their_own_address_geography(self):
        company = self._make_customer(
            "Shanghai Company",
            is_company=True,
            country_id=self.china.id,
            state_id=self.shanghai.id,
        )
        # a contact inherits the company's address by default in Odoo; this one
        # works from another office
        contact = self._make_customer(
            "Beijing Office Contact",
            parent_id=company.id,
            type="other",
            country_id=self.china.id,
            state_id=self.beijing.id,
        )
        self.assertEqual(self._code(company, "segment_geo_id"), "local")
        self.assertEqual(self._code(contact, "segment_geo_id"), "domestic")


@tagged("post_install", "-at_install")
class TestBusinessScale(ProfileCase):
    def _company(self, name, employees=0, revenue=0.0):
        return self._make_customer(
            name,
            is_company=True,
            segmentation_employee_count=employees,
            segmentation_annual_revenue=revenue,
        )

    def _assert_scales(self, cases):
        for company, expected in cases:
            with self.subTest(company=company.name):
                self.assertEqual(self._code(company, "segment_scale_id"), expected)

    def test_employee_thresholds_50_and_250(self):
        cases = [
            (self._company("1 Employee", employees=1), "small"),
            (self._company("49 Employees", employees=49), "small"),
            (self._company("50 Employees", employees=50), "medium"),
            (self._company("249 Employees", employees=249), "medium"),
            (self._company("250 Employees", employees=250), "large"),
            (self._company("10000 Employees", employees=10000), "large"),
        ]
        self._assert_scales(cases)
        self._recompute_all()
        self._assert_scales(cases)

    def test_revenue_thresholds_10m_and_50m(self):
        cases = [
            (self._company("Revenue 1", revenue=1.0), "small"),
            (self._company("Revenue 9999999.99", revenue=9999999.99), "small"),
            (self._company("Revenue 10M", revenue=10000000.0), "medium"),
            (self._company("Revenue 49999999.99", revenue=49999999.99), "medium"),
            (self._company("Revenue 50M", revenue=50000000.0), "large"),
        ]
        self._recompute_all()
        self._assert_scales(cases)

    def test_either_figure_is_enough(self):
        cases = [
            (self._company("Few Staff, Big Revenue", 10, 60000000.0), "large"),
            (self._company("Many Staff, Small Revenue", 300, 1000.0), "large"),
            (self._company("Medium Staff, Small Revenue", 60, 1000.0), "medium"),
            (self._company("Small Staff, Medium Revenue", 5, 20000000.0), "medium"),
        ]
        self._recompute_all()
        self._assert_scales(cases)

    def test_no_figures_and_individuals_get_no_scale(self):
        no_figures = self._company("No Figures")
        individual = self._make_customer(
            "Self-Employed",
            segmentation_employee_count=300,
            segmentation_annual_revenue=60000000.0,
        )
        self._recompute_all()
        self._assert_scales([(no_figures, False), (individual, False)])

    def test_contacts_share_their_company_scale(self):
        company = self._company("Growing Company", employees=40)
        contact = self._make_customer("Buyer At Growing Company", parent_id=company.id)
        self._assert_scales([(company, "small"), (contact, "small")])
        company.with_user(self.contact_user).write({"segmentation_employee_count": 300})
        self._assert_scales([(company, "large"), (contact, "large")])
        self.assertEqual(
            self._history(company, "scale").mapped("movement"), ["entry", "upgrade"]
        )

    def test_thresholds_come_from_the_settings(self):
        companies = {
            employees: self._company(f"{employees} Employees", employees=employees)
            for employees in (19, 20, 99, 100, 250)
        }
        by_revenue = self._company("Revenue 2M", revenue=2000000.0)
        self._assert_scales(
            [
                (companies[19], "small"),
                (companies[20], "small"),
                (companies[99], "medium"),
                (companies[100], "medium"),
                (companies[250], "large"),
                (by_revenue, "small"),
            ]
        )
        manager = new_test_user(
            self.env,
            "cs_scale_manager",
            groups="customer_segmentation.group_segmentation_manager",
        )
        form = Form(self.env["customer.segmentation.settings"].with_user(manager))
        self.assertEqual(form.segmentation_scale_medium_employees, 50)
        self.assertEqual(form.segmentation_scale_large_employees, 250)
        self.assertEqual(form.segmentation_scale_medium_revenue, 10000000.0)
        self.assertEqual(form.segmentation_scale_large_revenue, 50000000.0)
        form.segmentation_scale_medium_employees = 20
        form.segmentation_scale_large_employees = 100
        form.segmentation_scale_medium_revenue = 1000000.0
        form.segmentation_scale_large_revenue = 5000000.0
        form.save().action_save_and_recompute()
        self._assert_scales(
            [
                (companies[19], "small"),
                (companies[20], "medium"),
                (companies[99], "medium"),
                (companies[100], "large"),
                (companies[250], "large"),
                (by_revenue, "medium"),
            ]
        )
        [change] = self._history(by_revenue, "scale").filtered(
            lambda h: h.old_segment_id
        )
        self.assertIn("large from 100 employees", change.reason)
        self.assertIn("medium from 20", change.reason)


@tagged("post_install", "-at_install")
class TestJobLevel(ProfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls._make_customer("Employer", is_company=True)

    def _contact(self, title, **values):
        return self._make_customer(
            f"Contact {title}", parent_id=self.company.id, function=title, **values
        )

    def _assert_levels(self, cases):
        contacts = [(self._contact(title), title, level) for title, level in cases]
        self._recompute_all()
        for contact, title, level in contacts:
            with self.subTest(title=title):
                self.assertEqual(self._code(contact, "segment_job_level_id"), level)

    def test_english_titles(self):
        self._assert_levels(
            [
                ("CEO", "senior"),
                ("Chief Financial Officer", "senior"),
                ("General Manager", "senior"),
                ("Sales Director", "senior"),
                ("Chief Executive Officer", "senior"),
                ("Purchasing Manager", "middle"),
                # levels are tried from the top: a manager who assists is middle
                ("Assistant Manager", "middle"),
                ("Team Leader", "middle"),
                ("Warehouse Supervisor", "middle"),
                ("Sales Assistant", "junior"),
                ("Purchasing Specialist", "junior"),
                ("Clerk", "junior"),
                ("Gardener", False),
            ]
        )

    def test_chinese_titles(self):
        self._assert_levels(
            [
                ("总经理", "senior"),
                ("董事长", "senior"),
                ("销售总监", "senior"),
                ("经理", "middle"),
                ("采购部经理", "middle"),
                ("主管", "middle"),
                ("仓库主管", "middle"),
                ("专员", "junior"),
                ("采购专员", "junior"),
                ("司机", False),
            ]
        )

    def test_titles_are_case_insensitive(self):
        self._assert_levels(
            [
                ("ceo", "senior"),
                ("Ceo", "senior"),
                ("SALES MANAGER", "middle"),
                ("sales manager", "middle"),
                ("sales assistant", "junior"),
            ]
        )

    def test_short_keywords_do_not_match_inside_words(self):
        # "COO", "CTO" and "CIO" are senior keywords; they must not make a
        # coordinator or a factory buyer senior
        self._assert_levels(
            [
                ("Sales Coordinator", "junior"),
                ("Factory Buyer", "junior"),
                ("Factory Worker", False),
                # ... while still matching as words of their own
                ("VP of Sales", "senior"),
                ("COO", "senior"),
            ]
        )

    def test_companies_and_contacts_without_title_get_none(self):
        company = self._make_customer("A Company Titled CEO", is_company=True)
        company.write({"function": "CEO"})
        no_title = self._contact("")
        self._recompute_all()
        self.assertFalse(company.segment_job_level_id)
        self.assertFalse(no_title.segment_job_level_id)

    def test_new_title_reclassifies_at_once(self):
        contact = self._contact("Sales Assistant")
        self.assertEqual(self._code(contact, "segment_job_level_id"), "junior")
        with Form(contact.with_user(self.contact_user), view=PARTNER_FORM) as form:
            form.function = "Sales Manager"
        self.assertEqual(self._code(contact, "segment_job_level_id"), "middle")
        [change] = self._history(contact, "job_level").filtered("old_segment_id")
        self.assertEqual(
            (change.old_segment_id.code, change.new_segment_id.code, change.movement),
            ("junior", "middle", "upgrade"),
        )
        self.assertIn('"Sales Manager"', change.reason)
        self.assertEqual(change.user_id, self.contact_user)

    def test_company_lists_its_contacts_by_level(self):
        junior = self._contact("专员")
        senior = self._contact("总经理")
        middle = self._contact("经理")
        self._recompute_all()
        contacts = self.env["res.partner"].search(
            [("parent_id", "=", self.company.id)],
            order="segment_job_level_id, name",
        )
        self.assertEqual(contacts.ids, (senior + middle + junior).ids)

    def test_decision_maker_is_set_by_hand(self):
        buyer = self._contact("Purchasing Manager")
        signer = self._contact("Purchasing Assistant")
        with Form(signer.with_user(self.contact_user), view=PARTNER_FORM) as form:
            form.segmentation_decision_maker = True
        self.assertTrue(signer.segmentation_decision_maker)
        self.assertFalse(buyer.segmentation_decision_maker)
        # the flag does not change the level, and a recompute keeps the flag
        self._recompute_all()
        self.assertEqual(self._code(signer, "segment_job_level_id"), "junior")
        self.assertTrue(signer.segmentation_decision_maker)
        decision_makers = (
            self.env["res.partner"]
            .with_user(self.contact_user)
            .search(
                [
                    ("parent_id", "=", self.company.id),
                    ("segmentation_decision_maker", "=", True),
                ]
            )
        )
        self.assertEqual(decision_makers, signer)


@tagged("post_install", "-at_install")
class TestNeedsAndPsychographic(ProfileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        need = "customer_segmentation.segment_need_"
        cls.quality = cls.env.ref(need + "quality")
        cls.price = cls.env.ref(need + "price")
        cls.welfare = cls.env.ref(need + "welfare")
        cls.training = cls.env.ref(need + "training")

    def test_needs_set_by_hand(self):
        customer = self._make_customer("Picky Customer")
        with Form(customer.with_user(self.contact_user), view=PARTNER_FORM) as form:
            form.segment_need_ids.add(self.quality)
            form.segment_need_ids.add(self.price)
        self.assertEqual(customer.segment_need_ids, self.quality + self.price)
        # a recompute leaves the needs without a rule alone
        self._recompute_all()
        self.assertEqual(customer.segment_need_ids, self.quality + self.price)
        with Form(customer.with_user(self.contact_user), view=PARTNER_FORM) as form:
            form.segment_need_ids.remove(id=self.price.id)
        self.assertEqual(customer.segment_need_ids, self.quality)
        rows = self._history(customer, "need")
        self.assertEqual(
            rows.mapped(
                lambda h: (h.old_segment_id, h.new_segment_id, h.cause, h.movement)
            ),
            [
                (self.env["customer.segment"], self.quality, "manual", "entry"),
                (self.env["customer.segment"], self.price, "manual", "entry"),
                (self.price, self.env["customer.segment"], "manual", "exit"),
            ],
        )
        self.assertEqual(rows.user_id, self.contact_user)

    def test_needs_by_rule(self):
        self.welfare.write(
            {"rule_domain": "[('segmentation_employee_count', '>=', 500)]"}
        )
        big = self._make_customer(
            "Big Employer", is_company=True, segmentation_employee_count=800
        )
        small = self._make_customer(
            "Small Employer", is_company=True, segmentation_employee_count=20
        )
        # classified at creation
        self.assertEqual(big.segment_need_ids, self.welfare)
        self.assertFalse(small.segment_need_ids)
        # a need set by hand lives beside the rule's
        small.with_user(self.contact_user).write(
            {"segment_need_ids": [(4, self.training.id)]}
        )
        small.with_user(self.contact_user).write({"segmentation_employee_count": 600})
        self.assertEqual(small.segment_need_ids, self.training + self.welfare)
        big.with_user(self.contact_user).write({"segmentation_employee_count": 100})
        self.assertFalse(big.segment_need_ids)
        self._recompute_all()
        self.assertFalse(big.segment_need_ids)
        self.assertEqual(small.segment_need_ids, self.training + self.welfare)
        rows = self._history(big, "need")
        self.assertEqual(
            rows.mapped(lambda h: (h.cause, h.movement)),
            [("rule", "entry"), ("rule", "exit")],
        )
        self.assertEqual(rows.new_segment_id | rows.old_segment_id, self.welfare)

    def test_rule_need_added_by_recompute_after_rule_change(self):
        customer = self._make_customer(
            "Training Needed", is_company=True, segmentation_employee_count=5
        )
        self.assertFalse(customer.segment_need_ids)
        self.training.write(
            {"rule_domain": "[('segmentation_employee_count', '<', 10)]"}
        )
        self._recompute_all()
        self.assertEqual(customer.segment_need_ids, self.training)

    def test_need_rule_on_tags(self):
        tag = self.env["res.partner.category"].create({"name": "Price Hunter"})
        self.price.write({"rule_domain": repr([("category_id", "in", tag.ids)])})
        customer = self._make_customer("Bargain Seeker")
        self.assertFalse(customer.segment_need_ids)
        customer.with_user(self.contact_user).write({"category_id": [(4, tag.id)]})
        self.assertEqual(customer.segment_need_ids, self.price)
        customer.with_user(self.contact_user).write({"category_id": [(3, tag.id)]})
        self.assertFalse(customer.segment_need_ids)

    def test_segments_set_at_creation_are_logged(self):
        rational = self._segment("psychographic", "rational")
        customer = (
            self.env["res.partner"]
            .with_user(self.contact_user)
            .create(
                {
                    "name": "Created With Segments",
                    "segment_psychographic_id": rational.id,
                    "segment_need_ids": [(6, 0, self.quality.ids)],
                }
            )
        )
        self.assertEqual(customer.segment_psychographic_id, rational)
        rows = self._history(customer, "psychographic") + self._history(
            customer, "need"
        )
        self.assertEqual(
            rows.mapped(lambda h: (h.dimension, h.new_segment_id, h.cause)),
            [("psychographic", rational, "manual"), ("need", self.quality, "manual")],
        )

    def test_psychographic_type_set_by_hand(self):
        customer = self._make_customer("Thoughtful Customer")
        rational = self._segment("psychographic", "rational")
        emotional = self._segment("psychographic", "emotional")
        with Form(customer.with_user(self.contact_user), view=PARTNER_FORM) as form:
            form.segment_psychographic_id = rational
        self.assertEqual(customer.segment_psychographic_id, rational)
        self._recompute_all()
        self.assertEqual(customer.segment_psychographic_id, rational)
        customer.with_user(self.contact_user).write(
            {"segment_psychographic_id": emotional.id}
        )
        rows = self._history(customer, "psychographic")
        self.assertEqual(
            rows.mapped(lambda h: (h.old_segment_id, h.new_segment_id, h.cause)),
            [
                (self.env["customer.segment"], rational, "manual"),
                (rational, emotional, "manual"),
            ],
        )
        self.assertEqual(rows.user_id, self.contact_user)
        self.assertIn(self.contact_user.name, rows[0].reason)
