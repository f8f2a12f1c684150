from odoo import api, fields, models
from odoo.tools import SQL

from .res_partner import _segmentation_today


class CustomerSegmentationClaimCounter(models.Model):
    """How many customers a salesperson claimed from the pool on a day (UTC).

    The daily claim limit is checked against this row, which every claim
    updates in the statement that reads it. Odoo runs transactions in
    REPEATABLE READ: counting the claims' pool moves would not see a claim
    committed after the transaction began, and two claims made at once would
    both pass. Updating one row instead makes the second claim wait for the
    first and then fail with a serialization error, which Odoo retries with
    the new count.
    """

    _name = "customer.segmentation.claim.counter"
    _description = "Daily Pool Claims"
    _order = "day desc, id desc"
    _rec_name = "user_id"

    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    day = fields.Date(required=True, readonly=True, help="UTC day of the claims.")
    claims = fields.Integer(readonly=True)

    _sql_constraints = [
        (
            "user_day_uniq",
            "UNIQUE(user_id, day)",
            "A salesperson has one claim counter per day.",
        ),
    ]

    @api.model
    def _add_claims(self, user, day, count):
        """Add ``count`` claims to ``user``'s counter of ``day`` and return
        its new total. The row stays locked until the transaction ends."""
        self.flush_model()
        total = self.env.execute_query(
            SQL(
                """
            INSERT INTO customer_segmentation_claim_counter AS counter
                   (user_id, day, claims, create_uid, create_date, write_uid,
                    write_date)
            VALUES (%(user)s, %(day)s, %(count)s, %(uid)s, %(now)s, %(uid)s,
                    %(now)s)
       ON CONFLICT (user_id, day) DO UPDATE
               SET claims = counter.claims + EXCLUDED.claims,
                   write_uid = EXCLUDED.write_uid,
                   write_date = EXCLUDED.write_date
         RETURNING claims
                """,
                user=user.id,
                day=day,
                count=count,
                uid=self.env.uid,
                now=fields.Datetime.now(),
            )
        )[0][0]
        self.invalidate_model(["claims"])
        return total

    @api.autovacuum
    def _gc_past_days(self):
        """Only today's counters limit claims; the pool moves keep the log."""
        self.sudo().search([("day", "<", _segmentation_today())]).unlink()
