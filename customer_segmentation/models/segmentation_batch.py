"""Long jobs in short transactions.

The nightly recompute, the manual full recompute and the strategy job write
every customer while users edit contacts. Odoo runs its transactions in
REPEATABLE READ: a statement that writes a row another transaction changed
since its own transaction began fails with a serialization error, and a user
whose row the job holds waits for the job's transaction to end. One
transaction over every customer therefore fails as soon as anybody edits a
contact meanwhile, and makes the users' requests wait longer than Odoo's RPC
layer retries them.

So these jobs work in batches of customers, each batch one transaction,
committed:

- it first locks its customers and their contacts, in id order (the order
  every batch of every job takes them in, so two jobs do not deadlock), and
  runs in READ COMMITTED: the lock waits for the users' transactions holding
  some of these rows and then sees what they committed, instead of failing as
  REPEATABLE READ would. Once the rows are locked nobody else can change them,
  so the batch reads and writes them as one consistent step;
- when a concurrency error aborts it anyway (a deadlock with a user's
  request, a concurrent update of another table), it is rolled back and run
  again in a new transaction, a bounded number of times;
- it is short, so that a user's request that waited for it and then fails
  with a serialization error (the user's transaction began before the batch
  committed) is retried by Odoo's RPC layer in time.

A run of the recompute works on two batches at once (``SecondConnection``):
its next batch runs on a second connection, in a thread, while the caller's
connection runs the current one, so that PostgreSQL uses two CPUs. The two
commit in their order: the second batch, once its work is done, waits for the
first one's commit before it writes the run's resume point, so an interrupted
run still resumes after its last committed batch.
"""

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial

from psycopg2 import errors

from odoo import api
from odoo.exceptions import UserError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# What PostgreSQL raises when concurrent transactions get in each other's
# way; a new transaction may well succeed (odoo/service/model.py retries the
# same ones).
CONCURRENCY_ERRORS = (
    errors.SerializationFailure,
    errors.DeadlockDetected,
    errors.LockNotAvailable,
)
# Attempts per batch, and the wait before the second one (doubled for each
# next one, randomised so that two jobs retrying against each other drift
# apart): at most about 3 s of waiting in all.
BATCH_TRIES = 5
FIRST_RETRY_DELAY = 0.2
# How often (seconds) a second batch waiting for its turn checks that it does
# not hold a lock the first one waits for.
TURN_POLL = 0.2


def committing(env):
    """Whether batches are committed: not while modules are being installed
    or updated (demo data recompute), whose transaction Odoo commits or rolls
    back as a whole, nor in a test, whose transaction must stay open until
    the test rolls it back."""
    return (
        env.registry.ready
        and not env.registry.in_test_mode()
        and not getattr(threading.current_thread(), "testing", False)
    )


def run_batch(env, work, job):
    """Run ``work()`` as one transaction of its own and return its result.

    The transaction is committed, or, in a test, stood for by a savepoint;
    what the caller did before is committed first. When a concurrency error
    aborts it, it is rolled back and ``work()`` runs again in a new
    transaction (which sees what the other transactions committed meanwhile),
    after a short wait, up to ``BATCH_TRIES`` times; then a ``UserError`` says
    so. Whatever ``work()`` did is either all committed or all rolled back,
    and what earlier batches committed stays.

    :param job: translated name of the job, for the error message
    """
    cr = env.cr
    commit = committing(env)
    for attempt in range(1, BATCH_TRIES + 1):
        try:
            if commit:
                # a transaction of its own, in READ COMMITTED (see above)
                cr.commit()  # pylint: disable=invalid-commit
                cr.execute(SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
                # a batch's statements read a few thousand rows each: a
                # parallel worker costs more to start than it saves (a tenth
                # of a no-change rerun at 1M customers)
                cr.execute(SQL("SET LOCAL max_parallel_workers_per_gather = 0"))
                result = work()
                cr.commit()  # pylint: disable=invalid-commit
            else:
                with cr.savepoint():
                    result = work()
            return result
        except CONCURRENCY_ERRORS as error:
            if commit:
                cr.rollback()
            if attempt == BATCH_TRIES:
                _logger.warning("%s: batch failed %s times, giving up", job, attempt)
                raise UserError(
                    env._(
                        "%(job)s stopped: other users kept changing the same "
                        "customers, and a batch of customers failed %(tries)s "
                        "times (%(error)s). What was done before is saved; "
                        "run it again to finish.",
                        job=job,
                        tries=attempt,
                        error=type(error).__name__,
                    )
                ) from error
            delay = FIRST_RETRY_DELAY * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            _logger.info(
                "%s: %s, retrying the batch in %.2f s (attempt %s of %s)",
                job,
                type(error).__name__,
                delay,
                attempt + 1,
                BATCH_TRIES,
            )
            time.sleep(delay)


def lock_customers(env, low, high):
    """Lock the commercial partners with ``low < id <= high`` and their
    contacts until the end of the transaction, in id order.

    Taken first in a batch, the locks make its reads and writes of these
    partners one consistent step: a user's edit committed before is seen, one
    started after waits for the batch.
    """
    env.execute_query(
        SQL(
            """
        SELECT id FROM res_partner
         WHERE commercial_partner_id > %s AND commercial_partner_id <= %s
      ORDER BY id
           FOR NO KEY UPDATE
            """,
            low,
            high,
        )
    )


def lock_customer_ids(env, customer_ids):
    """Lock these commercial partners and their contacts, as
    ``lock_customers`` does for a range of ids."""
    env.execute_query(
        SQL(
            """
        SELECT id FROM res_partner
         WHERE commercial_partner_id = ANY(%s)
      ORDER BY id
           FOR NO KEY UPDATE
            """,
            list(customer_ids),
        )
    )


def next_batch(env, after, size):
    """``(highest id, count)`` of the next ``size`` customers (commercial
    partners, archived ones included) with an id above ``after`` (all of them
    when ``size`` is None), or ``(None, 0)`` when none is left."""
    Partner = env["res.partner"].sudo().with_context(active_test=False)
    query = Partner._search(
        [*Partner._segmentation_customer_domain(), ("id", ">", after)],
        order="id",
        limit=size,
    )
    return env.execute_query(
        SQL("SELECT max(id), count(*) FROM %s batch", query.subselect())
    )[0]


class YieldTurn(Exception):
    """The second batch gives up its transaction: the first one failed, or
    waits for a lock the second one holds."""


class SecondConnection:
    """A second connection to the database, with a thread of its own, on
    which a job runs its next batch while the caller's connection runs the
    current one (``run_pair``). Close it after use (``close``)."""

    def __init__(self, env):
        self.env = env
        self.cr = env.registry.cursor()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="segmentation")
        [(self.first_pid,)] = env.execute_query(SQL("SELECT pg_backend_pid()"))
        self.cr.execute(SQL("SELECT pg_backend_pid()"))
        [(self.second_pid,)] = self.cr.fetchall()

    def close(self):
        self.executor.shutdown(wait=True)
        self.cr.close()

    def run_pair(self, first, second, job):
        """Run ``first()`` on the caller's connection and, at the same time,
        ``second(env, wait_turn)`` on this one, each as one batch
        (``run_batch``): ``second`` works with ``env`` and calls
        ``wait_turn()`` before it writes what must follow ``first``'s commit
        (the resume point). When the second batch yields (``YieldTurn``: the
        first one failed or needed its locks), it is rolled back and, if the
        first one committed, run again after it on the caller's connection.
        Errors of either batch are raised here."""
        turn = threading.Event()
        outcome = {}
        future = self.executor.submit(self._second, second, turn, outcome, job)
        try:
            run_batch(self.env, first, job)
            outcome["first"] = "committed"
        finally:
            turn.set()
            wait([future])
        if not future.result():
            run_batch(self.env, partial(second, self.env, lambda: None), job)

    def _second(self, second, turn, outcome, job):
        """Run the second batch on this connection; False when it yielded
        (rolled back)."""
        threading.current_thread().dbname = self.cr.dbname
        env = api.Environment(self.cr, self.env.uid, self.env.context, self.env.su)

        def wait_turn():
            while not turn.wait(TURN_POLL):
                if self._blocks_first(env):
                    raise YieldTurn()
            if outcome.get("first") != "committed":
                raise YieldTurn()

        try:
            run_batch(env, partial(second, env, wait_turn), job)
        except YieldTurn:
            self.cr.rollback()
            return False
        except Exception:
            self.cr.rollback()
            raise
        return True

    def _blocks_first(self, env):
        """Whether the first connection waits for a lock this one holds."""
        [(blocks,)] = env.execute_query(
            SQL(
                "SELECT %s = ANY(pg_blocking_pids(%s))",
                self.second_pid,
                self.first_pid,
            )
        )
        return blocks
