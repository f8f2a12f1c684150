"""Why a customer is in a segment: every reason the module gives, defined once.

The classification stores a reason as a code and its figures (a JSON object),
never as text; the history, the contact's explanation, the chatter and the
activities render it here, in the language of whoever reads it. Amounts are in
the currency of the company that classified the customer.
"""

from typing import NamedTuple

from odoo.tools.misc import formatLang
from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)


class Reason(NamedTuple):
    template: object  # a lazy translation with %(name)s placeholders
    amounts: tuple = ()  # the placeholders that are amounts


REASONS = {
    # value tier
    "value_no_purchase": Reason(_lt("no purchase")),
    "value_no_window": Reason(_lt("no purchase in the last %(window)s days")),
    "value_spent": Reason(
        _lt(
            "%(amount)s bought in the last %(window)s days; high value from "
            "%(high)s, medium from %(medium)s"
        ),
        ("amount", "high", "medium"),
    ),
    "value_expected": Reason(
        _lt(
            "expected value over the next 12 months %(amount)s; high value from "
            "%(high)s, medium from %(medium)s"
        ),
        ("amount", "high", "medium"),
    ),
    # lifecycle stage
    "lifecycle_none": Reason(_lt("no purchase, open quotation or opportunity")),
    "lifecycle_prospect": Reason(
        _lt(
            "no purchase yet, but an open quotation, an order dated later or an "
            "opportunity"
        )
    ),
    "lifecycle_new": Reason(
        _lt("first purchase %(age)s days ago ≤ new-customer period %(days)s days")
    ),
    "lifecycle_active": Reason(
        _lt("last purchase %(recency)s days ago ≤ active period %(days)s days")
    ),
    "lifecycle_at_risk": Reason(
        _lt(
            "last purchase %(recency)s days ago > active period %(active)s days, "
            "≤ churn period %(churn)s days"
        )
    ),
    "lifecycle_churned": Reason(
        _lt("last purchase %(recency)s days ago > churn period %(days)s days")
    ),
    # RFM segment
    "rfm_no_window": Reason(_lt("no purchase in the last %(window)s days")),
    "rfm_scores": Reason(
        _lt(
            "recency score %(r)s (last purchase %(recency)s days ago), frequency "
            "score %(f)s (purchases: %(purchases)s), monetary score %(m)s"
        )
    ),
    "rfm_classes": Reason(
        _lt(
            "last purchase %(recency)s days ago (average %(average_recency)s), "
            "purchases: %(purchases)s (average %(average_purchases)s), "
            "%(amount)s bought (average %(average_amount)s)"
        ),
        ("amount", "average_amount"),
    ),
    # purchase model (customer.segmentation.purchase.model)
    "model_repeat": Reason(
        _lt(
            "orders about every %(gap)s days, silent for %(silent)s days: "
            "%(alive)s%% likely still active; %(purchases)s purchases expected "
            "in the next 90 days, expected value next year %(value)s"
        ),
        ("value",),
    ),
    "model_single": Reason(
        _lt(
            "one purchase day, %(silent)s days ago: the model judges whether a "
            "customer is lost only after a second purchase day; %(purchases)s "
            "purchases expected in the next 90 days, expected value next year "
            "%(value)s, at an average customer's %(spend)s a purchase day (one "
            "purchase day does not show this customer's own yet)"
        ),
        ("value", "spend"),
    ),
    # geography, business scale, job level, custom dimensions, needs
    "geo_no_country": Reason(_lt("no country in the address")),
    "geo_address": Reason(_lt("address in %(address)s, company in %(company)s")),
    "scale_none": Reason(_lt("not a company, or no employees nor annual revenue")),
    "scale_figures": Reason(
        _lt(
            "%(employees)s employees, annual revenue %(revenue)s; large from "
            "%(large_employees)s employees or %(large_revenue)s, medium from "
            "%(medium_employees)s or %(medium_revenue)s"
        ),
        ("revenue", "large_revenue", "medium_revenue"),
    ),
    "job_level_none": Reason(_lt("no job title keyword matches")),
    "job_level_keyword": Reason(
        _lt('job title "%(title)s" matches a keyword of the level')
    ),
    "custom_none": Reason(_lt("matches no segment rule")),
    "custom_match": Reason(_lt("matches the segment's rule")),
    "need_added": Reason(_lt("matches the need's rule")),
    "need_removed": Reason(_lt("no longer matches the need's rule")),
    # people
    "pinned": Reason(_lt("Pinned by hand: %(reason)s")),
    # the rule's own reason follows (``rule_code``, ``rule_values``)
    "pin_ended": Reason(_lt("Pin ended by %(user)s: %(rule)s")),
    "pin_expired": Reason(_lt("Pin expired: %(rule)s")),
    "manual": Reason(_lt("Set by %(user)s")),
}


def render_reason(env, code, values, currency=None):
    """The reason ``code`` with its ``values``, in ``env``'s language.

    :param values: ``{placeholder: value}`` as stored (JSON); amounts are
        numbers, shown with ``currency`` when given
    :return: the text, or ``""`` for an unknown code (a reason of a later
        version of the module read by an older one)
    """
    reason = REASONS.get(code)
    if not reason:
        return ""
    values = dict(values or {})
    if "rule_code" in values:
        values["rule"] = render_reason(
            env, values.pop("rule_code"), values.pop("rule_values", None), currency
        )
    for name in reason.amounts:
        if isinstance(values.get(name), (int, float)):
            values[name] = formatLang(env, values[name], currency_obj=currency)
    lang = env.lang or "en_US"
    try:
        return reason.template._translate(lang) % _defaulted(values)
    except (KeyError, TypeError, ValueError):
        # a translation with other placeholders: the English text is right
        return reason.template._source % _defaulted(values)


class _Defaulted(dict):
    def __missing__(self, key):
        return "-"


def _defaulted(values):
    return _Defaulted({k: "-" if v is None else v for k, v in values.items()})
