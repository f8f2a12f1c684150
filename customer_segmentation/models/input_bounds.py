"""Bounds of what users may type into the module's fields, and their checks.

Each model lists its bounded fields once, as ``{field name: limit}``. The same
table checks the raw values of ``create`` and ``write`` before the ORM
converts them (there a string in an integer field is a raw ``ValueError`` and
a huge integer a PostgreSQL overflow, neither naming the field), and the
records in a constraint. Settings use the same number checks
(``segmentation_params``).
"""

import datetime
import math
from typing import NamedTuple

from odoo import fields, models
from odoo.exceptions import ValidationError

# Periods in days: ten years.
MAX_DAYS = 3650
# Amounts in a company currency, revenues included. Not lower: 50 million euros
# are 1.4e12 Vietnamese dong. Below 1e15, amounts keep cent-level precision as
# floats and fit the 15 digits of the amounts printed in the explanations.
MAX_AMOUNT = 1e15
# Employees of one company: the largest employers have about three million.
MAX_EMPLOYEES = 10_000_000
# A value shown in an error message is cut to this many characters.
SHOWN_VALUE = 40


class Bound(NamedTuple):
    """A closed range of numbers; an open end refuses the value of the end."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def problem(self, value, env):
        """``None`` when ``value`` (a number) is within, else why not."""
        above_low = value > self.low if self.low_open else value >= self.low
        below_high = value < self.high if self.high_open else value <= self.high
        if above_low and below_high:
            return None
        low, high = number_text(self.low), number_text(self.high)
        if self.low_open and self.high_open:
            return env._(
                "must be more than %(low)s and less than %(high)s.", low=low, high=high
            )
        if self.low_open:
            return env._(
                "must be more than %(low)s and at most %(high)s.", low=low, high=high
            )
        if self.high_open:
            return env._(
                "must be at least %(low)s and less than %(high)s.", low=low, high=high
            )
        return env._("must be between %(low)s and %(high)s.", low=low, high=high)


class Text(NamedTuple):
    """A text of at most ``max_length`` characters."""

    max_length: int

    def problem(self, value, env):
        if len(value) <= self.max_length:
            return None
        return env._(
            "is %(length)s characters long, at most %(max)s are allowed.",
            length=number_text(len(value)),
            max=number_text(self.max_length),
        )


class DateRange(NamedTuple):
    """A date from today (of the user) to ``max_days`` days later."""

    max_days: int

    def problem(self, value, env, today):
        if value < today:
            return env._("must not be in the past.")
        if value > today + datetime.timedelta(days=self.max_days):
            return env._(
                "must be within %(days)s days from today.",
                days=number_text(self.max_days),
            )
        return None


class Typed(NamedTuple):
    """No bounds: a value of the field's type (a boolean, a value of the
    selection, the id of an existing record)."""

    def problem(self, value, env):
        return None


TYPED = Typed()


def number_text(number):
    """A bound as users read it: 3,650; 0.5; 1,000,000,000,000,000."""
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number:,}"


def shown(value):
    """``repr(value)`` cut short: a message never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 3] + "..."


def as_integer(value):
    """``value`` as an int if it is a whole number (not a bool, not a
    non-integral or non-finite float), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_number(value):
    """``value`` as a float if it is a finite number (not a bool), else
    ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def value_problem(field, value, limit, env):
    """Why the raw ``value`` given for ``field`` is refused, or ``None``.

    An empty value (``None`` or ``False``) passes: the record constraint
    checks what the ORM makes of it.
    """
    if value is None or value is False:
        return None
    return _VALUE_CHECKS[field.type](field, value, limit, env)


def _integer_problem(field, value, limit, env):
    number = as_integer(value)
    if number is None:
        return env._("%(value)s is not a whole number.", value=shown(value))
    return limit.problem(number, env)


def _number_problem(field, value, limit, env):
    number = as_number(value)
    if number is None:
        return env._("%(value)s is not a finite number.", value=shown(value))
    return limit.problem(number, env)


def _text_problem(field, value, limit, env):
    if not isinstance(value, str):
        return env._("%(value)s is not a text.", value=shown(value))
    return limit.problem(value, env)


def _date_problem(field, value, limit, env):
    try:
        date = fields.Date.to_date(value)
    except (TypeError, ValueError):
        date = None
    if date is None:
        return env._("%(value)s is not a date.", value=shown(value))
    return limit.problem(date, env, fields.Date.context_today(env.user))


def _boolean_problem(field, value, limit, env):
    if isinstance(value, bool) or value in (0, 1):
        return None
    return env._("%(value)s is not true or false.", value=shown(value))


def _selection_problem(field, value, limit, env):
    choices = field.get_values(env)
    if isinstance(value, str) and value in choices:
        return None
    return env._(
        "%(value)s is not one of %(choices)s.",
        value=shown(value),
        choices=", ".join(choices),
    )


def _many2one_problem(field, value, limit, env):
    if isinstance(value, models.BaseModel) or (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value > 0
        and env[field.comodel_name].sudo().browse(value).exists()
    ):
        return None
    return env._("%(value)s is not the id of a record.", value=shown(value))


_VALUE_CHECKS = {
    "integer": _integer_problem,
    "float": _number_problem,
    "monetary": _number_problem,
    "char": _text_problem,
    "text": _text_problem,
    "date": _date_problem,
    "boolean": _boolean_problem,
    "selection": _selection_problem,
    "many2one": _many2one_problem,
}


def field_label(model, name):
    field = model._fields[name]
    return model.env._(
        "%(label)s (%(name)s)",
        label=field._description_string(model.env),
        name=name,
    )


def check_vals(records, vals_list, limits, what):
    """Raise a ``ValidationError`` naming the record and the field of the
    first value of ``vals_list`` (``create`` or ``write`` dicts) that has the
    wrong type or is out of bounds. Meant to run before anything is written.

    :param records: the records written, or an empty recordset for ``create``
    :param what: the kind of record, translated ("Segment")
    """
    env = records.env
    for vals in vals_list:
        for name in limits.keys() & vals.keys():
            problem = value_problem(
                records._fields[name], vals[name], limits[name], env
            )
            if problem:
                names = records[:3].mapped("display_name") if records else []
                if len(records) > 3:
                    names.append("...")
                if not records and isinstance(vals.get("name"), str):
                    names = [vals["name"][:SHOWN_VALUE]]
                raise _error(records, what, ", ".join(names), name, problem)


def check_records(records, limits, what, names=None):
    """Raise a ``ValidationError`` naming the record and the field of the
    first stored value of ``records`` out of its bounds (dates are checked
    when they are written, not afterwards)."""
    env = records.env
    for record in records:
        for name in names or limits:
            field = records._fields[name]
            value = record[name]
            if field.type == "date" or (value is False and field.type != "integer"):
                continue
            problem = limits[name].problem(value, env)
            if problem:
                raise _error(records, what, record.display_name, name, problem)


def _error(records, what, record_name, name, problem):
    env = records.env
    if record_name:
        what = env._("%(what)s %(record)s", what=what, record=record_name)
    return ValidationError(
        env._(
            "%(what)s: %(field)s: %(problem)s",
            what=what,
            field=field_label(records, name),
            problem=problem,
        )
    )
