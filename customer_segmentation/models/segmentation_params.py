"""Settings of the classification rules, stored per company on
``res.company`` (fields ``segmentation_<key>``).

One definition serves the settings forms (``ValidationError`` when saved) and
the recompute (``UserError`` when a stored value is invalid anyway), so the two
can never disagree on what a valid setting is.
"""

import math
from typing import NamedTuple

from odoo.tools.translate import LazyTranslate

from .input_bounds import (
    MAX_AMOUNT,
    MAX_DAYS,
    MAX_EMPLOYEES,
    Bound,
    as_integer,
    as_number,
    shown,
)

_lt = LazyTranslate(__name__)

# The settings were ``ir.config_parameter`` with this prefix before 18.0.3
# (read by the migration).
PARAM_PREFIX = "customer_segmentation."
# The company field of a setting is FIELD_PREFIX + key.
FIELD_PREFIX = "segmentation_"


class Param(NamedTuple):
    kind: str  # int, float, bool or choice
    default: object
    label: object
    bound: Bound | None = None
    choices: tuple = ()


DAYS = Bound(1, MAX_DAYS)
AMOUNT = Bound(0, MAX_AMOUNT, high_open=True)
POSITIVE_AMOUNT = Bound(0, MAX_AMOUNT, low_open=True, high_open=True)
EMPLOYEES = Bound(1, MAX_EMPLOYEES)

PARAMS = {
    "lookback_days": Param("int", 365, _lt("Look-back Window (days)"), DAYS),
    "new_days": Param("int", 90, _lt("New Customer Period (days)"), DAYS),
    "active_days": Param("int", 180, _lt("Active Period (days)"), DAYS),
    "churn_days": Param("int", 365, _lt("Churn Period (days)"), DAYS),
    "purchase_source": Param(
        "choice", "sale", _lt("Purchases"), choices=("sale", "invoice")
    ),
    "value_method": Param(
        "choice", "quantile", _lt("Value Tier Method"), choices=("quantile", "fixed")
    ),
    "value_high_share": Param(
        "float", 0.2, _lt("High-Value Share"), Bound(0, 1, low_open=True)
    ),
    "value_medium_share": Param(
        "float", 0.3, _lt("Medium-Value Share"), Bound(0, 1, high_open=True)
    ),
    "value_high_amount": Param("float", 10000.0, _lt("High-Value Amount"), AMOUNT),
    "value_medium_amount": Param("float", 2000.0, _lt("Medium-Value Amount"), AMOUNT),
    # The EU definition of SMEs (Recommendation 2003/361/EC): medium below 250
    # employees and 50 million revenue, small below 50 and 10 million.
    "scale_large_employees": Param(
        "int", 250, _lt("Large Enterprise Employees"), EMPLOYEES
    ),
    "scale_medium_employees": Param(
        "int", 50, _lt("Medium Enterprise Employees"), EMPLOYEES
    ),
    "scale_large_revenue": Param(
        "float", 50000000.0, _lt("Large Enterprise Revenue"), POSITIVE_AMOUNT
    ),
    "scale_medium_revenue": Param(
        "float", 10000000.0, _lt("Medium Enterprise Revenue"), POSITIVE_AMOUNT
    ),
    # A customer whose last order is as late as its usual gap between orders
    # has risk 0; as late as this many gaps, risk 100.
    "churn_full_risk_ratio": Param(
        "float",
        3.0,
        _lt("Full Churn Risk at (x usual gap)"),
        Bound(1, 100, low_open=True),
    ),
    "churn_risk_threshold": Param(
        "int", 50, _lt("Churn Warning Threshold"), Bound(1, 100)
    ),
    # Where the company has a fitted purchase model, a customer less likely
    # than this to be still active gets the churn warning instead.
    "churn_alive_threshold": Param(
        "float",
        0.3,
        _lt("Churn Warning below P(alive)"),
        Bound(0, 1, low_open=True, high_open=True),
    ),
    "value_basis": Param(
        "choice", "spend", _lt("Value Tier Basis"), choices=("spend", "expected")
    ),
    "rfm_preset": Param("choice", "rf", _lt("RFM Segments"), choices=("rf", "rfm8")),
    # The purchase model's accuracy is checked on this many last days.
    "model_holdout_days": Param(
        "int", 180, _lt("Purchase Model Holdout (days)"), Bound(1, MAX_DAYS)
    ),
    "pool_enabled": Param("bool", False, _lt("Shared Customer Pool")),
    "pool_grace_days": Param(
        "int", 15, _lt("Pool Grace Period (days)"), Bound(0, MAX_DAYS)
    ),
    "pool_daily_claim_limit": Param(
        "int", 20, _lt("Daily Pool Claims per Salesperson"), Bound(1, 10000)
    ),
}


# The choices of the selection settings, for the company fields and the
# settings forms.
SELECTIONS = {
    "purchase_source": [
        ("sale", "Confirmed sale orders"),
        ("invoice", "Posted customer invoices"),
    ],
    "value_method": [
        ("quantile", "Share of customers (quantile)"),
        ("fixed", "Fixed amounts"),
    ],
    "value_basis": [
        ("spend", "Past spend"),
        ("expected", "Expected value over the next 12 months"),
    ],
    "rfm_preset": [
        ("rf", "Ten recency x frequency segments"),
        ("rfm8", "Eight R x F x M classes (above or below average)"),
    ],
}


def parse_params(raw, env, typed=False):
    """Parse and check setting values.

    :param dict raw: ``{key: value}`` for the keys of ``PARAMS`` (without the
        prefix); a missing key or a ``None``/empty/``False`` value takes the
        default.
    :param env: the environment whose language the messages are in
    :param typed: the values come from company fields, form fields or
        XML-RPC (an int, a float, a bool, a string for the method), not as
        text (the ``ir.config_parameter`` of 18.0.2, which the migration reads)
    :return: ``(values, errors)`` where ``errors`` is a list of messages, each
        naming the setting and its company field. A value
        refused on its own (type or bounds) is missing from ``values``.
    """
    problems = []
    values = {}
    for key in PARAMS:
        value, problem = _parse_value(key, raw.get(key), typed, env)
        if problem:
            problems.append((key, problem))
        else:
            values[key] = value
    _check_rules(values, problems, env._)
    return values, [_message(key, problem, env) for key, problem in problems]


def setting_problem(key, value, env):
    """The message naming the setting ``key`` if the typed ``value`` given
    for it alone is refused, else ``None``."""
    _value, problem = _parse_value(key, value, True, env)
    return _message(key, problem, env) if problem else None


def _message(key, problem, env):
    return env._(
        "%(label)s (%(key)s): %(message)s",
        label=PARAMS[key].label._translate(env.lang or "en_US"),
        key=FIELD_PREFIX + key,
        message=problem,
    )


def _parse_value(key, value, typed, env):
    """``(value, None)``, or ``(None, why it is refused)``."""
    param = PARAMS[key]
    _ = env._
    if value is None or value == "" or value is False:
        return param.default, None
    if param.kind == "int":
        parsed = _parse_int(value, typed)
        refused = _("%(value)s is not a whole number.", value=shown(value))
    elif param.kind == "float":
        parsed = _parse_float(value, typed)
        refused = _("%(value)s is not a finite number.", value=shown(value))
    elif param.kind == "bool":
        parsed = _parse_bool(value, typed)
        refused = _("%(value)s is not true or false.", value=shown(value))
    else:
        parsed = value.strip() if isinstance(value, str) else None
        if parsed not in param.choices:
            parsed = None
        refused = _(
            "must be one of %(choices)s, not %(value)s.",
            choices=", ".join(repr(choice) for choice in param.choices),
            value=shown(value),
        )
    if parsed is None:
        return None, refused
    problem = param.bound.problem(parsed, env) if param.bound else None
    return (None, problem) if problem else (parsed, None)


def _parse_int(value, typed):
    if isinstance(value, str) and not typed:
        try:
            return int(value.strip())
        except ValueError:
            return None
    return as_integer(value)


def _parse_float(value, typed):
    if isinstance(value, str) and not typed:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return as_number(value)


def _parse_bool(value, typed):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and not typed:
        text = value.strip().lower()
        if text in ("true", "false", "1", "0"):
            return text in ("true", "1")
    return None


def _check_rules(values, problems, _):
    """The rules between settings, on the values valid on their own."""

    def check(key, other, ok, message):
        if key in values and other in values and not ok():
            problems.append((key, message))

    check(
        "churn_days",
        "active_days",
        lambda: values["churn_days"] > values["active_days"],
        _("must be longer than the active period."),
    )
    check(
        "value_medium_share",
        "value_high_share",
        lambda: values["value_high_share"] + values["value_medium_share"] <= 1,
        _("high and medium shares together must not exceed 1."),
    )
    for size in ("employees", "revenue"):
        check(
            f"scale_large_{size}",
            f"scale_medium_{size}",
            lambda size=size: (
                values[f"scale_large_{size}"] > values[f"scale_medium_{size}"]
            ),
            _("must be greater than the medium enterprise threshold."),
        )
    check(
        "value_high_amount",
        "value_medium_amount",
        lambda: values["value_high_amount"] > values["value_medium_amount"],
        _("must be greater than the medium-value amount."),
    )
