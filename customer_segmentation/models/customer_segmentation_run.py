import json
import time
from functools import partial

from odoo import api, fields, models
from odoo.tools import SQL

from .res_partner import _segmentation_today
from .segmentation_batch import lock_customers, next_batch, run_batch


class CustomerSegmentationRun(models.Model):
    """One full recompute of every customer's segments.

    Thresholds are computed once when the run starts and kept on the run, so a
    run processed in committed batches classifies every customer against the
    same population, and an interrupted run resumes where it stopped.
    """

    _name = "customer.segmentation.run"
    _description = "Customer Segmentation Run"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    trigger = fields.Selection(
        [("cron", "Scheduled"), ("manual", "Manual")], required=True, readonly=True
    )
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("abandoned", "Abandoned")],
        default="running",
        required=True,
        readonly=True,
    )
    user_id = fields.Many2one(
        "res.users", default=lambda self: self.env.user, readonly=True
    )
    date = fields.Date(
        string="Classification Date",
        required=True,
        readonly=True,
        help="The day the customers were classified as of.",
    )
    started_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    finished_at = fields.Datetime(readonly=True)
    params = fields.Json(readonly=True)
    stats = fields.Json(readonly=True)
    last_customer_id = fields.Integer(
        readonly=True, help="Customers up to this id are done (resume point)."
    )
    customers_total = fields.Integer(string="Customers", readonly=True)
    customers_done = fields.Integer(string="Processed", readonly=True)
    customers_written = fields.Integer(string="Written", readonly=True)
    changes_value = fields.Integer(string="Value Changes", readonly=True)
    changes_lifecycle = fields.Integer(string="Lifecycle Changes", readonly=True)
    changes_rfm = fields.Integer(string="RFM Changes", readonly=True)
    changes_other = fields.Integer(
        string="Other Changes",
        readonly=True,
        help="Segment changes of contacts on geography, business scale, job "
        "level, needs set by rule and custom dimensions.",
    )
    details = fields.Text(string="Settings and Thresholds", compute="_compute_details")
    log = fields.Text(
        readonly=True,
        help="What the run left out: confirmed orders skipped for want of an "
        "exchange rate to the company currency on their day.",
    )

    @api.depends("trigger")
    @api.depends_context("lang")
    def _compute_name(self):
        triggers = dict(self._fields["trigger"]._description_selection(self.env))
        for run in self:
            run.name = self.env._(
                "Run %(id)s (%(trigger)s)",
                id=run.id or "",
                trigger=triggers.get(run.trigger, ""),
            )

    @api.depends("params", "stats")
    def _compute_details(self):
        for run in self:
            run.details = json.dumps(
                {"settings": run.params, "thresholds": run.stats}, indent=2
            )

    @api.model
    def _start(self, trigger):
        Partner = self.env["res.partner"].sudo()
        params = Partner._segmentation_params()
        today = _segmentation_today()
        stats = Partner._segmentation_population_stats(params, today)
        total = self.env.execute_query(
            SQL(
                "SELECT count(*) FROM res_partner WHERE %s",
                Partner._segmentation_customer_sql(),
            )
        )[0][0]
        return self.create(
            {
                "trigger": trigger,
                "date": today,
                "params": params,
                "stats": stats,
                "customers_total": total,
                "log": self.env["customer.segmentation.purchase"]._skipped_log(today),
            }
        )

    @api.model
    def _resume_or_start(self, trigger):
        """The unfinished run of today, or a new one.

        A run left unfinished on an earlier day is abandoned: its thresholds
        are stale, so its customers are classified again by the new run.
        """
        today = _segmentation_today()
        unfinished = self.search([("state", "=", "running"), ("trigger", "=", trigger)])
        stale = unfinished.filtered(lambda run: run.date != today)
        stale.write({"state": "abandoned", "finished_at": fields.Datetime.now()})
        current = unfinished - stale
        return current[:1] or self._start(trigger)

    @api.model
    def _start_committed(self, trigger):
        """End the expired pins and start a run (a scheduled one resumes the
        unfinished run of today), in a transaction of its own: the batches
        that follow may roll theirs back."""

        def start():
            self.env["customer.segment.override"]._expire(_segmentation_today())
            if trigger == "cron":
                return self._resume_or_start(trigger)
            return self._start(trigger)

        return run_batch(self.env, start, self._job_name())

    def _abandon(self):
        """Mark the run abandoned, in a transaction of its own: the caller's
        is about to be rolled back. Its committed batches stay."""
        run_batch(
            self.env,
            partial(
                self.write, {"state": "abandoned", "finished_at": fields.Datetime.now()}
            ),
            self._job_name(),
        )

    @api.model
    def _job_name(self):
        return self.env._("The recompute of customer segments")

    def _process(self, batch_size=None, time_budget=None):
        """Classify the customers after ``last_customer_id``.

        ``batch_size`` None does everything in one statement and one
        transaction; otherwise each batch of customers is one transaction
        (see ``segmentation_batch``), committed with the run's resume point,
        so a crash never leaves a customer half-written and the next call
        continues after the last committed batch. Stops early once
        ``time_budget`` seconds are spent, to stay within cron time limits.
        """
        self.ensure_one()
        started = time.monotonic()
        while self.state == "running":
            run_batch(
                self.env, partial(self._process_batch, batch_size), self._job_name()
            )
            if time_budget and time.monotonic() - started > time_budget:
                break

    def _process_batch(self, batch_size):
        """Classify the next batch of customers and move the resume point past
        it, or mark the run done when none is left."""
        Partner = self.env["res.partner"].sudo()
        upper, count = next_batch(self.env, self.last_customer_id, batch_size)
        if upper is None:
            self.write({"state": "done", "finished_at": fields.Datetime.now()})
        else:
            # one statement for everyone needs no id filter
            id_range = (self.last_customer_id, upper) if batch_size else None
            if id_range:
                lock_customers(self.env, *id_range)
            # settings added after the run started take their current value
            params = {**Partner._segmentation_params(), **self.params}
            # each partner written once, with every dimension
            result = Partner._segmentation_apply_all(
                params, self.stats, self.date, id_range=id_range, run=self
            )
            profile = {
                k: v
                for k, v in result.items()
                if k not in ("customers", "value", "lifecycle", "rfm")
            }
            self.write(
                {
                    "last_customer_id": upper,
                    "customers_done": self.customers_done + count,
                    "customers_written": self.customers_written + result["customers"],
                    "changes_value": self.changes_value + result["value"],
                    "changes_lifecycle": self.changes_lifecycle + result["lifecycle"],
                    "changes_rfm": self.changes_rfm + result["rfm"],
                    "changes_other": self.changes_other
                    + sum(v for k, v in profile.items() if k != "partners"),
                }
            )
        self.env["ir.cron"]._notify_progress(
            done=self.customers_done,
            remaining=max(self.customers_total - self.customers_done, 0)
            if self.state == "running"
            else 0,
        )

    @api.model
    def _latest_stats(self):
        """Thresholds of the latest run, or None before the first run."""
        run = self.search([], limit=1)
        return run.stats or None

    def _summary(self):
        self.ensure_one()
        return {
            "run_id": self.id,
            "customers": self.customers_done,
            "written": self.customers_written,
            "changes": {
                "value": self.changes_value,
                "lifecycle": self.changes_lifecycle,
                "rfm": self.changes_rfm,
                "other": self.changes_other,
            },
        }
