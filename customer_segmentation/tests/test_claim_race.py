"""Claims made at the same time, each in its own transaction as parallel
requests make them: the daily limit holds, and a customer goes to one
salesperson."""

import threading
from contextlib import contextmanager

from psycopg2 import OperationalError

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT

LIMIT_FIELD = "segmentation_pool_daily_claim_limit"
NAME = "CS Claim Race"
LOGINS = ("cs_claim_race_1", "cs_claim_race_2")


@tagged("post_install", "-at_install")
class TestClaimRace(TransactionCase):
    """The fixtures are committed in a cursor of their own, so that the
    claims' cursors see them, and removed when the test ends. The test's own
    transaction writes nothing: a claim waiting for one of its locks would
    wait forever."""

    def setUp(self):
        super().setUp()
        with self._committed_env() as env:
            # new users join the company's channels, which notifies the bus
            self.last_bus_id = env["bus.bus"].search([], order="id desc", limit=1).id
            self.previous_limit = env.company[LIMIT_FIELD]
        self.addCleanup(self._remove_fixtures)
        with self._committed_env() as env:
            env.company.write({LIMIT_FIELD: 3})
            self.user_ids = [
                new_test_user(env, login, groups="sales_team.group_sale_salesman").id
                for login in LOGINS
            ]
            customers = env["res.partner"].create(
                [
                    {"name": f"{NAME} {index}", "segmentation_in_pool": True}
                    for index in range(12)
                ]
            )
            self.customer_ids = customers.ids
            # two claims already made today
            customers[:2].with_user(self.user_ids[0]).action_claim_from_pool()

    @contextmanager
    def _committed_env(self):
        """A superuser environment on a new cursor, committed at the end."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, DISABLED_MAIL_CONTEXT)

    def _remove_fixtures(self):
        with self._committed_env() as env:
            users = env["res.users"].with_context(active_test=False)
            users = users.search([("login", "in", LOGINS)])
            partners = env["res.partner"].with_context(active_test=False)
            partners = partners.search([("name", "=like", f"{NAME} %")])
            partners |= users.partner_id
            env["mail.message"].search(
                [("model", "=", "res.partner"), ("res_id", "in", partners.ids)]
            ).unlink()
            # pool moves and claim counters go with their customer and user
            users.unlink()
            partners.unlink()
            env.company.write({LIMIT_FIELD: self.previous_limit})
            env["bus.bus"].search([("id", ">", self.last_bus_id)]).unlink()

    def _claim_in_parallel(self, claims):
        """Run each ``(user id, customer ids)`` claim in its own transaction,
        released at once, retried on concurrency errors as Odoo's RPC layer
        retries a request; return each outcome: "claimed", the error message
        of a refusal, or the code of a concurrency error left after the
        retries."""
        barrier = threading.Barrier(len(claims))
        outcomes = [None] * len(claims)

        def claim(index, uid, customer_ids):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, uid, {})
                customers = env["res.partner"].browse(customer_ids)
                barrier.wait(timeout=60)
                try:
                    retrying(customers.action_claim_from_pool, env)
                    outcomes[index] = "claimed"
                except UserError as error:
                    cr.rollback()
                    outcomes[index] = str(error)
                except OperationalError as error:
                    cr.rollback()
                    outcomes[index] = error.pgcode

        threads = [
            threading.Thread(target=claim, args=(index, *args))
            for index, args in enumerate(claims)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        self.assertFalse([thread for thread in threads if thread.is_alive()])
        return outcomes

    def _committed(self):
        """``({customer id: salesperson id}, [(customer id, claimer id)],
        {salesperson id: claims today})`` as committed."""
        with self._committed_env() as env:
            customers = env["res.partner"].browse(self.customer_ids)
            moves = env["customer.segmentation.pool.move"].search(
                [("partner_id", "in", self.customer_ids), ("move", "=", "claim")]
            )
            counters = env["customer.segmentation.claim.counter"].search(
                [("user_id", "in", self.user_ids)]
            )
            return (
                {c.id: c.user_id.id for c in customers if c.user_id},
                sorted((m.partner_id.id, m.user_id.id) for m in moves),
                {c.user_id.id: c.claims for c in counters},
            )

    def test_parallel_claims_keep_the_daily_limit(self):
        salesman = self.user_ids[0]
        free = self.customer_ids[2:]
        outcomes = self._claim_in_parallel([(salesman, [c]) for c in free])
        claimed = [o for o in outcomes if o == "claimed"]
        refused = [o for o in outcomes if o != "claimed"]
        self.assertEqual(len(claimed), 1, outcomes)
        for outcome in refused:
            self.assertTrue(
                LIMIT_FIELD in outcome
                or outcome in ("40001", "55P03", "40P01"),  # retries spent
                outcome,
            )
        owners, moves, counters = self._committed()
        self.assertEqual(set(owners.values()), {salesman})
        self.assertEqual(len(owners), 3)
        self.assertEqual(moves, sorted((c, salesman) for c in owners))
        self.assertEqual(counters, {salesman: 3})

    def test_one_customer_claimed_by_two_salespeople(self):
        customer = self.customer_ids[2]
        outcomes = self._claim_in_parallel([(uid, [customer]) for uid in self.user_ids])
        self.assertEqual(outcomes.count("claimed"), 1, outcomes)
        [refusal] = [o for o in outcomes if o != "claimed"]
        self.assertTrue(
            "not in the customer pool" in refusal or refusal in ("40001", "55P03"),
            refusal,
        )
        winner = self.user_ids[outcomes.index("claimed")]
        owners, moves, counters = self._committed()
        self.assertEqual(owners[customer], winner)
        self.assertEqual([m for m in moves if m[0] == customer], [(customer, winner)])
        expected = {self.user_ids[0]: 2}
        expected[winner] = expected.get(winner, 0) + 1
        self.assertEqual(counters, expected)
