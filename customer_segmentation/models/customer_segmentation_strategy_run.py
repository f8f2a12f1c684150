import logging
import time
from functools import partial

from odoo import api, fields, models
from odoo.tools import SQL

from .res_partner import _segmentation_today
from .segmentation_batch import run_batch

_logger = logging.getLogger(__name__)


class CustomerSegmentationStrategyRun(models.Model):
    """A day's run of the strategy job in one company, and its resume point.

    The nightly job goes through the company's customers in ascending id
    order, in batches; each batch is one transaction that applies every
    strategy to its customers (activities included) and moves the resume
    point past them, so a call stopped by its time budget is continued by the
    next call after the last committed batch, and no customer is handled
    twice. The first run of a company goes through all its customers; the
    next ones only through those that changed since the last finished run or
    that the calendar makes due (see
    ``customer.segmentation.strategy._night_customers_sql``).
    """

    _name = "customer.segmentation.strategy.run"
    _description = "Customer Segmentation Strategy Run"
    _order = "id desc"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True, ondelete="cascade"
    )
    date = fields.Date(required=True, readonly=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("abandoned", "Abandoned")],
        default="running",
        required=True,
        readonly=True,
    )
    scope = fields.Selection(
        [("all", "All Customers"), ("changes", "Changed and Due Customers")],
        required=True,
        readonly=True,
    )
    started_at = fields.Datetime(
        readonly=True,
        help="When the run began, or, if earlier, when the oldest transaction "
        "then open began: the ORM dates a write when its transaction begins, "
        "so every write the run may not have seen is dated after it.",
    )
    finished_at = fields.Datetime(readonly=True)
    changes_since = fields.Datetime(readonly=True)
    messages_after_id = fields.Integer(readonly=True)
    last_message_id = fields.Integer(readonly=True)
    churn_risks_done = fields.Boolean(readonly=True)
    last_customer_id = fields.Integer(readonly=True)
    customers_done = fields.Integer(string="Customers Processed", readonly=True)
    followups = fields.Integer(string="Follow-ups", readonly=True)
    churn_warnings = fields.Integer(readonly=True)

    @api.model
    def _cron_runs_committed(self):
        """Today's run of each company with valid settings, started where
        missing, in a transaction of its own."""
        return run_batch(
            self.env,
            self._cron_runs,
            self.env["customer.segmentation.strategy"]._job_name(),
        )

    @api.model
    def _cron_runs(self):
        today = _segmentation_today()
        stale = self.search([("state", "=", "running"), ("date", "!=", today)])
        stale.write({"state": "abandoned", "finished_at": fields.Datetime.now()})
        runs = self.browse()
        for company in self.env["res.company"].sudo().search([]):
            if company._segmentation_param_errors():
                # one company's broken settings stop none of the others
                _logger.warning(
                    "Segment strategies of %s not applied: invalid settings",
                    company.name,
                )
                continue
            run = self.search(
                [("company_id", "=", company.id), ("date", "=", today)], limit=1
            )
            runs |= run or self._start(company, today)
        return runs

    @api.model
    def _start(self, company, today):
        """Today's run of ``company``: through the changes since the last
        finished run, or every customer when there is none or when the
        strategies or settings changed since."""
        last = self.search(
            [("company_id", "=", company.id), ("state", "=", "done")], limit=1
        )
        since = last.started_at
        if since and self._strategies_changed(company, since):
            since = False
        return self.create(
            {
                "company_id": company.id,
                "date": today,
                "scope": "changes" if since else "all",
                "started_at": self.env.execute_query(
                    SQL(
                        """SELECT LEAST(now(), min(xact_start)) AT TIME ZONE 'UTC'
                             FROM pg_stat_activity
                            WHERE datname = current_database()"""
                    )
                )[0][0],
                "changes_since": since,
                "messages_after_id": last.last_message_id if since else 0,
                "last_message_id": self.env.execute_query(
                    SQL("SELECT COALESCE(max(id), 0) FROM mail_message")
                )[0][0],
            }
        )

    @api.model
    def _strategies_changed(self, company, since):
        """Whether a segment (its strategy, tags, pricelist...) or the
        company's settings were written since ``since``."""
        Segment = self.env["customer.segment"].sudo().with_context(active_test=False)
        return bool(
            Segment.search_count([("write_date", ">=", since)], limit=1)
            or company.write_date >= since
        )

    def _process(self, batch_size, deadline=None):
        """Go on with this run, batch by batch, until it is done or
        ``deadline`` (a ``time.monotonic()`` value) is passed; at least one
        batch per call, so every call moves on.

        :return: customers left (at least 1 while the run is not done)
        """
        self.ensure_one()
        if self.state != "running":
            return 0
        job = self.env["customer.segmentation.strategy"]._job_name()
        # customers whose purchases changed since: their figures first
        self.env["customer.segmentation.queue"]._process(company=self.company_id)
        if self.scope == "changes" and not self.churn_risks_done:
            run_batch(self.env, self._update_churn_risks, job)
        pending = self._pending_ids() if self.scope == "changes" else None
        while self.state == "running":
            run_batch(self.env, partial(self._process_batch, batch_size, pending), job)
            if deadline is not None and time.monotonic() > deadline:
                break
        if self.state != "running":
            return 0
        if pending is not None:
            return len([i for i in pending if i > self.last_customer_id]) or 1
        return self._customers_left() or 1

    def _update_churn_risks(self):
        """Every churn risk of the company from the usual gaps stored: it
        grows with the days, with or without a change."""
        strategy = self.env["customer.segmentation.strategy"]
        company = self.company_id
        scope = self.env["customer.segmentation.pipeline"]._scope(company)
        strategy._update_churn_risk(
            company, company._segmentation_params(), self.date, scope.customers_sql()
        )
        self.churn_risks_done = True

    def _pending_ids(self):
        """Ids of the customers a run of changes goes through, after its
        resume point, in ascending order."""
        strategy = self.env["customer.segmentation.strategy"]
        self.env.flush_all()
        rows = self.env.execute_query(
            strategy._night_customers_sql(
                self.company_id,
                self.company_id._segmentation_params(),
                self.date,
                self.changes_since,
                self.messages_after_id,
                self.last_customer_id,
            )
        )
        return [row[0] for row in rows]

    def _process_batch(self, batch_size, pending):
        """One batch of customers after the resume point, with the end of the
        run when it is the last one; in the batch's transaction, so both are
        committed together."""
        pipeline = self.env["customer.segmentation.pipeline"]
        company = self.company_id
        if pending is not None:
            left = [i for i in pending if i > self.last_customer_id]
            ids = left[:batch_size]
            scope = pipeline._scope(company, customer_ids=ids)
            upper, last = (ids[-1] if ids else None), len(left) <= batch_size
        else:
            upper, count = self._next_batch(batch_size)
            scope = pipeline._scope(company, id_range=(self.last_customer_id, upper))
            last = count < batch_size
        values = {}
        if upper is not None:
            counts = self.env["customer.segmentation.strategy"]._apply_batch(
                company, company._segmentation_params(), self.date, scope, True
            )
            values = {
                "last_customer_id": upper,
                "customers_done": self.customers_done + counts["customers"],
                "followups": self.followups + counts["followups"],
                "churn_warnings": self.churn_warnings + counts["churn_warnings"],
            }
        if last:
            values.update(state="done", finished_at=fields.Datetime.now())
        self.write(values)

    def _next_batch(self, batch_size):
        """``(highest id, count)`` of the next ``batch_size`` customers after
        the resume point (``(None, 0)`` when none is left)."""
        self.env["res.partner"].flush_model(["is_company", "parent_id", "company_id"])
        return self.env.execute_query(
            SQL(
                """SELECT max(id), count(*) FROM (
                       SELECT id FROM (%s) c WHERE id > %s ORDER BY id LIMIT %s
                   ) batch""",
                self._company_customers_sql(),
                self.last_customer_id,
                batch_size,
            )
        )[0]

    def _customers_left(self):
        return self.env.execute_query(
            SQL(
                "SELECT count(*) FROM (%s) c WHERE id > %s",
                self._company_customers_sql(),
                self.last_customer_id,
            )
        )[0][0]

    def _company_customers_sql(self):
        pipeline = self.env["customer.segmentation.pipeline"]
        return pipeline._scope(self.company_id).customers_sql()
