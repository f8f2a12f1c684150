#!/usr/bin/env python3
"""What editing a company with many contacts costs.

    python3 benchmarks/contacts.py -d cs_bench_d_contacts --contacts 10000

Makes (once, then reuses) a company with ``--contacts`` contacts, each with a
job title, committed and classified (after a first full recompute when the
database has none, so that segment changes are logged as on a live
database). Then, ``--rounds`` times, a user of the Customer Segmentation /
Manager group writes the company's number of employees in the company form's
way (``write`` with tracking on), alternating between a medium and a large
company, so that every contact changes business scale; each write is its own
transaction, committed: its time and queries include the flush and the
commit's tracking. Prints, per round, the seconds, the queries and the
chatter messages and history rows written, then a ``BENCH_JSON`` line.
``--cleanup`` deletes the company and its contacts at the end. Runs on any
database holding the module (no generated orders needed).
"""

import json
import statistics
import time

from benchlib import add_common_arguments, environment, open_registry, parser

COMPANY_NAME = "Benchmark Company With {contacts} Contacts"
# Employee counts of a medium and of a large company with the default
# thresholds (50 and 250): every round moves every contact.
EMPLOYEES = (60, 300)


def parse_args():
    arguments = parser(__doc__)
    add_common_arguments(arguments)
    arguments.add_argument("--contacts", type=int, default=10000)
    arguments.add_argument("--rounds", type=int, default=3)
    arguments.add_argument(
        "--cleanup",
        action="store_true",
        help="delete the company and its contacts afterwards",
    )
    return arguments.parse_args()


def company_with_contacts(registry, contacts):
    """The benchmark company's id, made with its contacts if missing."""
    name = COMPANY_NAME.format(contacts=contacts)
    with environment(registry) as env:
        Partner = env["res.partner"].with_context(tracking_disable=True)
        company = Partner.search([("name", "=", name), ("is_company", "=", True)])
        if company:
            return company.id
        start = time.perf_counter()
        company = Partner.create({"name": name, "is_company": True})
        titles = ("Engineer", "Buyer", "CEO", "Designer")
        Partner.create(
            [
                {
                    "name": f"Contact {index}",
                    "parent_id": company.id,
                    "function": titles[index % len(titles)],
                }
                for index in range(contacts)
            ]
        )
        if not env["customer.segmentation.run"].search_count([("state", "=", "done")]):
            # a live database has had its first full run: changes are logged
            env["res.partner"].recompute_all_segments()
        print(
            f"made the company and {contacts} contacts in "
            f"{time.perf_counter() - start:.1f} s"
        )
        return company.id


def editor(env):
    """A segmentation manager who is not the superuser."""
    user = env.ref("base.user_admin")
    return env(user=user.id, su=False, context={})


def write_employees(registry, company_id, employees):
    with environment(registry) as env:
        env.cr.execute("SELECT max(id) FROM mail_message")
        message_max = env.cr.fetchone()[0] or 0
        env.cr.execute("SELECT COALESCE(max(id), 0) FROM customer_segment_history")
        history_max = env.cr.fetchone()[0]
        company = editor(env)["res.partner"].browse(company_id)
        queries = env.cr.sql_log_count
        start = time.perf_counter()
        company.write({"segmentation_employee_count": employees})
        env.cr.commit()
        seconds = time.perf_counter() - start
        queries = env.cr.sql_log_count - queries
        env.cr.execute("SELECT count(*) FROM mail_message WHERE id > %s", [message_max])
        messages = env.cr.fetchone()[0]
        env.cr.execute(
            "SELECT count(*) FROM customer_segment_history WHERE id > %s",
            [history_max],
        )
        history = env.cr.fetchone()[0]
        env.cr.execute(
            """SELECT count(*) FROM res_partner
                WHERE parent_id = %s AND segment_scale_id IS NOT NULL""",
            [company_id],
        )
        classified = env.cr.fetchone()[0]
    return {
        "employees": employees,
        "seconds": seconds,
        "queries": queries,
        "messages": messages,
        "history_rows": history,
        "contacts_with_scale": classified,
    }


def cleanup(registry, company_id):
    with environment(registry) as env:
        company = env["res.partner"].browse(company_id)
        env["res.partner"].search([("parent_id", "=", company_id)]).unlink()
        company.unlink()


def main():
    args = parse_args()
    registry = open_registry(args)
    company_id = company_with_contacts(registry, args.contacts)
    # the company's size before the first round, not timed
    write_employees(registry, company_id, EMPLOYEES[-1])
    rounds = []
    for index in range(args.rounds):
        result = write_employees(registry, company_id, EMPLOYEES[index % 2])
        rounds.append(result)
        print(
            f"round {index + 1}: {result['employees']} employees: "
            f"{result['seconds']:.2f} s, {result['queries']} queries, "
            f"{result['messages']} messages, {result['history_rows']} history rows, "
            f"{result['contacts_with_scale']} contacts with a scale",
            flush=True,
        )
    summary = {
        "db": args.db,
        "contacts": args.contacts,
        "median_seconds": statistics.median(r["seconds"] for r in rounds),
        "median_queries": statistics.median(r["queries"] for r in rounds),
        "rounds": rounds,
    }
    print(
        f"{args.contacts} contacts: median {summary['median_seconds']:.2f} s, "
        f"{summary['median_queries']:.0f} queries per write of the company"
    )
    print("BENCH_JSON " + json.dumps(summary))
    if args.cleanup:
        cleanup(registry, company_id)


if __name__ == "__main__":
    main()
