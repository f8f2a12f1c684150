"""Checks of what a caller passes to the module's public methods.

Over XML-RPC a recordset method gets ``model.browse(args[0])``: its ids may be
strings, None, booleans, floats, nested lists or a list of any length, and its
other arguments anything the protocol carries. Every public method checks them
here first, before it reads or writes anything, and refuses a bad one with an
error that names the argument and no record the caller may not read.
"""

from collections.abc import Mapping

from odoo.exceptions import AccessError, UserError
from odoo.models import BaseModel

# Records one call may act on: a selection in a list view, not the database
# (the full recompute and the nightly job cover everyone).
MAX_RECORDS = 10000
# Characters of a free-text argument such as a reason.
MAX_TEXT_LENGTH = 2000
# Ids are PostgreSQL integers.
MAX_ID = 2**31 - 1
# Values quoted back in a message, each cut to PREVIEW_LENGTH characters.
PREVIEW_COUNT = 5
PREVIEW_LENGTH = 40


def checked_records(records, name, label, operation="read", single=False):
    """``records`` without duplicates, once their ids are checked.

    The ids must be integers (not booleans, not nested), at least one and at
    most ``MAX_RECORDS`` (exactly one if ``single``), of existing records the
    caller may ``operation`` (and, for wizards, created). Existence and
    access are checked on the ids alone: nothing of the records is read
    before.

    :param name: the argument as a remote caller passes it, e.g. ``ids``
    :param label: what it holds, translated, e.g. "Customers"
    :raise UserError: bad, missing, too many or unknown ids
    :raise AccessError: ids the caller may not ``operation``; the message
        gives their ids only, which the caller sent
    """
    env = records.env
    argument = _argument(env, name, label)
    bad = [value for value in records._ids if not _is_id(value)]
    if bad:
        raise UserError(
            env._(
                "%(argument)s: record ids are whole numbers from 1 to %(max)s; "
                "got %(values)s.",
                argument=argument,
                max=MAX_ID,
                values=_preview(bad),
            )
        )
    ids = list(dict.fromkeys(records._ids))
    if single and len(ids) != 1:
        raise UserError(
            env._(
                "%(argument)s: give exactly one record id; got %(count)s.",
                argument=argument,
                count=len(ids),
            )
        )
    if not ids:
        raise UserError(
            env._("%(argument)s: give at least one record id.", argument=argument)
        )
    if len(ids) > MAX_RECORDS:
        raise UserError(
            env._(
                "%(argument)s: at most %(max)s records at once; got %(count)s.",
                argument=argument,
                max=MAX_RECORDS,
                count=len(ids),
            )
        )
    records = records.browse(ids)
    missing = records - records.exists()
    if missing:
        raise UserError(
            env._(
                "%(argument)s: no record has the ids %(ids)s.",
                argument=argument,
                ids=_preview(missing.ids),
            )
        )
    forbidden = records - records._filtered_access(operation)
    if records._transient and not env.su:
        # a wizard is its creator's; Odoo's rules do not say so
        others = records.sudo().filtered(lambda record: record.create_uid != env.user)
        forbidden |= others.sudo(False)
    if forbidden:
        raise AccessError(
            env._(
                "%(argument)s: you may not %(operation)s the records %(ids)s.",
                argument=argument,
                operation=_operation(env, operation),
                ids=_preview(forbidden.ids),
            )
        )
    return records


def checked_record(model, value, name, label, operation="read"):
    """The record of ``model`` whose id is ``value`` (a many2one value), once
    checked as ``checked_records`` does.

    :raise UserError: naming the argument, for anything but one record id
    """
    if isinstance(value, BaseModel):
        records = value
    elif _is_id(value):
        records = model.browse(value)
    else:
        raise UserError(
            model.env._(
                "%(argument)s: expected a record id; got %(value)s.",
                argument=_argument(model.env, name, label),
                value=_preview([value]),
            )
        )
    return checked_records(records, name, label, operation=operation, single=True)


def checked_text(env, value, name, label, required=True, max_length=MAX_TEXT_LENGTH):
    """``value`` stripped, once checked to be text of at most ``max_length``
    characters, not empty if ``required``; "" for a missing optional one.

    :raise UserError: naming the argument
    """
    argument = _argument(env, name, label)
    if value in (None, False) and not required:
        return ""
    if not isinstance(value, str):
        raise UserError(
            env._(
                "%(argument)s: expected text; got %(value)s.",
                argument=argument,
                value=_preview([value]),
            )
        )
    text = value.strip()
    if required and not text:
        raise UserError(env._("%(argument)s is required.", argument=argument))
    if len(text) > max_length:
        raise UserError(
            env._(
                "%(argument)s: at most %(max)s characters; got %(length)s.",
                argument=argument,
                max=max_length,
                length=len(text),
            )
        )
    if "\x00" in text:
        # PostgreSQL refuses it in text columns
        raise UserError(
            env._("%(argument)s must not contain the NUL character.", argument=argument)
        )
    return text


def checked_values(model, vals_list, protected):
    """Refuse to create or write ``protected`` fields of ``model``, those the
    module's own code maintains, unless the caller is the superuser (the
    module's code writes them with ``sudo()`` or SQL).

    ``readonly=True`` on a field is a hint to the web client only: over RPC
    any field the caller may write is written. Default values passed in the
    context (``default_<field>``) count as written.

    :param vals_list: the dicts of values of ``create`` or ``write``
    :param protected: a function returning the protected field names, only
        called when a non-superuser passes one of the model's stored fields
    :raise UserError: values that are not dicts of field names, or protected
        fields, naming them
    """
    env = model.env
    if not isinstance(vals_list, (list, tuple)):
        vals_list = [vals_list]
    for vals in vals_list:
        if not isinstance(vals, Mapping) or not all(
            isinstance(key, str) for key in vals
        ):
            raise UserError(
                env._(
                    "vals: expected a dictionary of field names and values; got "
                    "%(value)s.",
                    value=_preview([vals]),
                )
            )
    if env.su:
        return
    written = {key for vals in vals_list for key in vals}
    # an empty default is no default (a model may blank the defaults it
    # ignores, see res.partner._segmentation_without_defaults)
    written.update(
        key[len("default_") :]
        for key, value in env.context.items()
        if isinstance(key, str) and key.startswith("default_") and value
    )
    names = sorted(written & protected())
    if names:
        raise UserError(
            env._(
                "%(model)s: the fields %(fields)s are maintained by customer "
                "segmentation and cannot be set by hand.",
                model=model._description,
                fields=", ".join(
                    f"{model._fields[name].get_description(env)['string']} ({name})"
                    for name in names
                ),
            )
        )


def checked_field_names(model, names, name):
    """Check that ``names`` is a list of field names of ``model``.

    :raise UserError: naming the argument
    """
    env = model.env
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(field, str) for field in names
    ):
        raise UserError(
            env._(
                "%(name)s: expected a list of field names; got %(value)s.",
                name=name,
                value=_preview([names]),
            )
        )
    unknown = [field for field in names if field not in model._fields]
    if unknown:
        raise UserError(
            env._(
                "%(name)s: %(model)s has no fields %(fields)s.",
                name=name,
                model=model._name,
                fields=_preview(unknown),
            )
        )


def caller_names(records):
    """Names of ``records`` for a message to the caller: the display names of
    those the caller may read, a count of the others."""
    env = records.env
    readable = records._filtered_access("read")
    names = readable.mapped("display_name")
    hidden = len(records - readable)
    if hidden:
        names.append(env._("%(count)s record(s) you may not read", count=hidden))
    return ", ".join(names)


def _argument(env, name, label):
    return env._("%(label)s (%(name)s)", label=label, name=name)


def _is_id(value):
    return type(value) is int and 0 < value <= MAX_ID


def _operation(env, operation):
    return {
        "read": env._("read"),
        "write": env._("write"),
        "create": env._("create"),
        "unlink": env._("delete"),
    }[operation]


def _preview(values):
    """A few of ``values``, each shortened, for a message."""
    shown = []
    for value in list(values)[:PREVIEW_COUNT]:
        text = repr(value)
        if len(text) > PREVIEW_LENGTH:
            text = f"{text[:PREVIEW_LENGTH]}..."
        shown.append(text)
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")
