import logging
from functools import partial

from odoo import api, fields, models
from odoo.tools import SQL

from .segmentation_batch import run_batch

_logger = logging.getLogger(__name__)

QUEUE_CRON = "customer_segmentation.ir_cron_process_queue"
# Customers classified per transaction by the queue's scheduled action.
QUEUE_BATCH = 2000


class CustomerSegmentationQueue(models.Model):
    """Customers whose purchases changed (an order confirmed, an invoice
    posted, a contact moved), waiting to be classified again.

    Sales only add a row and wake the queue's scheduled action, which
    classifies them within seconds, in batches: a confirmation never waits
    for the classification, and never fails because of it.
    """

    _name = "customer.segmentation.queue"
    _description = "Customers to Classify Again"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", required=True, readonly=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, ondelete="cascade"
    )

    _sql_constraints = [
        (
            "partner_company_uniq",
            "UNIQUE(partner_id, company_id)",
            "A customer waits once per company.",
        ),
    ]

    @api.model
    def _enqueue(self, pairs):
        """Queue ``(commercial partner id, company id)`` pairs and wake the
        queue's scheduled action."""
        pairs = {(p, c) for p, c in pairs if p and c}
        if not pairs or self.env.context.get("segmentation_skip_refresh"):
            return
        partner_ids, company_ids = zip(*sorted(pairs), strict=True)
        cron = self.env.ref(QUEUE_CRON, raise_if_not_found=False)
        [(awake,)] = self.env.execute_query(
            SQL(
                """WITH queued AS (
                       INSERT INTO customer_segmentation_queue (partner_id, company_id)
                       SELECT * FROM unnest(%(partners)s::int[], %(companies)s::int[])
                       ON CONFLICT DO NOTHING
                   )
                   SELECT EXISTS (SELECT 1 FROM customer_segmentation_queue)
                      AND EXISTS (SELECT 1 FROM ir_cron_trigger
                                   WHERE cron_id = %(cron)s)""",
                partners=list(partner_ids),
                companies=list(company_ids),
                cron=cron.id if cron else None,
            )
        )
        # Customers already waiting and a wake-up pending: the job, which
        # takes batches until the queue is empty, gets these ones too; waking
        # it again would cost each sale a trigger and a notification of the
        # cron workers. (A job ending right between this check and the
        # commit leaves them to its next scheduled call, minutes later.)
        if cron and not awake:
            cron.sudo()._trigger()

    @api.model
    def _enqueue_all_companies(self, partner_ids):
        """Queue these commercial partners in every company."""
        companies = self.env["res.company"].sudo().search([]).ids
        self._enqueue((p, c) for p in partner_ids for c in companies)

    @api.model
    def _process(self, limit=None, company=None):
        """Classify the queued customers, company by company (or those of
        ``company``), in batches of ``QUEUE_BATCH``, each one transaction
        (see ``segmentation_batch``).

        :return: customers classified
        """
        done = 0
        while limit is None or done < limit:
            count = run_batch(
                self.env, partial(self._process_batch, company), self._job_name()
            )
            if not count:
                break
            done += count
        return done

    @api.model
    def _process_batch(self, company):
        """Take a batch of queued customers off the queue and classify them.

        :return: how many were taken
        """
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """DELETE FROM customer_segmentation_queue
                    WHERE id IN (SELECT id FROM customer_segmentation_queue
                                  WHERE %s
                               ORDER BY company_id, partner_id LIMIT %s
                                 FOR UPDATE SKIP LOCKED)
                RETURNING company_id, partner_id""",
                SQL("company_id = %s", company.id) if company else SQL("true"),
                QUEUE_BATCH,
            )
        )
        by_company = {}
        for company_id, partner_id in rows:
            by_company.setdefault(company_id, []).append(partner_id)
        Run = self.env["customer.segmentation.run"].sudo()
        for company_id, partner_ids in by_company.items():
            customers = self.env["res.partner"].sudo().browse(partner_ids).exists()
            Run._recompute_customers(
                self.env["res.company"].sudo().browse(company_id), customers.ids
            )
        return len(rows)

    @api.model
    def _job_name(self):
        return self.env._("The classification of changed customers")

    @api.model
    def _cron_process(self):
        """Scheduled action, woken by ``_enqueue``."""
        done = self._process()
        _logger.debug("customer segmentation queue: %s customers classified", done)
