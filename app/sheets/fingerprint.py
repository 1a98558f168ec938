"""The fingerprint of an exported row: a short digest of its cells, written by the export in a
hidden last column, so that an import recognises the rows an agent left as exported.

The digest covers the export's instant, the sheet's name and the row's cells *as the import
reads them back* (python-calamine: numbers as floats, a date cell as a date, text as text, an
empty cell as nothing). ``comparable`` is the one rule turning a value — written by the export
or read by the import — into that form; numbers keep 15 significant digits and a midnight
datetime is its date, so that a workbook re-saved by LibreOffice or Excel still matches.

A fingerprint proves nothing: anyone may compute one. A row whose fingerprint matches is only
ever *not written* (its outcome by the three-way merge: BHasile's values kept), its key and its
territory still checked (``imports.fingerprint``).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from hashlib import blake2b
from typing import Any, Sequence

#: header of the hidden column holding each row's fingerprint
LABEL = "Empreinte BHasile"
#: the ``_bhasile`` key naming that column (as ``list_columns`` names a list's columns)
META_KEY = "fingerprint_column"
_SEP = "\x1f"
_NUMBERS = (int, float, Decimal)
#: non-text value → its form, for the values met again and again (0, 12.0, a month's date)
_FORMS: dict[Any, str] = {None: ""}
_FORMS_MAX = 50_000


def comparable(value: Any) -> str:
    """A cell's value as the fingerprint compares it: the same text for a value the export
    writes and for the cell the import reads back (``None`` and ``""`` alike are empty)."""
    if value is None:
        return ""
    cls = value.__class__
    if cls is str:
        return value
    if cls is bool or isinstance(value, _NUMBERS):   # a boolean cell reads as its number
        return "\x1en" + format(float(value), ".15g")
    if cls is dt.datetime:
        if not (value.hour or value.minute or value.second or value.microsecond):
            return "\x1ed" + value.date().isoformat()
        return "\x1et" + (value + dt.timedelta(microseconds=500_000)).isoformat(timespec="seconds")
    if cls is dt.date:
        return "\x1ed" + value.isoformat()
    return "\x1e?" + repr(value)   # a formula without value, an Excel error: never exported


def _known(value: Any) -> str:
    """``comparable``, remembered for the values that are not text."""
    form = comparable(value)
    if value.__class__ is not str:
        if len(_FORMS) >= _FORMS_MAX:
            _FORMS.clear()
            _FORMS[None] = ""
        _FORMS[value] = form
    return form


def _form(value: Any) -> str:
    """``comparable`` of a value ``_FORMS`` lacks: a number with decimals (an amount, met once)
    is formed without being remembered, so that it never pushes out the values met again."""
    if value.__class__ is float and not value.is_integer():
        return "\x1en" + format(value, ".15g")
    return _known(value)


def salt(export_utc: str, sheet: str) -> bytes:
    """What every fingerprint of one sheet of one export starts with."""
    return f"{export_utc}{_SEP}{sheet}{_SEP}".encode()


def fingerprint(start: bytes, cells: Sequence) -> str:
    """The fingerprint of a row's ``cells`` (``start``: ``salt()``): 16 hexadecimal digits,
    written as text.

    The usual cell (text, or a value met before) is turned into its form by one ``map`` in C:
    a text is its own form, ``_FORMS`` holds the others (a ``True`` finds the form of ``1``,
    its equal, which is also its own)."""
    forms = list(map(_FORMS.get, cells, cells))
    try:
        text = _SEP.join(forms)
    except TypeError:          # a value not met yet (left as is by ``get``): its form made
        text = _SEP.join([f if f.__class__ is str else _form(f) for f in forms])
    return blake2b(start + text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
