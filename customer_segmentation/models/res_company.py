from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .segmentation_params import FIELD_PREFIX, PARAMS, SELECTIONS, parse_params


def _setting(key):
    """The company field holding the setting ``key`` of ``PARAMS``; the
    settings forms (customer.segmentation.settings.mixin) show and explain
    it."""
    param = PARAMS[key]
    attrs = {"string": param.label._source, "default": param.default}
    if param.kind == "int":
        return fields.Integer(**attrs)
    if param.kind == "float":
        return fields.Float(**attrs)
    if param.kind == "bool":
        return fields.Boolean(**attrs)
    return fields.Selection(SELECTIONS[key], **attrs)


class ResCompany(models.Model):
    """Each company classifies its customers with its own settings."""

    _inherit = "res.company"

    segmentation_purchase_source = _setting("purchase_source")
    segmentation_lookback_days = _setting("lookback_days")
    segmentation_new_days = _setting("new_days")
    segmentation_active_days = _setting("active_days")
    segmentation_churn_days = _setting("churn_days")
    segmentation_value_method = _setting("value_method")
    segmentation_value_high_share = _setting("value_high_share")
    segmentation_value_medium_share = _setting("value_medium_share")
    segmentation_value_high_amount = _setting("value_high_amount")
    segmentation_value_medium_amount = _setting("value_medium_amount")
    segmentation_scale_large_employees = _setting("scale_large_employees")
    segmentation_scale_medium_employees = _setting("scale_medium_employees")
    segmentation_scale_large_revenue = _setting("scale_large_revenue")
    segmentation_scale_medium_revenue = _setting("scale_medium_revenue")
    segmentation_churn_full_risk_ratio = _setting("churn_full_risk_ratio")
    segmentation_churn_risk_threshold = _setting("churn_risk_threshold")
    segmentation_churn_alive_threshold = _setting("churn_alive_threshold")
    segmentation_value_basis = _setting("value_basis")
    segmentation_rfm_preset = _setting("rfm_preset")
    segmentation_model_holdout_days = _setting("model_holdout_days")
    segmentation_pool_enabled = _setting("pool_enabled")
    segmentation_pool_grace_days = _setting("pool_grace_days")
    segmentation_pool_daily_claim_limit = _setting("pool_daily_claim_limit")

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        # a new company manages its customers as the one it is created from
        self.env["customer.segment"]._segmentation_copy_strategies(
            companies, self.env.company
        )
        return companies

    @api.constrains(*(FIELD_PREFIX + key for key in PARAMS))
    def _check_segmentation_settings(self):
        for company in self:
            errors = company._segmentation_param_errors()
            if errors:
                raise ValidationError(
                    self.env._(
                        "Customer segmentation settings of %(company)s:\n%(errors)s",
                        company=company.name,
                        errors="\n".join(errors),
                    )
                )

    def _segmentation_raw_params(self):
        self.ensure_one()
        return {key: self[FIELD_PREFIX + key] for key in PARAMS}

    def _segmentation_param_errors(self):
        _values, errors = parse_params(
            self._segmentation_raw_params(), self.env, typed=True
        )
        return errors

    def _segmentation_params(self):
        """The company's settings as ``{key: value}``; a stored invalid value
        (written behind the ORM's back) aborts with a UserError naming it."""
        self.ensure_one()
        values, errors = parse_params(
            self.sudo()._segmentation_raw_params(), self.env, typed=True
        )
        if errors:
            raise UserError(
                self.env._(
                    "Customer segmentation settings of %(company)s are invalid; "
                    "nothing was recomputed.\n%(errors)s",
                    company=self.name,
                    errors="\n".join(errors),
                )
            )
        return values
