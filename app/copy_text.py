"""PostgreSQL's ``COPY ... FROM STDIN`` text format, written in Python for the change history.

The history of a big import is hundreds of thousands of rows of 13 columns, most of them the
same for every row of one record (time, author, action, table, id, key, origin, batch,
structure). The driver's ``write_row`` formats each value of each row (~9 µs a row here);
formatting a record's common columns once and each row's three own values makes a line in
under a microsecond. Format (PostgreSQL's documentation, « COPY », text format): columns
separated by a tab, rows ended by a newline, ``\\N`` for NULL, and backslash, tab, newline and
carriage return escaped with a backslash.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Iterator

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"
#: Lines per block handed to the driver (a few megabytes).
BLOCK = 20_000


def _escaped(value: str) -> str:
    # four scans in C cost less than one ``translate`` (a mapping lookup per character)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def text(value: Any) -> str:
    """One column's text: ``\\N`` for NULL, text escaped, a time in ISO form."""
    if value is None:
        return NULL
    if value.__class__ is not str:
        value = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
    return _escaped(value)


def copy_text(saves: Iterable[tuple[tuple, tuple, list[tuple]]]) -> Iterator[str]:
    """Blocks of ``COPY`` lines for (head, tail, [(field, old, new)]) records: each line is
    ``head + (field, old, new) + tail``; a field is a column name or None, old and new are
    text or None (``app.audit.render_value``)."""
    lines: list[str] = []
    for head, tail, changes in saves:
        start = "\t".join(map(text, head))
        end = "\t".join(map(text, tail))
        lines.extend(f"{start}\t{field or NULL}\t{NULL if old is None else _escaped(old)}\t"
                     f"{NULL if new is None else _escaped(new)}\t{end}\n" for field, old, new in changes)
        if len(lines) >= BLOCK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)
