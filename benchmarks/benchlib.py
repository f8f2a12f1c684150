"""Shared helpers of the benchmark scripts: Odoo as a library, timing, memory.

The scripts run from a source checkout: ``python3 benchmarks/<script>.py``, so
this file is imported as a top-level module next to them.
"""

import argparse
import contextlib
import os
import resource
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB_PREFIX = "cs_bench_"
# Orders written by generate.py are named SBENCH0000001, SBENCH0000002, ...
ORDER_PREFIX = "SBENCH"

# Odoo expects its server clock in UTC (odoo-bin and scripts/odoo.sh set it).
os.environ["TZ"] = "UTC"
time.tzset()


def default_addons_path():
    """Odoo's own addons folders followed by this repository, as scripts/odoo.sh
    computes them."""
    import odoo

    import odoo.addons

    def is_addons_dir(path):
        return os.path.isdir(path) and any(
            os.path.isfile(os.path.join(path, name, "__manifest__.py"))
            for name in os.listdir(path)
        )

    root = os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))
    candidates = [*odoo.addons.__path__, os.path.join(root, "addons"), REPO]
    paths = dict.fromkeys(os.path.abspath(p) for p in candidates if is_addons_dir(p))
    return ",".join(paths)


def add_common_arguments(parser):
    parser.add_argument(
        "-d", "--db", required=True, help=f"database, named {DB_PREFIX}*"
    )
    parser.add_argument(
        "--addons-path", help="Odoo addons path (default: as scripts/odoo.sh)"
    )
    parser.add_argument(
        "--pg-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="PostgreSQL setting for every connection of this process, e.g. "
        "work_mem=64MB (sent as PGOPTIONS; repeatable). Default: server settings.",
    )
    parser.add_argument(
        "--log-level", default="warn", help="Odoo log level (default: warn)"
    )
    parser.add_argument(
        "--any-db",
        action="store_true",
        help=f"allow a database not named {DB_PREFIX}* (the scripts write to it)",
    )


def open_registry(args):
    """Configure Odoo for ``args.db`` and return its registry."""
    if not args.db.startswith(DB_PREFIX) and not args.any_db:
        sys.exit(
            f"refusing database {args.db!r}: benchmark databases are named "
            f"{DB_PREFIX}* (or pass --any-db)"
        )
    if args.pg_option:
        # libpq reads PGOPTIONS when it connects: the settings hold for every
        # session of this process, and the server configuration is untouched.
        options = [os.environ.get("PGOPTIONS", "")]
        options += [f"-c {option}" for option in args.pg_option]
        os.environ["PGOPTIONS"] = " ".join(filter(None, options))
    import odoo

    odoo.tools.config.parse_config(
        [
            "-d",
            args.db,
            "--addons-path",
            args.addons_path or default_addons_path(),
            "--log-level",
            args.log_level,
            "--no-http",
        ]
    )
    return odoo.modules.registry.Registry(args.db)


@contextlib.contextmanager
def environment(registry, context=None):
    """A superuser environment on a new cursor; commits on success."""
    import odoo

    with registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, context or {})


@contextlib.contextmanager
def autocommit_cursor(registry):
    """A cursor outside any transaction, for VACUUM."""
    import odoo

    cr = odoo.sql_db.db_connect(registry.db_name).cursor()
    try:
        cr._cnx.autocommit = True
        yield cr
    finally:
        cr._cnx.autocommit = False
        cr.close()


def pg_settings(cr):
    names = (
        "server_version",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers_per_gather",
        "jit",
        "random_page_cost",
    )
    settings = {}
    for name in names:
        cr.execute(f"SHOW {name}")
        settings[name] = cr.fetchone()[0]
    return settings


class Memory:
    """Resident memory of this process, from /proc/self/status (Linux).

    ``reset_peak`` restarts the high-water mark (VmHWM), so ``peak_mib`` after a
    step is the peak of that step alone; ``ru_maxrss`` stays the peak of the
    whole process.
    """

    @staticmethod
    def _status(key):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        return None

    def rss_mib(self):
        return self._status("VmRSS")

    def peak_mib(self):
        return self._status("VmHWM")

    @staticmethod
    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def process_peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        self.seconds = None
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def parser(description):
    return argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
