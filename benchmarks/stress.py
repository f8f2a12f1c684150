#!/usr/bin/env python3
"""Race customer_segmentation's long jobs against users, on a local server.

    python3 benchmarks/stress.py -d cs_bench_20k                 # every scenario
    python3 benchmarks/stress.py -d cs_bench_20k --scenarios ad  # some of them

Starts Odoo on the database (``python3 -m odoo`` with the addons path of
scripts/odoo.sh, ``--workers`` so that requests really run in parallel,
listening on 127.0.0.1 only, on ``--port`` and ``--port`` + 1 for its gevent
process, no cron thread), runs the scenarios through XML-RPC as the users they
need, and prints for each what it tried, what succeeded, the errors by kind,
what the server logged about retries, and a verdict (HELD or FAILED):

(a) A segmentation manager runs the full recompute (``recompute_all_segments``)
    on emptied segment columns, while ``--clients`` salespeople edit contacts
    in a loop (name, job title, country, company employee count), each on its
    own customers. Holds if the recompute returns its summary, every edit
    succeeds (Odoo may retry it internally), every edit is in the database at
    the end (no lost update), and a clean recompute afterwards changes no
    partner's segment columns.
(b) The same, with the strategy job (``apply_segment_strategies``): holds if
    the job and every edit succeed and no edit is lost.
(c) A salesman with a daily claim limit of 3, who claimed 2 customers today,
    sends 10 claims of pool customers at once, in ``--claim-rounds`` rounds (a
    new salesman each): holds if exactly one claim succeeds in every round.
(d) The nightly cron (``_cron_recompute_segments``, small batches, started
    with ``ir.cron.method_direct_trigger``) on emptied segment columns is
    killed (SIGKILL to every process of the server) in the middle of its run;
    the server is started again and the cron run again. Holds if the run
    resumes and ends done, and every partner's segment columns (and rule
    needs) equal those left by a clean full recompute on a copy of the
    database made before (``CREATE DATABASE ... TEMPLATE``).

Bounded: every loop stops after a count (``--max-edits`` per client) and the
whole script after ``--time-limit`` seconds; the servers it started are
stopped on exit, Ctrl+C included. The script exits 1 if a scenario failed.

It changes the database, which must be a generated one (benchmarks/generate.py)
named cs_bench_*: it creates the users cs_stress_* (password: login + "-pwd";
a new claimer per round of (c)), empties the segment columns before (a) and
(d) (the runs write them back), renames and edits the contacts the clients
edit, puts customers in the pool and claims them in (c), creates a database
``<db>_copy`` for (d) and drops it afterwards. The admin user must have the
password ``--admin-password`` (default: admin, as after ``odoo -i``). It can
be run again at once.
"""

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections import Counter

import psycopg2
from benchlib import DB_PREFIX, default_addons_path

BATCH_LOGGER = "odoo.addons.customer_segmentation.models.segmentation_batch"
# Job titles of every job level, in English and Chinese, and none.
TITLES = (
    "CEO",
    "General Manager",
    "Sales Manager",
    "Team Leader",
    "Engineer",
    "Assistant",
    "总经理",
    "经理",
    "采购专员",
    "Consultant",
)
COUNTRIES = ("US", "FR", "DE", "GB", "CN", "IN")
SUFFIX = re.compile(r" #\d+\.\d+$")


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-d", "--db", required=True, help=f"database, {DB_PREFIX}*")
    parser.add_argument("--scenarios", default="abcd", help="among a, b, c, d")
    parser.add_argument(
        "--port",
        type=int,
        default=8171,
        help="HTTP port on 127.0.0.1 (the gevent process takes the next one)",
    )
    parser.add_argument("--workers", type=int, default=5, help="Odoo workers (>= 2)")
    parser.add_argument("--clients", type=int, default=3, help="editing clients")
    parser.add_argument(
        "--max-edits", type=int, default=3000, help="edits per client and scenario"
    )
    parser.add_argument(
        "--claims", type=int, default=10, help="(c) claims sent at once"
    )
    parser.add_argument(
        "--claim-rounds", type=int, default=3, help="(c) times the claims are raced"
    )
    parser.add_argument(
        "--cron-batch-size",
        type=int,
        default=1000,
        help="(d) customers per batch of the nightly run",
    )
    parser.add_argument(
        "--kill-at",
        type=float,
        default=0.4,
        help="(d) share of the customers done when the server is killed",
    )
    parser.add_argument(
        "--time-limit", type=float, default=1800, help="seconds for the whole script"
    )
    parser.add_argument("--admin-password", default="admin")
    parser.add_argument(
        "--addons-path", help="Odoo addons path (default: as scripts/odoo.sh)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.db.startswith(DB_PREFIX):
        sys.exit(f"refusing database {args.db!r}: use a {DB_PREFIX}* database")
    if args.workers < 2:
        sys.exit("--workers must be at least 2: requests must run in parallel")
    if not set(args.scenarios) <= set("abcd"):
        sys.exit("--scenarios: letters among a, b, c, d")
    return args


# ----------------------------------------------------------------------
# The server
# ----------------------------------------------------------------------


class Server:
    """``python3 -m odoo`` on one database, in a process group of its own so
    that stopping or killing it reaches every worker."""

    running = []

    def __init__(self, args, db, log_dir):
        self.args = args
        self.db = db
        self.log_path = os.path.join(log_dir, f"{db}.log")
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.args.port}"

    def start(self):
        for port in (self.args.port, self.args.port + 1):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(f"port {port} of 127.0.0.1 is taken")
        command = [
            sys.executable,
            "-m",
            "odoo",
            "--addons-path",
            self.args.addons_path or default_addons_path(),
            "-d",
            self.db,
            "--db-filter",
            f"^{re.escape(self.db)}$",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.args.port),
            "--gevent-port",
            str(self.args.port + 1),
            "--workers",
            str(self.args.workers),
            "--max-cron-threads",
            "0",
            "--limit-time-real",
            "1200",
            "--limit-time-cpu",
            "1200",
            "--log-level",
            "warn",
            "--log-handler",
            "odoo.service.model:INFO",
            "--log-handler",
            f"{BATCH_LOGGER}:INFO",
            "--logfile",
            self.log_path,
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "TZ": "UTC"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        Server.running.append(self)
        common = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/common", transport=TimeoutTransport(5)
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited at start, see {self.log_path}")
            try:
                common.version()
                return self
            except (OSError, http.client.HTTPException, xmlrpc.client.Error):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Odoo did not answer within 180 s, see {self.log_path}")

    def _signal_group(self, signum):
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def stop(self):
        """Stop gracefully, then by force after 30 s."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(30)
        # workers may outlive the master by a moment
        self._signal_group(signal.SIGKILL)
        self._forget()

    def kill(self):
        """SIGKILL every process of the server at once, as a crash would."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(30)
        self._forget()

    def _forget(self):
        if self in Server.running:
            Server.running.remove(self)
        self.process = None

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def retries_logged(self, since=0):
        """What the server logged about retries since offset ``since``."""
        counts = Counter()
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                log.seek(since)
                for line in log:
                    if "retrying the batch" in line:
                        error = re.search(r": (\w+), retrying", line)
                        counts[f"job batch retried ({error.group(1)})"] += 1
                    elif "giving up" in line:
                        counts["job batch given up"] += 1
                    elif "tries left, try again" in line:
                        code = re.search(r"INFO \S+ \S+: (\w+),", line)
                        name = code.group(1) if code else "?"
                        counts[f"request retried by Odoo ({name})"] += 1
                    elif "maximum number of tries reached" in line:
                        counts["request failed after Odoo's 5 tries"] += 1
                    elif " ERROR " in line and "bad query" not in line:
                        counts["other ERROR lines"] += 1
        except OSError:
            pass
        return counts


class TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class Client:
    """One XML-RPC user; one per thread (ServerProxy is not thread-safe)."""

    def __init__(self, server, login, password, timeout=1200):
        self.db = server.db
        self.password = password
        transport = TimeoutTransport(timeout)
        common = xmlrpc.client.ServerProxy(
            f"{server.url}/xmlrpc/2/common", transport=transport
        )
        self.uid = common.authenticate(self.db, login, password, {})
        if not self.uid:
            raise RuntimeError(f"cannot log in as {login} on {self.db}")
        self.proxy = xmlrpc.client.ServerProxy(
            f"{server.url}/xmlrpc/2/object",
            transport=TimeoutTransport(timeout),
            allow_none=True,
        )

    def call(self, model, method, *args, **kwargs):
        return self.proxy.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )


def error_kind(error):
    """A short name for what went wrong with a call."""
    if isinstance(error, xmlrpc.client.Fault):
        text = str(error.faultString)
        if error.faultCode == 2:
            return "UserError: " + text.strip().splitlines()[0][:60]
        for name in ("SerializationFailure", "DeadlockDetected", "LockNotAvailable"):
            if name in text:
                return name
        return text.strip().splitlines()[-1][:80]
    return type(error).__name__


class Tally:
    """Attempts, successes, errors by kind and latencies of some calls."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = 0
        self.errors = Counter()
        self.latencies = []

    def record(self, seconds, error=None):
        with self.lock:
            self.attempts += 1
            self.latencies.append(seconds)
            if error is not None:
                self.errors[error_kind(error)] += 1

    @property
    def successes(self):
        return self.attempts - sum(self.errors.values())

    def describe(self):
        errors = ", ".join(f"{kind} {n}" for kind, n in self.errors.most_common())
        text = (
            f"{self.attempts} attempts, {self.successes} successes, "
            f"errors: {errors or 'none'}"
        )
        if self.latencies:
            ordered = sorted(self.latencies)
            text += (
                f"; latency median {statistics.median(ordered) * 1000:.0f} ms, "
                f"p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.0f} ms, "
                f"max {ordered[-1] * 1000:.0f} ms"
            )
        return text


# ----------------------------------------------------------------------
# The database, seen directly
# ----------------------------------------------------------------------


def connect(db):
    connection = psycopg2.connect(dbname=db)
    connection.autocommit = True
    return connection


def query(db, sql, params=None):
    connection = connect(db)
    try:
        with connection.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else None
    finally:
        connection.close()


def classified_columns(db):
    """The columns of res_partner that the runs classify: figures and
    segments (stored fields of the module's dimensions), custom dimensions."""
    rows = query(
        db,
        """
        SELECT f.name FROM ir_model_fields f
          JOIN information_schema.columns c
            ON c.table_name = 'res_partner' AND c.column_name = f.name
         WHERE f.model = 'res.partner' AND f.store AND f.ttype != 'many2many'
           AND (f.name IN ('first_order_date', 'last_order_date')
                OR f.name LIKE 'rfm\\_%%'
                OR (f.name LIKE 'segment\\_%%' AND f.name != 'segment_psychographic_id')
                OR f.name IN (SELECT partner_field FROM customer_segment_dimension
                               WHERE rule_type = 'domain'))
      ORDER BY f.name
        """,
    )
    return [name for (name,) in rows]


def empty_segment_columns(db):
    """Empty the classified columns, as run.py does before (a): the next run
    writes every partner again."""
    columns = classified_columns(db)
    assignments = ", ".join(f"{name} = NULL" for name in columns)
    guard = " OR ".join(f"{name} IS NOT NULL" for name in columns)
    query(db, f"UPDATE res_partner SET {assignments} WHERE {guard}")
    query(db, "VACUUM res_partner")


def snapshot(db):
    """Every partner's classified columns and rule needs."""
    columns = classified_columns(db)
    rows = query(
        db,
        f"""
        SELECT p.id, {", ".join(f"p.{name}::text" for name in columns)},
               ARRAY(SELECT n.segment_id FROM res_partner_customer_segment_need_rel n
                      WHERE n.partner_id = p.id ORDER BY 1)::text
          FROM res_partner p
        """,
    )
    return columns + ["segment_need_ids"], {row[0]: row[1:] for row in rows}


def differences(first, second):
    """Partners whose columns differ between two snapshots, with examples."""
    columns, left = first
    _columns, right = second
    differing = sorted(
        pid for pid in left.keys() | right.keys() if left.get(pid) != right.get(pid)
    )
    examples = []
    for pid in differing[:3]:
        a, b = left.get(pid) or (), right.get(pid) or ()
        changed = [
            f"{name}: {x} != {y}"
            for name, x, y in zip(columns, a, b, strict=False)
            if x != y
        ]
        examples.append(f"partner {pid}: {'; '.join(changed) or 'missing'}")
    return differing, examples


# ----------------------------------------------------------------------
# Users editing contacts
# ----------------------------------------------------------------------


class Editors:
    """``count`` salespeople editing contacts in a loop, each on the
    customers (and their contacts) whose id modulo ``count`` is its own, so
    that the last value each one wrote is the one expected in the end."""

    def __init__(self, stress, count):
        self.stress = stress
        self.count = count
        self.stop_event = threading.Event()
        self.tally = Tally()
        self.expected = {}  # (partner id, field) -> value last written
        self.lock = threading.Lock()
        self.threads = []
        self.targets = self._targets()

    def _targets(self):
        db = self.stress.args.db
        rng = random.Random(self.stress.args.seed)
        rows = query(
            db,
            """
            SELECT id, commercial_partner_id, name,
                   CASE WHEN is_company THEN 'company'
                        WHEN parent_id IS NOT NULL THEN 'contact'
                        ELSE 'individual' END
              FROM res_partner
             WHERE active AND commercial_partner_id IS NOT NULL
               AND id NOT IN (SELECT partner_id FROM res_users)
               AND id NOT IN (SELECT partner_id FROM res_company)
          ORDER BY id
            """,
        )
        rng.shuffle(rows)
        targets = [[] for _client in range(self.count)]
        for partner_id, entity_id, name, kind in rows[:600]:
            targets[entity_id % self.count].append(
                (partner_id, SUFFIX.sub("", name), kind)
            )
        return targets

    def start(self):
        for index in range(self.count):
            thread = threading.Thread(target=self._edit, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(120)

    def _edit(self, index):
        stress = self.stress
        login = f"cs_stress_editor_{index + 1}"
        client = Client(stress.server, login, login + "-pwd", timeout=300)
        rng = random.Random(stress.args.seed * 100 + index)
        countries = stress.country_ids
        for number in range(stress.args.max_edits):
            if self.stop_event.is_set() or stress.out_of_time():
                break
            partner_id, base_name, kind = rng.choice(self.targets[index])
            choices = ["name", "function"]
            if kind == "individual":
                choices.append("country_id")
            if kind == "company":
                choices = ["name", "segmentation_employee_count"]
            field = rng.choice(choices)
            value = {
                "name": f"{base_name} #{index + 1}.{number}",
                "function": rng.choice(TITLES),
                "country_id": rng.choice(countries),
                "segmentation_employee_count": rng.randint(1, 2000),
            }[field]
            start = time.monotonic()
            try:
                client.call("res.partner", "write", [partner_id], {field: value})
            except Exception as error:  # noqa: BLE001 - counted by kind
                self.tally.record(time.monotonic() - start, error)
            else:
                self.tally.record(time.monotonic() - start)
                with self.lock:
                    self.expected[partner_id, field] = value

    def lost_updates(self):
        """Edits whose value is not in the database: ``(lost, checked)``."""
        by_field = {}
        for (partner_id, field), value in self.expected.items():
            by_field.setdefault(field, {})[partner_id] = value
        lost = []
        for field, values in by_field.items():
            rows = query(
                self.stress.args.db,
                f"SELECT id, {field} FROM res_partner WHERE id = ANY(%s)",
                [list(values)],
            )
            lost += [
                (partner_id, field, values[partner_id], stored)
                for partner_id, stored in rows
                if stored != values[partner_id]
            ]
        return lost, len(self.expected)


# ----------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------


class Stress:
    def __init__(self, args):
        self.args = args
        self.deadline = time.monotonic() + args.time_limit
        self.log_dir = tempfile.mkdtemp(prefix="cs_stress_")
        self.server = None
        self.country_ids = []
        self.verdicts = {}
        self.resume_problems = []

    def out_of_time(self):
        return time.monotonic() > self.deadline

    def start_server(self, db=None):
        self.server = Server(self.args, db or self.args.db, self.log_dir).start()
        return self.server

    def stop_server(self):
        if self.server:
            self.server.stop()
            self.server = None

    def admin(self):
        return Client(self.server, "admin", self.args.admin_password)

    def ensure_users(self):
        """The scenarios' users, created on first use; password login-pwd."""
        admin = self.admin()

        def group(xmlid):
            module, name = xmlid.split(".")
            return admin.call(
                "ir.model.data",
                "search_read",
                [("module", "=", module), ("name", "=", name)],
                fields=["res_id"],
            )[0]["res_id"]

        salesman = group("sales_team.group_sale_salesman")
        manager = group("sales_team.group_sale_manager")
        # salespeople who may edit contacts (Contact Creation)
        editor = [salesman, group("base.group_partner_manager")]
        users = {"cs_stress_manager": [manager]}
        users.update(
            {f"cs_stress_editor_{n + 1}": editor for n in range(self.args.clients)}
        )
        for login, group_ids in users.items():
            found = admin.call(
                "res.users",
                "search",
                [("login", "=", login)],
                context={"active_test": False},
            )
            values = {
                "password": login + "-pwd",
                "groups_id": [(4, group_id) for group_id in group_ids],
            }
            if found:
                admin.call("res.users", "write", found, {**values, "active": True})
            else:
                admin.call(
                    "res.users", "create", {**values, "name": login, "login": login}
                )
        self.country_ids = admin.call(
            "res.country", "search", [("code", "in", list(COUNTRIES))]
        )

    def manager(self):
        return Client(self.server, "cs_stress_manager", "cs_stress_manager-pwd")

    def verdict(self, key, held, reasons):
        self.verdicts[key] = held
        print(f"    verdict: {'HELD' if held else 'FAILED'}", end="")
        print(f" ({'; '.join(reasons)})" if reasons else "")

    def print_retries(self, since):
        counts = self.server.retries_logged(since)
        logged = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        print(f"    server log: {logged or 'no retry'}")

    def race(self, key, title, job_name, method, after=None):
        """``method`` of res.partner called by the segmentation manager while
        the clients edit contacts."""
        print(f"\n({key}) {title}")
        since = self.server.log_size()
        editors = Editors(self, self.args.clients)
        editors.start()
        time.sleep(1)
        job = Tally()
        result, error = None, None
        start = time.monotonic()
        try:
            result = self.manager().call("res.partner", method)
        except Exception as caught:  # noqa: BLE001 - reported
            error = caught
        job.record(time.monotonic() - start, error)
        time.sleep(1)
        editors.stop()
        print(f"    {job_name}: {job.describe()}")
        print(
            f"        returned {result!r}"
            if error is None
            else f"        {error!r}"[:300]
        )
        print(f"    client edits: {editors.tally.describe()}")
        lost, checked = editors.lost_updates()
        print(f"    lost updates: {len(lost)} of {checked} partner fields checked")
        for partner_id, field, written, found in lost[:3]:
            print(
                f"        partner {partner_id} {field}: wrote {written!r}, "
                f"found {found!r}"
            )
        reasons = []
        if error is not None:
            reasons.append(f"the {job_name} failed")
        if not editors.tally.attempts:
            reasons.append("no edit was made")
        if editors.tally.errors:
            reasons.append("some edits failed")
        if lost:
            reasons.append("some edits were lost")
        if after:
            reasons += after()
        self.print_retries(since)
        self.verdict(key, not reasons, reasons)

    def scenario_a(self):
        empty_segment_columns(self.args.db)

        def compare_with_clean_recompute():
            before = snapshot(self.args.db)
            summary = self.manager().call("res.partner", "recompute_all_segments")
            differing, examples = differences(before, snapshot(self.args.db))
            print(
                f"    a clean recompute afterwards: wrote {summary['written']} "
                f"customers; partners whose columns it changed: {len(differing)}"
            )
            for example in examples:
                print(f"        {example}")
            return ["a clean recompute changes partners"] if differing else []

        self.race(
            "a",
            f"full recompute over XML-RPC (emptied columns) while "
            f"{self.args.clients} clients edit contacts",
            "recompute",
            "recompute_all_segments",
            after=compare_with_clean_recompute,
        )

    def scenario_b(self):
        self.race(
            "b",
            f"strategy job over XML-RPC while {self.args.clients} clients edit "
            f"contacts",
            "strategy job",
            "apply_segment_strategies",
        )

    def scenario_c(self):
        rounds = self.args.claim_rounds
        print(
            f"\n(c) {self.args.claims} claims at once by a salesman with a daily "
            f"limit of 3 who claimed 2 customers today, {rounds} rounds"
        )
        since = self.server.log_size()
        admin = self.admin()
        prefix = "customer_segmentation."
        saved = {
            key: admin.call("ir.config_parameter", "get_param", prefix + key)
            for key in ("pool_enabled", "pool_daily_claim_limit")
        }
        tally = Tally()
        outcomes = []
        try:
            for key, value in (("pool_enabled", "True"), ("pool_daily_claim_limit", 3)):
                admin.call("ir.config_parameter", "set_param", prefix + key, value)
            for round_ in range(rounds):
                outcomes.append(self._claim_round(admin, round_, tally))
        finally:
            for key, value in saved.items():
                admin.call(
                    "ir.config_parameter", "set_param", prefix + key, value or False
                )
        print(f"    claims: {tally.describe()}")
        print(
            "    per round, claims that succeeded / claims recorded today: "
            + ", ".join(f"{won} / {recorded}" for won, recorded in outcomes)
        )
        self.print_retries(since)
        reasons = [
            f"round {number + 1}: {won} claims succeeded and {recorded} were "
            f"recorded, 1 and 3 expected"
            for number, (won, recorded) in enumerate(outcomes)
            if (won, recorded) != (1, 3)
        ]
        self.verdict("c", not reasons, reasons)

    def _claim_round(self, admin, round_, tally):
        """A new salesman (today's count starts at 0 whatever the module keeps)
        claims 2 pool customers, then ``--claims`` others at once; return the
        claims that succeeded at once and those recorded for him today."""
        db = self.args.db
        login = f"cs_stress_claimer_{int(time.time())}_{round_ + 1}"
        salesman = admin.call(
            "ir.model.data",
            "search_read",
            [("module", "=", "sales_team"), ("name", "=", "group_sale_salesman")],
            fields=["res_id"],
        )[0]["res_id"]
        admin.call(
            "res.users",
            "create",
            {
                "name": login,
                "login": login,
                "password": login + "-pwd",
                "groups_id": [(4, salesman)],
            },
        )
        count = self.args.claims + 2
        pool = [
            partner_id
            for (partner_id,) in query(
                db,
                """
                SELECT id FROM res_partner
                 WHERE active AND NOT is_company AND parent_id IS NULL
                   AND id NOT IN (SELECT partner_id FROM res_users)
                   AND id NOT IN (SELECT partner_id FROM res_company)
              ORDER BY id OFFSET %s LIMIT %s
                """,
                [round_ * count, count],
            )
        ]
        query(
            db,
            """UPDATE res_partner SET segmentation_in_pool = true, user_id = NULL,
                      segmentation_pool_date = now() AT TIME ZONE 'UTC'
                WHERE id = ANY(%s)""",
            [pool],
        )
        claimer = Client(self.server, login, login + "-pwd")
        for partner_id in pool[:2]:
            claimer.call("res.partner", "action_claim_from_pool", [partner_id])
        barrier = threading.Barrier(self.args.claims)
        won = Tally()

        def claim(partner_id):
            client = Client(self.server, login, login + "-pwd")
            barrier.wait(30)
            start = time.monotonic()
            try:
                client.call("res.partner", "action_claim_from_pool", [partner_id])
            except Exception as error:  # noqa: BLE001 - counted by kind
                tally.record(time.monotonic() - start, error)
                won.record(0, error)
            else:
                tally.record(time.monotonic() - start)
                won.record(0)

        threads = [
            threading.Thread(target=claim, args=(partner_id,), daemon=True)
            for partner_id in pool[2:]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        recorded = query(
            db,
            """SELECT count(*) FROM customer_segmentation_pool_move
                WHERE user_id = %s AND move = 'claim'""",
            [claimer.uid],
        )[0][0]
        return won.successes, recorded

    def scenario_d(self):
        db, copy = self.args.db, self.args.db + "_copy"
        print(
            f"\n(d) nightly run in batches of {self.args.cron_batch_size:,} "
            f"killed at {self.args.kill_at:.0%}, restarted; compared with a clean "
            f"run on a copy"
        )
        self.stop_server()
        empty_segment_columns(db)
        query(
            db,
            "UPDATE customer_segmentation_run SET state = 'abandoned' "
            "WHERE state = 'running'",
        )
        drop_database(copy)
        copy_database(db, copy)
        try:
            self._kill_and_resume()
            self.stop_server()
            self.start_server(copy)
            start = time.monotonic()
            summary = self.manager().call("res.partner", "recompute_all_segments")
            seconds = time.monotonic() - start
            print(
                f"    clean full recompute on {copy}: {seconds:.1f} s, "
                f"{summary['customers']:,} customers"
            )
            self.stop_server()
            differing, examples = differences(snapshot(db), snapshot(copy))
        finally:
            self.stop_server()
            drop_database(copy)
            self.start_server()
        print(f"    partners whose columns differ from the clean run: {len(differing)}")
        for example in examples:
            print(f"        {example}")
        reasons = self.resume_problems
        if differing:
            reasons.append("the resumed run differs from a clean run")
        self.verdict("d", not reasons, reasons)

    def _kill_and_resume(self):
        db = self.args.db
        self.start_server()
        admin = self.admin()
        cron_id = admin.call(
            "ir.model.data",
            "search_read",
            [
                ("module", "=", "customer_segmentation"),
                ("name", "=", "ir_cron_recompute_segments"),
            ],
            fields=["res_id"],
        )[0]["res_id"]
        code = admin.call("ir.cron", "read", [cron_id], ["code"])[0]["code"]
        batch_size = self.args.cron_batch_size
        admin.call(
            "ir.cron",
            "write",
            [cron_id],
            {"code": f"model._cron_recompute_segments(batch_size={batch_size})"},
        )
        self.resume_problems = []
        try:
            calls = Tally()

            def trigger():
                start = time.monotonic()
                try:
                    Client(self.server, "admin", self.args.admin_password).call(
                        "ir.cron", "method_direct_trigger", [cron_id]
                    )
                except Exception as error:  # noqa: BLE001 - expected: killed
                    calls.record(time.monotonic() - start, error)
                else:
                    calls.record(time.monotonic() - start)

            thread = threading.Thread(target=trigger, daemon=True)
            thread.start()
            run, in_flight = self._wait_for_progress(thread)
            self.server.kill()
            thread.join(60)
            if run is None:
                self.resume_problems.append("the run ended before it could be killed")
                return
            run_id, total = run
            done, state = query(
                db,
                """SELECT customers_done, state FROM customer_segmentation_run
                    WHERE id = %s""",
                [run_id],
            )[0]
            print(
                f"    killed run {run_id}: {done:,} of {total:,} customers committed, "
                f"state {state}; at the kill the server was running: "
                f"{in_flight or 'no statement'}"
            )
            print(f"    first cron call (killed): {calls.describe()}")
            self.start_server()
            since = self.server.log_size()
            resumed = Tally()
            start = time.monotonic()
            try:
                Client(self.server, "admin", self.args.admin_password).call(
                    "ir.cron", "method_direct_trigger", [cron_id]
                )
            except Exception as error:  # noqa: BLE001 - reported
                resumed.record(time.monotonic() - start, error)
            else:
                resumed.record(time.monotonic() - start)
            print(f"    cron after the restart: {resumed.describe()}")
            runs = query(
                db,
                """SELECT id, state, customers_done, customers_total
                     FROM customer_segmentation_run WHERE id >= %s ORDER BY id""",
                [run_id],
            )
            print(f"    runs since the killed one: {runs}")
            self.print_retries(since)
            if done <= 0 or done >= total or state != "running":
                self.resume_problems.append("the kill did not catch the run midway")
            if runs != [(run_id, "done", total, total)]:
                self.resume_problems.append("the killed run was not resumed to its end")
        finally:
            if self.server is None:
                self.start_server()
            self.admin().call("ir.cron", "write", [cron_id], {"code": code})

    def _wait_for_progress(self, thread):
        """Wait until the cron run is ``--kill-at`` done; return ``((run id,
        total), what the server's connections were running)``."""
        db = self.args.db
        connection = connect(db)
        try:
            with connection.cursor() as cr:
                while thread.is_alive() and not self.out_of_time():
                    cr.execute(
                        """SELECT id, COALESCE(customers_done, 0), customers_total
                             FROM customer_segmentation_run
                            WHERE trigger = 'cron' AND state = 'running'
                         ORDER BY id DESC LIMIT 1"""
                    )
                    row = cr.fetchone()
                    if row and row[1] >= self.args.kill_at * row[2]:
                        cr.execute(
                            """SELECT state || ': ' || left(
                                          regexp_replace(query, '\\s+', ' ', 'g'), 50)
                                 FROM pg_stat_activity
                                WHERE datname = %s AND pid != pg_backend_pid()
                                  AND state != 'idle'""",
                            [db],
                        )
                        return (row[0], row[2]), [q for (q,) in cr.fetchall()]
                    time.sleep(0.02)
        finally:
            connection.close()
        return None, None


def copy_database(db, copy):
    """``CREATE DATABASE copy TEMPLATE db``, which needs ``db`` to have no
    other session: autovacuum may hold one for a moment."""
    for attempt in range(30):
        try:
            query("postgres", f'CREATE DATABASE "{copy}" TEMPLATE "{db}"')
            return
        except psycopg2.errors.ObjectInUse:
            if attempt == 29:
                raise
            time.sleep(1)


def drop_database(db):
    query("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    filestore = os.path.expanduser(f"~/.local/share/Odoo/filestore/{db}")
    shutil.rmtree(filestore, ignore_errors=True)


def stop_servers():
    for server in list(Server.running):
        server.stop()


def main():
    args = parse_args()
    stress = Stress(args)

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    # a call still running a minute after the time limit is cut short: its
    # server is stopped, the call fails and the scenario says so
    watchdog = threading.Timer(args.time_limit + 60, stop_servers)
    watchdog.daemon = True
    watchdog.start()
    customers = query(
        args.db,
        "SELECT count(*) FROM res_partner WHERE is_company OR parent_id IS NULL",
    )[0][0]
    print(
        f"stress on {args.db}: {customers:,} customers; server on 127.0.0.1:"
        f"{args.port} with {args.workers} workers; logs in {stress.log_dir}"
    )
    try:
        stress.start_server()
        stress.ensure_users()
        for key in args.scenarios:
            if stress.out_of_time():
                print(f"\n({key}) skipped: --time-limit reached")
                stress.verdicts[key] = False
                continue
            getattr(stress, f"scenario_{key}")()
    finally:
        watchdog.cancel()
        stop_servers()
    print(
        "\nsummary: "
        + ", ".join(
            f"({key}) {'HELD' if held else 'FAILED'}"
            for key, held in stress.verdicts.items()
        )
    )
    sys.exit(0 if all(stress.verdicts.values()) else 1)


if __name__ == "__main__":
    main()
