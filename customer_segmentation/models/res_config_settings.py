from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .segmentation_params import PARAM_PREFIX, PARAMS, parse_params


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    segmentation_lookback_days = fields.Integer(
        string="Look-back Window (days)",
        config_parameter=PARAM_PREFIX + "lookback_days",
        default=PARAMS["lookback_days"][1],
        help="Frequency and monetary value count the confirmed orders of this "
        "many last days.",
    )
    segmentation_new_days = fields.Integer(
        string="New Customer Period (days)",
        config_parameter=PARAM_PREFIX + "new_days",
        default=PARAMS["new_days"][1],
        help="A customer whose first purchase is at most this many days old is new.",
    )
    segmentation_active_days = fields.Integer(
        string="Active Period (days)",
        config_parameter=PARAM_PREFIX + "active_days",
        default=PARAMS["active_days"][1],
        help="A customer whose last purchase is at most this many days old is "
        "active.",
    )
    segmentation_churn_days = fields.Integer(
        string="Churn Period (days)",
        config_parameter=PARAM_PREFIX + "churn_days",
        default=PARAMS["churn_days"][1],
        help="Customers whose last purchase is older than the active period are "
        "at risk up to this many days, churned after.",
    )
    segmentation_value_method = fields.Selection(
        [
            ("quantile", "Share of customers (quantile)"),
            ("fixed", "Fixed amounts"),
        ],
        string="Value Tier Method",
        config_parameter=PARAM_PREFIX + "value_method",
        default=PARAMS["value_method"][1],
    )
    segmentation_value_high_share = fields.Float(
        string="High-Value Share",
        config_parameter=PARAM_PREFIX + "value_high_share",
        default=PARAMS["value_high_share"][1],
        help="Share of the customers buying in the window that are high value, "
        "the best spenders first (0.2 = 20%).",
    )
    segmentation_value_medium_share = fields.Float(
        string="Medium-Value Share",
        config_parameter=PARAM_PREFIX + "value_medium_share",
        default=PARAMS["value_medium_share"][1],
        help="Share of the customers, after the high-value ones, that are medium "
        "value.",
    )
    segmentation_value_high_amount = fields.Float(
        string="High-Value Amount",
        config_parameter=PARAM_PREFIX + "value_high_amount",
        default=PARAMS["value_high_amount"][1],
        help="Fixed method: customers spending at least this much in the window, "
        "in the company currency, are high value.",
    )
    segmentation_value_medium_amount = fields.Float(
        string="Medium-Value Amount",
        config_parameter=PARAM_PREFIX + "value_medium_amount",
        default=PARAMS["value_medium_amount"][1],
        help="Fixed method: customers spending at least this much are medium value.",
    )

    @api.constrains(*(f"segmentation_{key}" for key in PARAMS))
    def _check_segmentation_settings(self):
        for settings in self:
            _values, errors = parse_params(
                {key: settings[f"segmentation_{key}"] for key in PARAMS}, self.env._
            )
            if errors:
                raise ValidationError("\n".join(errors))

    def action_recompute_all_segments(self):
        Partner = self.env["res.partner"]
        return Partner._segmentation_notification(Partner.recompute_all_segments())
