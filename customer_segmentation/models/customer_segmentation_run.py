import array
import bisect
import json
import logging
import time
from contextlib import contextmanager
from functools import partial

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, str2bool

from .res_partner import _segmentation_today
from .segmentation_batch import (
    SecondConnection,
    committing,
    lock_customer_ids,
    lock_customers,
    run_batch,
)

_logger = logging.getLogger(__name__)

# A run refreshes every customer's figures when the company's last such run
# is this many days old (else those of the changed customers only).
FULL_FIGURES_DAYS = 7
# Settings that change what the figures are: a run after a change of one of
# them refreshes every customer's figures.
FIGURE_PARAMS = ("lookback_days", "model_holdout_days", "purchase_source")
# Settings the purchase model's scores and value cut-offs depend on besides
# the figures and the parameters.
SCORING_PARAMS = (
    *FIGURE_PARAMS,
    "value_method",
    "value_high_share",
    "value_medium_share",
)
# The most customers a run classifies from one search of those that may
# change (``_planned_moving``: 3 MiB of ids and positions); with more, it classifies
# every customer.
MOVING_LIMIT = 200_000
# System parameter: whether runs in batches work on two batches at once, on
# two connections (see ``segmentation_batch.SecondConnection``); default on.
PARALLEL_PARAM = "customer_segmentation.parallel_batches"


class CustomerSegmentationRun(models.Model):
    """One full recompute of a company's customers.

    It goes through the pipeline in two passes over the customers, in batches
    of ids: their figures first (purchases to figures), then, once the
    company's population thresholds are known from all the figures, their
    scores and segments. The thresholds are kept on the run, so a run
    processed in committed batches classifies every customer against the same
    population, and an interrupted run resumes where it stopped.
    """

    _name = "customer.segmentation.run"
    _description = "Customer Segmentation Run"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
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
    phase = fields.Selection(
        [("figures", "Figures"), ("classify", "Segments")],
        default="figures",
        required=True,
        readonly=True,
        help="Figures: the customers' purchases are summed up. Segments: they "
        "are scored and classified against the company's thresholds.",
    )
    figures_scope = fields.Selection(
        [("all", "All Customers"), ("changed", "Changed Customers")],
        string="Figures Refreshed",
        default="all",
        readonly=True,
        help="All Customers: every customer's purchases are summed up again "
        "(the company's first run, after a change of the look-back window, "
        "holdout period or purchase source, and once a week). Changed "
        "Customers: only those whose documents changed (queued by the "
        "documents' events) or whose figures the passing days make stale "
        "(a purchase leaving the look-back window or entering the holdout "
        "period, a later-dated order coming due); the others' figures are "
        "those a full refresh would give.",
    )
    last_customer_id = fields.Integer(
        readonly=True,
        help="Customers up to this id are done in the current phase (resume point).",
    )
    classify_started_at = fields.Datetime(
        string="Segments Started",
        readonly=True,
        help="When the run started scoring and classifying the customers.",
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
    # The purchase model fitted after the figures (time in days)
    model_state = fields.Selection(
        [("fitted", "Fitted"), ("none", "Not fitted")],
        string="Purchase Model",
        readonly=True,
    )
    model_message = fields.Text(string="Why No Model", readonly=True)
    model_customers = fields.Integer(
        string="Customers Fitted",
        readonly=True,
        help="Customers who bought that the models were fitted on: all of "
        "them, or a random sample of 100,000 of a larger company's.",
    )
    model_repeat_buyers = fields.Integer(string="Repeat Buyers", readonly=True)
    model_r = fields.Float(string="r", readonly=True)
    model_alpha = fields.Float(string="alpha (days)", readonly=True)
    model_a = fields.Float(string="a", readonly=True)
    model_b = fields.Float(string="b", readonly=True)
    model_log_likelihood = fields.Float(string="Log-likelihood", readonly=True)
    model_p = fields.Float(string="p", readonly=True)
    model_q = fields.Float(string="q", readonly=True)
    model_gamma = fields.Float(string="gamma", readonly=True)
    holdout_days = fields.Integer(string="Holdout (days)", readonly=True)
    holdout_customers = fields.Integer(readonly=True)
    holdout_predicted = fields.Float(string="Predicted Repeat Purchases", readonly=True)
    holdout_actual = fields.Float(string="Actual Repeat Purchases", readonly=True)
    holdout_error = fields.Float(
        string="Mean Absolute Error per Customer", readonly=True
    )
    holdout_message = fields.Text(string="Holdout Check", readonly=True)
    reports_done = fields.Boolean(
        string="Reports Updated",
        readonly=True,
        help="The overview's figures of the day and Staff Performance were "
        "updated from this run's segments, by a scheduled action woken when "
        "the run ended.",
    )
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

    # ------------------------------------------------------------------
    # Full runs
    # ------------------------------------------------------------------

    @api.model
    def _start(self, trigger, company):
        """A new run of ``company``'s customers, as of today."""
        params = company._segmentation_params()
        pipeline = self.env["customer.segmentation.pipeline"]
        total = self.env.execute_query(
            SQL(
                "SELECT count(*) FROM (%s) c",
                pipeline._scope(company).customers_sql(),
            )
        )[0][0]
        day = _segmentation_today()
        return self.create(
            {
                "trigger": trigger,
                "company_id": company.id,
                "date": day,
                "params": params,
                "customers_total": total,
                "figures_scope": self._figures_scope(company, params, day),
            }
        )

    @api.model
    def _figures_scope(self, company, params, day):
        """``'changed'`` when the figures the company's runs left are those
        of ``params`` and a run refreshed them all less than
        ``FULL_FIGURES_DAYS`` ago, else ``'all'``."""
        done = [("company_id", "=", company.id), ("state", "=", "done")]
        last_full = self.search([*done, ("figures_scope", "=", "all")], limit=1)
        if not last_full or not 0 <= (day - last_full.date).days < FULL_FIGURES_DAYS:
            return "all"
        if self.search(done, limit=1)._settings_differ(params, FIGURE_PARAMS):
            return "all"
        return "changed"

    def _settings_differ(self, params, keys):
        """Whether the settings ``params`` differ from those this run
        started with on one of ``keys``."""
        started = self.params or {}
        return any(started.get(key) != params[key] for key in keys)

    @api.model
    def _cron_runs(self):
        """The nightly job's runs: today's unfinished ones (the job goes on
        with them), else a new one per company.

        A run left unfinished on an earlier day is abandoned: its thresholds
        are stale, so its customers are classified again by the new run.
        """
        today = _segmentation_today()
        unfinished = self.search([("state", "=", "running"), ("trigger", "=", "cron")])
        stale = unfinished.filtered(lambda run: run.date != today)
        stale.write({"state": "abandoned", "finished_at": fields.Datetime.now()})
        current = (unfinished - stale).sorted("id")
        if current:
            return current
        runs = self.browse()
        for company in self.env["res.company"].sudo().search([]):
            if company._segmentation_param_errors():
                _logger.warning(
                    "Customer segments of %s not recomputed: invalid settings",
                    company.name,
                )
                continue
            runs |= self._start("cron", company)
        return runs

    @api.model
    def _cron_runs_committed(self):
        """End the expired pins, then ``_cron_runs``, in a transaction of its
        own: the batches that follow may roll theirs back."""

        def start():
            self.env["customer.segment.override"]._expire(_segmentation_today())
            return self._cron_runs()

        return run_batch(self.env, start, self._job_name())

    @api.model
    def _start_committed(self, trigger, company):
        """End the expired pins and start a run of ``company``, in a
        transaction of its own."""

        def start():
            self.env["customer.segment.override"]._expire(_segmentation_today())
            return self._start(trigger, company)

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
        """Go on with this run: batches of ``batch_size`` customers (None:
        all in one), until it is done or ``time_budget`` seconds are spent.

        Each batch is one transaction (see ``segmentation_batch``), committed
        with the run's resume point, so a crash never leaves a customer
        half-written and the next call continues after the last committed
        batch; a batch meeting users' edits is retried.
        """
        self.ensure_one()
        started = time.monotonic()
        plan = {}
        with self._second_connection(batch_size) as second:
            while self.state == "running":
                if not (second and self._process_pair(batch_size, plan, second)):
                    run_batch(
                        self.env,
                        partial(self._process_batch, batch_size, plan),
                        self._job_name(),
                    )
                if time_budget and time.monotonic() - started > time_budget:
                    break

    @contextmanager
    def _second_connection(self, batch_size):
        """A ``SecondConnection`` for the run's batches, or None: a run in
        one transaction, in a test or an installation (whose transaction
        must stay one), or with the system parameter PARALLEL_PARAM off."""
        value = self.env["ir.config_parameter"].sudo().get_param(PARALLEL_PARAM)
        try:
            parallel = str2bool(value or "true")
        except ValueError as error:
            raise UserError(
                self.env._(
                    "The system parameter %(name)s must be true or false, not "
                    "%(value)r.",
                    name=PARALLEL_PARAM,
                    value=value,
                )
            ) from error
        if not (batch_size and parallel and committing(self.env)):
            yield None
            return
        second = SecondConnection(self.env)
        try:
            yield second
        finally:
            second.close()

    def _process_pair(self, batch_size, plan, second):
        """The next two batches of the current phase at once, the second on
        the ``second`` connection, committed in their order; False when
        fewer than two are left before the end of the phase (the caller
        then takes one, and the step to the next phase, on its own)."""
        first = self._next_scope(batch_size, plan)
        if first[1] is None:
            return False
        then = self._next_scope(batch_size, plan, after=first[1])
        if then[1] is None:
            return False
        second.run_pair(
            partial(self._process_scope, *first),
            partial(self._process_later, *then),
            self._job_name(),
        )
        self.invalidate_recordset()
        return True

    def _process_later(self, scope, upper, count, env, wait_turn):
        """``_process_scope`` in ``env`` (another connection's), whose
        ``wait_turn()`` returns once the batch before it is committed."""
        scope = scope._replace(env=env, company=scope.company.with_env(env))
        self.with_env(env)._process_scope(scope, upper, count, wait_turn)

    def _process_batch(self, batch_size, plan=None):
        """One batch of the current phase, or the step to the next phase.

        :param plan: the batches ``_process`` planned (see ``_planned_upper``)
        """
        self._process_scope(*self._next_scope(batch_size, plan))

    def _process_scope(self, scope, upper, count, wait_turn=None):
        """The batch of ``count`` customers of ``scope`` up to the id
        ``upper`` (see ``_next_scope``), or, with ``upper`` None, the step to
        the next phase. ``wait_turn()``, when given, is called before the
        run's resume point is written (see ``SecondConnection.run_pair``)."""
        pipeline = self.env["customer.segmentation.pipeline"]
        params = self._run_params()
        if upper is None:
            self._end_phase(params)
            return
        if scope.customer_ids == ():
            # customers the search found nothing to do for
            self._resume_after(wait_turn)
            self._add_counts({}, upper, count)
            return
        if scope.customer_ids is not None:
            lock_customer_ids(self.env, scope.customer_ids)
        elif scope.id_range is not None:
            # the batch's customers and contacts, locked first in id order
            lock_customers(self.env, *scope.id_range)
        if self.phase == "figures":
            written = pipeline._refresh(scope, self.date, params)
            self._unqueue(scope)
            self._resume_after(wait_turn)
            self.write(
                {
                    "last_customer_id": upper,
                    "customers_written": self.customers_written + written,
                }
            )
        else:
            counts = pipeline._classify(scope, self.date, params, self.stats, run=self)
            self._resume_after(wait_turn)
            self._add_counts(counts, upper, count)

    def _resume_after(self, wait_turn):
        """Wait for the batch before this one to commit (``wait_turn``), then
        read the run again: that batch moved its resume point and counts."""
        if wait_turn is not None:
            wait_turn()
            self.invalidate_recordset()

    def _next_scope(self, batch_size, plan=None, after=None):
        """``(scope, highest id, customers)`` of the next batch of the
        company's customers after the resume point (or after the id
        ``after``), or ``(None, None, 0)`` when none is left. A whole run (no
        batch size) needs no id filter."""
        if after is None:
            after = self.last_customer_id
        if self.phase == "figures" and self.figures_scope == "changed":
            return self._next_changed(batch_size, after)
        if self.phase == "classify" and batch_size and plan is not None:
            moving = self._planned_moving(batch_size, plan, after)
            if moving is not None:
                return moving
        pipeline = self.env["customer.segmentation.pipeline"]
        company_scope = pipeline._scope(self.company_id)
        upper = self._planned_upper(batch_size, plan, after) if batch_size else None
        if upper is not None:
            count = batch_size
        else:
            limit = SQL("LIMIT %s", batch_size) if batch_size else SQL()
            self.env["res.partner"].flush_model(
                ["is_company", "parent_id", "company_id"]
            )
            [(upper, count)] = self.env.execute_query(
                SQL(
                    """SELECT max(id), count(*) FROM (
                           SELECT id FROM (%s) c WHERE id > %s ORDER BY id %s
                       ) batch""",
                    company_scope.customers_sql(),
                    after,
                    limit,
                )
            )
        if upper is None:
            return None, None, 0
        if not batch_size:
            return company_scope, upper, count
        scope = pipeline._scope(self.company_id, id_range=(after, upper))
        return scope, upper, count

    def _planned_moving(self, batch_size, plan, after):
        """``_next_scope`` of the classification from the customers that may
        change (``_customers_to_classify``), searched once in ``plan``: the
        next ``batch_size`` of them, then one step over the customers left
        up to the highest id of the search, which nothing changes for
        (``customer_ids`` empty). None when the company has no baseline yet
        (the first run writes every customer), when more than MOVING_LIMIT
        may change, or past the search: the caller then takes the customers
        in batches of ids (those created since the search)."""
        key = (self.id, self.phase, batch_size)
        if plan.get("moving_key") != key:
            plan.update(moving_key=key, moving=self._search_moving())
        moving = plan["moving"]
        if moving is None or after >= moving["until"]:
            return None
        # nothing is taken off the list: a batch retried after a conflict
        # finds its customers again, until its commit moves the resume point
        ids, positions = moving["ids"], moving["positions"]
        start = bisect.bisect_right(ids, after)
        batch = ids[start : start + batch_size].tolist()
        if batch:
            upper, reached = batch[-1], positions[start + len(batch) - 1]
        else:
            upper, reached = moving["until"], moving["total"]
        # the resume point is the search's start or the last batch's upper
        passed = positions[start - 1] if start else 0
        pipeline = self.env["customer.segmentation.pipeline"]
        scope = pipeline._scope(self.company_id, customer_ids=batch)
        return scope, upper, reached - passed

    def _search_moving(self):
        """``{'ids', 'positions', 'until', 'total'}``: the customers after
        the resume point that may change (``ids``, ascending) and their
        positions among the customers after the resume point (arrays of
        integers), up to ``until``, the company's highest customer id, the
        ``total``-th of them: a batch counts the customers it passes. None
        without a baseline or with more than MOVING_LIMIT of them."""
        if not self._has_baseline(self.company_id):
            return None
        pipeline = self.env["customer.segmentation.pipeline"]
        self.env["res.partner"].flush_model(["is_company", "parent_id", "company_id"])
        [(until,)] = self.env.execute_query(
            SQL(
                "SELECT max(id) FROM (%s) c",
                pipeline._scope(self.company_id).customers_sql(),
            )
        )
        if until is None or until <= self.last_customer_id:
            return None
        scope = pipeline._scope(
            self.company_id, id_range=(self.last_customer_id, until)
        )
        ids = pipeline._customers_to_classify(
            scope, self.date, self._run_params(), self.stats, MOVING_LIMIT
        )
        if len(ids) > MOVING_LIMIT:
            return None
        rows = self.env.execute_query(
            SQL(
                """SELECT id, position FROM (
                       SELECT id, row_number() OVER (ORDER BY id) AS position
                         FROM (%s) c
                   ) numbered
                    WHERE id = ANY(%s)
                 ORDER BY id""",
                scope.customers_sql(),
                [*ids, until],
            )
        )
        # one row per id, by ascending id: ``until``'s is the last
        return {
            "ids": array.array("q", ids),
            "positions": array.array("q", (row[1] for row in rows[: len(ids)])),
            "until": until,
            "total": rows[-1][1],
        }

    def _planned_upper(self, batch_size, plan, after):
        """The highest id of the next batch of ``batch_size`` customers after
        the resume point, from the phase's full batches, numbered once in
        ``plan`` (a dict ``_process`` keeps across its batches) instead of
        searched batch by batch (10 ms a batch at 1M customers); None past
        them (the last, short batch, with the customers created since, is
        searched) or without a plan.

        A customer archived or turned into a contact after the numbering
        still counts in its batch's count."""
        if plan is None:
            return None
        key = (self.id, self.phase, batch_size)
        if plan.get("key") != key:
            plan.update(key=key, uppers=self._full_batch_uppers(batch_size))
        uppers = plan["uppers"]
        while uppers and uppers[0] <= after:
            uppers.pop(0)
        return uppers[0] if uppers else None

    def _full_batch_uppers(self, batch_size):
        """Highest ids of the successive full batches of ``batch_size`` of the
        company's customers after the resume point, in ascending order."""
        company_scope = self.env["customer.segmentation.pipeline"]._scope(
            self.company_id
        )
        self.env["res.partner"].flush_model(["is_company", "parent_id", "company_id"])
        rows = self.env.execute_query(
            SQL(
                """SELECT id FROM (
                       SELECT id, row_number() OVER (ORDER BY id) AS position
                         FROM (%s) c WHERE id > %s
                   ) numbered
                    WHERE mod(position, %s) = 0
                 ORDER BY id""",
                company_scope.customers_sql(),
                self.last_customer_id,
                batch_size,
            )
        )
        return [row[0] for row in rows]

    def _next_changed(self, batch_size, after):
        """``_next_scope`` of a run refreshing the figures of the changed
        customers only: the next ``batch_size`` of those queued and those
        whose figures are stale on the run's day, by ascending id."""
        Figure = self.env["customer.segmentation.figure"]
        self.env["customer.segmentation.queue"].flush_model()
        Figure.flush_model()
        [(upper, ids)] = self.env.execute_query(
            SQL(
                """SELECT max(partner_id), array_agg(partner_id ORDER BY partner_id)
                     FROM (SELECT partner_id FROM (
                               (SELECT f.partner_id FROM customer_segmentation_figure f
                                 WHERE %(stale)s AND f.partner_id > %(last)s
                              ORDER BY f.partner_id LIMIT %(size)s)
                               UNION
                               (SELECT q.partner_id FROM customer_segmentation_queue q
                                 WHERE q.company_id = %(company)s
                                   AND q.partner_id > %(last)s
                              ORDER BY q.partner_id LIMIT %(size)s)
                           ) changed ORDER BY partner_id LIMIT %(size)s) batch""",
                stale=Figure._stale_sql(self.company_id, self.date, self._run_params()),
                last=after,
                size=batch_size,
                company=self.company_id.id,
            )
        )
        if upper is None:
            return None, None, 0
        scope = self.env["customer.segmentation.pipeline"]._scope(
            self.company_id, customer_ids=ids
        )
        return scope, upper, len(ids)

    def _unqueue(self, scope):
        """Take the customers of ``scope``, whose figures were just
        refreshed, off the queue of the run's company: this run classifies
        them."""
        self.env["customer.segmentation.queue"].flush_model()
        self.env.execute_query(
            SQL(
                """DELETE FROM customer_segmentation_queue q
                    WHERE q.company_id = %s AND %s""",
                self.company_id.id,
                scope.narrowing_sql(SQL("q.partner_id")),
            )
        )
        self.env["customer.segmentation.queue"].invalidate_model()

    def _end_phase(self, params):
        if self.phase == "figures":
            stats = self.env["customer.segmentation.figure"]._population_stats(
                self.company_id, params
            )
            previous = self._previous_scoring()
            fitted = self.env["customer.segmentation.purchase.model"]._fit(
                self.company_id, self.date, params, previous
            )
            stats["model"] = fitted["parameters"]
            if stats["model"]:
                # the fit scored every customer: the batches score those
                # whose figures are written since (_unscored_sql)
                stats["scored"] = {
                    "day": str(self.date),
                    "since": fitted["scored_since"],
                }
            self.write(
                {
                    "phase": "classify",
                    "stats": stats,
                    "last_customer_id": 0,
                    "classify_started_at": self.env.cr.now(),
                    **self._model_values(fitted),
                }
            )
            return
        Purchase = self.env["customer.segmentation.purchase"]
        self.write(
            {
                "state": "done",
                "finished_at": fields.Datetime.now(),
                "log": Purchase._skipped_log(self.company_id, self.date),
            }
        )
        # the overview's figures of the day and Staff Performance are
        # aggregated from every customer's segments: a job of their own,
        # woken as this transaction commits, so the run does not wait for them
        self.env.ref("customer_segmentation.ir_cron_refresh_reports").sudo()._trigger()

    def _previous_scoring(self):
        """``{'parameters', 'since'}``: the purchase model's parameters of the
        company's latest completed run when it ran on this run's day, and
        when its classification, which scored every customer with them,
        started; else None (see
        ``customer.segmentation.purchase.model._unscored_sql``)."""
        latest = self.search(
            [
                ("company_id", "=", self.company_id.id),
                ("state", "=", "done"),
                ("id", "!=", self.id),
            ],
            limit=1,
        )
        parameters = (latest.stats or {}).get("model")
        if latest.date != self.date or not latest.classify_started_at or not parameters:
            return None
        if latest._settings_differ(self._run_params(), SCORING_PARAMS):
            return None
        return {
            "parameters": parameters,
            "since": fields.Datetime.to_string(latest.classify_started_at),
        }

    @api.model
    def _cron_refresh_reports(self):
        """Scheduled action, woken by each run that ends: the overview's
        figures of the day (``customer.segmentation.snapshot``) and Staff
        Performance of the companies whose run is done and not reported yet,
        from their latest run, each company in a transaction of its own."""
        runs = self.search([("state", "=", "done"), ("reports_done", "=", False)])
        latest = {run.company_id: run for run in runs.sorted("id")}
        for run in latest.values():
            run_batch(self.env, run._refresh_reports, self._job_name())
        # earlier runs of these companies are covered by their latest one
        (runs - self.browse([run.id for run in latest.values()])).write(
            {"reports_done": True}
        )

    def _refresh_reports(self):
        self.ensure_one()
        self.env["customer.segmentation.performance.report"]._refresh(self.company_id)
        self.env["customer.segmentation.snapshot"]._store(
            self.company_id, self.date, self._run_params()
        )
        self.reports_done = True

    def _run_params(self):
        """The company's settings, with those the run started with."""
        return {**self.company_id._segmentation_params(), **(self.params or {})}

    @api.model
    def _model_values(self, fitted):
        """The run's fields of the purchase model ``fitted`` (see
        ``customer.segmentation.purchase.model._fit``)."""
        parameters = fitted["parameters"] or {}
        holdout = fitted["holdout"] or {}
        return {
            "model_state": "fitted" if parameters else "none",
            "model_message": fitted["message"],
            "model_customers": fitted["customers"],
            "model_repeat_buyers": fitted["repeat_buyers"],
            **{
                f"model_{name}": parameters.get(name, 0.0)
                for name in ("r", "alpha", "a", "b", "log_likelihood")
                + ("p", "q", "gamma")
            },
            "holdout_days": holdout.get("days", 0),
            "holdout_customers": holdout.get("customers", 0),
            "holdout_predicted": holdout.get("predicted", 0.0),
            "holdout_actual": holdout.get("actual", 0.0),
            "holdout_error": holdout.get("error", 0.0),
            "holdout_message": holdout.get("message", False),
        }

    def _add_counts(self, counts, upper, done):
        other = sum(
            count
            for code, count in counts.items()
            if code not in ("value", "lifecycle", "rfm")
        )
        self.write(
            {
                "last_customer_id": upper,
                "customers_done": self.customers_done + done,
                "changes_value": self.changes_value + counts.get("value", 0),
                "changes_lifecycle": self.changes_lifecycle
                + counts.get("lifecycle", 0),
                "changes_rfm": self.changes_rfm + counts.get("rfm", 0),
                "changes_other": self.changes_other + other,
            }
        )

    def _summary(self):
        self.ensure_one()
        fitted = self.model_state == "fitted"
        return {
            # the purchase model's parameters, time in days; False (XML-RPC
            # has no None) when the company has no fitted model
            **{
                name: self[f"model_{name}"] if fitted else False
                for name in ("r", "alpha", "a", "b")
            },
            "run_id": self.id,
            "company_id": self.company_id.id,
            "customers": self.customers_done,
            "written": self.customers_written,
            "changes": {
                "value": self.changes_value,
                "lifecycle": self.changes_lifecycle,
                "rfm": self.changes_rfm,
                "other": self.changes_other,
            },
        }

    # ------------------------------------------------------------------
    # Some customers: events, pins, profile changes
    # ------------------------------------------------------------------

    @api.model
    def _recompute_customers(self, company, customer_ids, cause="rule"):
        """Figures and segments of these customers of ``company`` now, ranked
        against the thresholds of the company's latest run (computed from
        everyone's figures when there is none yet).

        :return: ``{dimension code: customers changed}``
        """
        params = self._params_or_none(company)
        if params is None:
            return {}
        pipeline = self.env["customer.segmentation.pipeline"]
        scope = pipeline._scope(company, customer_ids=customer_ids)
        day = _segmentation_today()
        pipeline._refresh(scope, day, params)
        return pipeline._classify(
            scope, day, params, self._latest_stats(company, params), cause=cause
        )

    @api.model
    def _reclassify(self, company, customer_ids, cause="rule", ended=()):
        """Segments of these customers of ``company`` from their current
        figures (their profile, or a pin, changed)."""
        params = self._params_or_none(company)
        if params is None:
            return {}
        pipeline = self.env["customer.segmentation.pipeline"]
        scope = pipeline._scope(company, customer_ids=customer_ids)
        stats = self._latest_stats(company, params)
        return pipeline._classify(
            scope, _segmentation_today(), params, stats, cause=cause, ended=ended
        )

    @api.model
    def _params_or_none(self, company):
        """The company's settings, or None (logged) when they are invalid:
        sales and contact edits must not stop; the full recompute reports
        the settings to the people who can fix them."""
        try:
            return company._segmentation_params()
        except UserError:
            _logger.warning(
                "Customer segments of %s not refreshed: invalid settings",
                company.name,
                exc_info=True,
            )
            return None

    @api.model
    def _latest_stats(self, company, params=None):
        """Thresholds of the company's latest run, or, before its first run,
        from its customers' current figures."""
        run = self.search(
            [("company_id", "=", company.id), ("stats", "!=", False)], limit=1
        )
        if run.stats:
            return run.stats
        return self.env["customer.segmentation.figure"]._population_stats(
            company, params or company._segmentation_params()
        )

    @api.model
    def _has_baseline(self, company):
        """Whether a full run of ``company`` completed: until then, the
        rules' changes are its starting state, written without history nor
        chatter."""
        return bool(
            self.search_count(
                [("company_id", "=", company.id), ("state", "=", "done")], limit=1
            )
        )
