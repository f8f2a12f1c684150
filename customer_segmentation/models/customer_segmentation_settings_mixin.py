from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .arguments import checked_records
from .segmentation_params import (
    FIELD_PREFIX,
    PARAMS,
    SELECTIONS,
    parse_params,
    setting_problem,
)

SETTING_FIELDS = {FIELD_PREFIX + key: key for key in PARAMS}
# Dimensions whose segments the settings decide, in the preview's order.
PREVIEW_DIMENSIONS = ("value", "lifecycle", "rfm", "scale")
# Settings that change the customers' figures, not only their segments: their
# effect shows after a recompute, not in the preview.
FIGURE_SETTINGS = ("purchase_source", "lookback_days")


class CustomerSegmentationSettingsMixin(models.AbstractModel):
    """The classification settings as form fields, shared by Odoo's settings
    page (administrators) and the segmentation settings form (segmentation
    managers), both stored on the current company (``res.company``): each
    company classifies its customers with its own settings."""

    _name = "customer.segmentation.settings.mixin"
    _description = "Customer Segmentation Settings Fields"

    segmentation_purchase_source = fields.Selection(
        SELECTIONS["purchase_source"],
        string="Purchases",
        default=PARAMS["purchase_source"].default,
        help="What counts as a purchase: confirmed sale orders (dated by their "
        "order date), or posted customer invoices net of credit notes (dated "
        "by their invoice date). With the Point of Sale, paid orders count too, "
        "net of refunds; an invoiced one counts once, through its invoice when "
        "invoices are the purchases.",
    )
    segmentation_lookback_days = fields.Integer(
        string="Look-back Window (days)",
        default=PARAMS["lookback_days"][1],
        help="Frequency and monetary value count the purchases of this many last days.",
    )
    segmentation_new_days = fields.Integer(
        string="New Customer Period (days)",
        default=PARAMS["new_days"][1],
        help="A customer whose first purchase is at most this many days old is new.",
    )
    segmentation_active_days = fields.Integer(
        string="Active Period (days)",
        default=PARAMS["active_days"][1],
        help="A customer whose last purchase is at most this many days old is active.",
    )
    segmentation_churn_days = fields.Integer(
        string="Churn Period (days)",
        default=PARAMS["churn_days"][1],
        help="Customers whose last purchase is older than the active period are "
        "at risk up to this many days, churned after.",
    )
    segmentation_value_method = fields.Selection(
        SELECTIONS["value_method"],
        string="Value Tier Method",
        default=PARAMS["value_method"][1],
    )
    segmentation_value_high_share = fields.Float(
        string="High-Value Share",
        default=PARAMS["value_high_share"][1],
        help="Share of the customers buying in the window that are high value, "
        "the best spenders first (0.2 = 20%).",
    )
    segmentation_value_medium_share = fields.Float(
        string="Medium-Value Share",
        default=PARAMS["value_medium_share"][1],
        help="Share of the customers, after the high-value ones, that are medium "
        "value.",
    )
    segmentation_value_high_amount = fields.Float(
        string="High-Value Amount",
        default=PARAMS["value_high_amount"][1],
        help="Fixed method: customers spending at least this much in the window, "
        "in the company currency, are high value.",
    )
    segmentation_value_medium_amount = fields.Float(
        string="Medium-Value Amount",
        default=PARAMS["value_medium_amount"][1],
        help="Fixed method: customers spending at least this much are medium value.",
    )

    segmentation_scale_large_employees = fields.Integer(
        string="Large Enterprise Employees",
        default=PARAMS["scale_large_employees"][1],
        help="Companies with at least this many employees are large.",
    )
    segmentation_scale_medium_employees = fields.Integer(
        string="Medium Enterprise Employees",
        default=PARAMS["scale_medium_employees"][1],
        help="Companies with at least this many employees are at least medium.",
    )
    segmentation_scale_large_revenue = fields.Float(
        string="Large Enterprise Revenue",
        default=PARAMS["scale_large_revenue"][1],
        help="Companies with at least this annual revenue, in the company "
        "currency, are large.",
    )
    segmentation_scale_medium_revenue = fields.Float(
        string="Medium Enterprise Revenue",
        default=PARAMS["scale_medium_revenue"][1],
        help="Companies with at least this annual revenue are at least medium.",
    )

    segmentation_churn_full_risk_ratio = fields.Float(
        string="Full Churn Risk at (x usual gap)",
        default=PARAMS["churn_full_risk_ratio"][1],
        help="A customer whose last purchase is as old as its usual gap between "
        "purchases has a churn risk of 0; as old as this many usual gaps, 100.",
    )
    segmentation_churn_risk_threshold = fields.Integer(
        string="Churn Warning Threshold",
        default=PARAMS["churn_risk_threshold"][1],
        help="Customers reaching this churn risk (1 to 100) get an early-warning "
        "activity for their account manager.",
    )
    segmentation_churn_alive_threshold = fields.Float(
        string="Churn Warning below P(alive)",
        default=PARAMS["churn_alive_threshold"].default,
        help="Where the company has a fitted purchase model, customers whose "
        "probability of being still active is below this (0.3 = 30%) get the "
        "churn warning; without a model, the churn risk threshold decides.",
    )
    segmentation_value_basis = fields.Selection(
        SELECTIONS["value_basis"],
        string="Value Tier Basis",
        default=PARAMS["value_basis"].default,
        help="Rank value tiers by the amount bought in the look-back window, or "
        "by the purchase model's expected value over the next 12 months (past "
        "spend where the company has no fitted model).",
    )
    segmentation_rfm_preset = fields.Selection(
        SELECTIONS["rfm_preset"],
        string="RFM Segments",
        default=PARAMS["rfm_preset"].default,
        help="The ten segments of the recency and frequency scores, or the "
        "eight classes (重要价值客户 ... 一般挽留客户) of recency, frequency and "
        "monetary value each above or below the average of the company's "
        "customers buying in the look-back window.",
    )
    segmentation_model_holdout_days = fields.Integer(
        string="Purchase Model Holdout (days)",
        default=PARAMS["model_holdout_days"].default,
        help="Each full recompute also fits the purchase model on the history "
        "up to this many days ago and compares its prediction with the "
        "purchases since, shown on the run.",
    )
    segmentation_pool_enabled = fields.Boolean(
        string="Shared Customer Pool",
        default=PARAMS["pool_enabled"][1],
        help="Customers without an account manager, or not followed up within "
        "their segment's cadence plus the grace period, return to a shared pool "
        "(公海) that salespeople claim customers from.",
    )
    segmentation_pool_grace_days = fields.Integer(
        string="Pool Grace Period (days)",
        default=PARAMS["pool_grace_days"][1],
        help="Days of grace after a segment's follow-up cadence before a "
        "customer its account manager has not interacted with returns to the "
        "pool.",
    )
    segmentation_pool_daily_claim_limit = fields.Integer(
        string="Daily Pool Claims per Salesperson",
        default=PARAMS["pool_daily_claim_limit"][1],
        help="How many customers each salesperson may claim from the pool per "
        "day (UTC).",
    )

    segmentation_moves_preview = fields.Text(
        string="Segment Moves",
        readonly=True,
        help="How many customers would change segment with the values on this "
        "form, before they are saved.",
    )

    @api.constrains(*SETTING_FIELDS)
    def _check_segmentation_settings(self):
        for settings in self:
            _values, errors = parse_params(
                {key: settings[name] for name, key in SETTING_FIELDS.items()},
                self.env,
                typed=True,
            )
            if errors:
                raise ValidationError("\n".join(errors))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._segmentation_check_raw_settings(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._segmentation_check_raw_settings(vals)
        return super().write(vals)

    def action_apply_segment_strategies(self):
        """Apply the segments' strategies now (managers), as the nightly job.

        XML-RPC: ``[[id]]``, one settings record the caller created.

        :return: a client notification of what was done
        """
        self.env["res.partner"]._segmentation_check_group(
            "customer_segmentation.group_segmentation_manager"
        )
        checked_records(self, "ids", self.env._("Settings"), single=True)
        result = self.env["res.partner"].apply_segment_strategies()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Segment strategies applied"),
                "message": self.env._(
                    "%(assigned)s customers given an account manager, %(pool)s "
                    "returned to the pool, %(followups)s follow-ups and "
                    "%(warnings)s churn warnings scheduled.",
                    assigned=result["assigned"],
                    pool=result["returned_to_pool"],
                    followups=result["followups"],
                    warnings=result["churn_warnings"],
                ),
            },
        }

    def action_preview_segment_moves(self):
        """Count the customers of the current company who would change
        segment with this record's (unsaved) settings, and show it in
        ``segmentation_moves_preview``; nothing else is written.

        XML-RPC: ``[[id]]``, one settings record the caller created.
        Requires the Customer Segmentation / Manager group.

        :return: True
        """
        self.env["res.partner"]._segmentation_check_group(
            "customer_segmentation.group_segmentation_manager"
        )
        settings = checked_records(self, "ids", self.env._("Settings"), single=True)
        new_params, errors = parse_params(
            {key: settings[name] for name, key in SETTING_FIELDS.items()},
            self.env,
            typed=True,
        )
        if errors:
            raise UserError("\n".join(errors))
        settings.segmentation_moves_preview = settings._segmentation_moves_text(
            self._segmentation_moves(new_params), new_params
        )
        return True

    @api.model
    def _segmentation_check_raw_settings(self, vals):
        """Refuse a value of the wrong type or out of its bounds before the
        ORM converts it: from XML-RPC, a string or NaN in an integer field
        would be a raw ``ValueError``, a huge integer a PostgreSQL overflow."""
        errors = [
            error
            for name, key in SETTING_FIELDS.items()
            if name in vals and (error := setting_problem(key, vals[name], self.env))
        ]
        if errors:
            raise ValidationError("\n".join(errors))

    @api.model
    def _segmentation_stored_values(self):
        """The current company's settings as ``{field name: value}``; an
        invalid value (written behind the ORM) shows as its default (the
        recompute reports it, and saving the form replaces it)."""
        company = self.env.company.sudo()
        values, _errors = parse_params(
            company._segmentation_raw_params(), self.env, typed=True
        )
        return {
            name: values.get(key, PARAMS[key].default)
            for name, key in SETTING_FIELDS.items()
        }

    def _segmentation_store_values(self):
        """Write the settings on the current company. The caller's group is
        checked by the actions: a segmentation manager need not be allowed to
        edit companies."""
        self.ensure_one()
        self.env.company.sudo().write({name: self[name] for name in SETTING_FIELDS})

    @api.model
    def _segmentation_moves(self, new_params):
        """``{dimension: (upgrades, downgrades, other moves)}`` of the current
        company's customers between the segments the rules give them with its
        saved settings and with ``new_params``, from their current figures;
        pinned customers do not move. Reads only.

        The thresholds that depend on the settings (the value tier shares)
        are taken from the current figures for both sides, so that only the
        settings make a difference.
        """
        company = self.env.company
        old_params = company._segmentation_params()
        Figure = self.env["customer.segmentation.figure"].sudo()
        stats = (
            self.env["customer.segmentation.run"]
            .sudo()
            ._latest_stats(company, old_params)
        )
        old_stats = new_stats = stats
        shares = ("value_high_share", "value_medium_share")
        if any(old_params[key] != new_params[key] for key in shares):
            old_stats = {**stats, **Figure._population_stats(company, old_params)}
            new_stats = {**stats, **Figure._population_stats(company, new_params)}
        Pipeline = self.env["customer.segmentation.pipeline"].sudo()
        scope = Pipeline._scope(company)
        self.env.flush_all()
        rows = self.env.execute_query(
            SQL(
                """
            WITH facts AS MATERIALIZED (%(facts)s),
            old AS (%(old)s),
            new AS (%(new)s),
            moved AS (
                SELECT d.code, d.old_id, d.new_id
                  FROM old o JOIN new n ON n.partner_id = o.partner_id
                 CROSS JOIN LATERAL (VALUES %(pairs)s) AS d(code, old_id, new_id)
                 WHERE d.old_id IS DISTINCT FROM d.new_id
                   AND NOT EXISTS (
                       SELECT 1 FROM customer_segment_override v
                        WHERE v.partner_id = o.partner_id AND v.active
                          AND v.dimension = d.code
                          AND (v.company_id IS NULL OR v.company_id = %(company)s))
            )
            SELECT m.code,
                   count(*) FILTER (WHERE NOT COALESCE(ns.is_churn, false)
                                      AND ns.rank > os.rank),
                   count(*) FILTER (WHERE ns.is_churn OR ns.rank < os.rank),
                   count(*)
              FROM moved m
              LEFT JOIN customer_segment os ON os.id = m.old_id
              LEFT JOIN customer_segment ns ON ns.id = m.new_id
          GROUP BY m.code
                """,
                facts=Pipeline._facts(scope, Pipeline._today()),
                old=self._segmentation_classified(company, old_params, old_stats),
                new=self._segmentation_classified(company, new_params, new_stats),
                pairs=SQL(", ").join(
                    SQL(
                        "(%s, o.%s, n.%s)",
                        code,
                        SQL.identifier(code),
                        SQL.identifier(code),
                    )
                    for code in PREVIEW_DIMENSIONS
                ),
                company=company.id,
            )
        )
        return {code: (up, down, total - up - down) for code, up, down, total in rows}

    @api.model
    def _segmentation_classified(self, company, params, stats):
        """SQL of the segment (one column per ``PREVIEW_DIMENSIONS`` code)
        the rules give each customer of the ``facts`` of the query, with
        ``params`` and ``stats``."""
        Rule = self.env["customer.segmentation.rule"].sudo()
        rules = Rule._rules(company, params, stats)
        return SQL(
            """SELECT x.partner_id, %(segments)s
                 FROM (SELECT x.*, %(scores)s FROM facts x) x
                WHERE x.is_entity""",
            segments=SQL(", ").join(
                SQL("%s AS %s", rules[code].segment, SQL.identifier(code))
                for code in PREVIEW_DIMENSIONS
            ),
            scores=SQL(", ").join(
                SQL("%s AS %s", expression, SQL.identifier(name))
                for name, expression in Rule._scores(stats).items()
            ),
        )

    @api.model
    def _segmentation_moves_text(self, moves, new_params):
        """The preview's lines, in the user's language."""
        _ = self.env._
        names = dict(
            self.env["customer.segment"]
            ._fields["dimension"]
            ._description_selection(self.env)
        )
        lines = [
            _(
                "%(dimension)s: %(up)s customers would move up, %(down)s down, "
                "%(other)s otherwise.",
                dimension=names.get(code, code),
                up=moves[code][0],
                down=moves[code][1],
                other=moves[code][2],
            )
            for code in PREVIEW_DIMENSIONS
            if code in moves
        ] or [_("No customer would change segment.")]
        params = self.env.company._segmentation_params()
        if any(params[key] != new_params[key] for key in FIGURE_SETTINGS):
            lines.append(
                _(
                    "The look-back window and what counts as a purchase change "
                    "the customers' figures: their effect shows after a "
                    "recompute, not here."
                )
            )
        return "\n".join(lines)
