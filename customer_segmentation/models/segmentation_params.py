"""Settings of the classification rules, stored as ``ir.config_parameter``.

One definition serves the settings form (``ValidationError`` when saved) and
the recompute (``UserError`` when a stored value is invalid anyway), so the two
can never disagree on what a valid setting is.
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

PARAM_PREFIX = "customer_segmentation."

# key: (kind, default, label)
PARAMS = {
    "lookback_days": ("int", 365, _lt("Look-back Window (days)")),
    "new_days": ("int", 90, _lt("New Customer Period (days)")),
    "active_days": ("int", 180, _lt("Active Period (days)")),
    "churn_days": ("int", 365, _lt("Churn Period (days)")),
    "value_method": ("method", "quantile", _lt("Value Tier Method")),
    "value_high_share": ("float", 0.2, _lt("High-Value Share")),
    "value_medium_share": ("float", 0.3, _lt("Medium-Value Share")),
    "value_high_amount": ("float", 10000.0, _lt("High-Value Amount")),
    "value_medium_amount": ("float", 2000.0, _lt("Medium-Value Amount")),
    # The EU definition of SMEs (Recommendation 2003/361/EC): medium below 250
    # employees and 50 million revenue, small below 50 and 10 million.
    "scale_large_employees": ("int", 250, _lt("Large Enterprise Employees")),
    "scale_medium_employees": ("int", 50, _lt("Medium Enterprise Employees")),
    "scale_large_revenue": ("float", 50000000.0, _lt("Large Enterprise Revenue")),
    "scale_medium_revenue": ("float", 10000000.0, _lt("Medium Enterprise Revenue")),
    # A customer whose last order is as late as its usual gap between orders
    # has risk 0; as late as this many gaps, risk 100.
    "churn_full_risk_ratio": ("float", 3.0, _lt("Full Churn Risk at (x usual gap)")),
    "churn_risk_threshold": ("int", 50, _lt("Churn Warning Threshold")),
    "pool_enabled": ("bool", False, _lt("Shared Customer Pool")),
    "pool_grace_days": ("int", 15, _lt("Pool Grace Period (days)")),
    "pool_daily_claim_limit": ("int", 20, _lt("Daily Pool Claims per Salesperson")),
}
VALUE_METHODS = ("quantile", "fixed")


def parse_params(raw, env):
    """Parse and check raw setting values.

    :param dict raw: ``{key: value}`` for the keys of ``PARAMS`` (without the
        prefix); a missing key or a ``None``/empty value takes the default.
    :param env: the environment whose language the messages are in
    :return: ``(values, errors)`` where ``errors`` is a list of messages, each
        naming the setting and its ``ir.config_parameter`` key. A value that
        does not parse is missing from ``values``.
    """
    problems = []
    values = _parse_types(raw, problems, env._)
    _check_rules(values, problems, env._)
    errors = [
        env._(
            "%(label)s (%(key)s): %(message)s",
            label=PARAMS[key][2]._translate(env.lang or "en_US"),
            key=PARAM_PREFIX + key,
            message=message,
        )
        for key, message in problems
    ]
    return values, errors


def _parse_types(raw, problems, _):
    values = {}
    for key, (kind, default, _label) in PARAMS.items():
        value = raw.get(key)
        if value is None or value == "" or value is False:
            values[key] = default
            continue
        try:
            if kind == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                values[key] = int(str(value).strip())
            elif kind == "float":
                values[key] = float(value)
            elif kind == "bool":
                text = str(value).strip().lower()
                if text not in ("true", "false", "1", "0"):
                    raise ValueError
                values[key] = text in ("true", "1")
            else:
                values[key] = str(value).strip()
        except (TypeError, ValueError):
            problems.append(
                (
                    key,
                    _("%(value)r is not true or false.", value=value)
                    if kind == "bool"
                    else _("%(value)r is not a number.", value=value),
                )
            )
    return values


def _check_rules(values, problems, _):
    def check(key, ok, message):
        if key in values and not ok:
            problems.append((key, message))

    for key in ("lookback_days", "new_days", "active_days", "churn_days"):
        check(key, values.get(key, 1) > 0, _("must be a positive number of days."))
    check(
        "value_method",
        values.get("value_method") in VALUE_METHODS,
        _(
            "must be 'quantile' or 'fixed', not %(value)r.",
            value=values.get("value_method"),
        ),
    )
    check(
        "churn_days",
        values.get("churn_days", 1) > values.get("active_days", 0),
        _("must be longer than the active period."),
    )
    high = values.get("value_high_share", 0.5)
    medium = values.get("value_medium_share", 0)
    check("value_high_share", 0 < high <= 1, _("must be a share between 0 and 1."))
    check("value_medium_share", 0 <= medium < 1, _("must be a share between 0 and 1."))
    check(
        "value_medium_share",
        high + medium <= 1,
        _("high and medium shares together must not exceed 1."),
    )
    high_amount = values.get("value_high_amount", 1)
    medium_amount = values.get("value_medium_amount", 0)
    check("value_medium_amount", medium_amount >= 0, _("must not be negative."))
    check(
        "churn_full_risk_ratio",
        values.get("churn_full_risk_ratio", 2) > 1,
        _("must be more than 1 (one usual gap means no risk)."),
    )
    check(
        "churn_risk_threshold",
        1 <= values.get("churn_risk_threshold", 1) <= 100,
        _("must be between 1 and 100."),
    )
    check(
        "pool_grace_days",
        values.get("pool_grace_days", 0) >= 0,
        _("must not be negative."),
    )
    check(
        "pool_daily_claim_limit",
        values.get("pool_daily_claim_limit", 1) > 0,
        _("must be positive."),
    )
    for size in ("employees", "revenue"):
        large = values.get(f"scale_large_{size}", 1)
        medium = values.get(f"scale_medium_{size}", 0)
        check(f"scale_medium_{size}", medium > 0, _("must be positive."))
        check(
            f"scale_large_{size}",
            large > medium,
            _("must be greater than the medium enterprise threshold."),
        )
    check(
        "value_high_amount",
        high_amount > medium_amount,
        _("must be greater than the medium-value amount."),
    )
