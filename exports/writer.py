"""Write canonical sheets to a formatted .xlsx, streamed (xlsxwriter ``constant_memory``).

Bold frozen header with an autofilter, column widths, date and number formats, codes as
text; every text is written as text (a cell starting with ``=`` stays text, never a formula).
A hidden ``_bhasile`` sheet records the schema version, the export date (and its precise UTC
instant, from which an import of the edited file rebuilds the values as exported out of the
change history: ``imports.merge``), the user, the filters and the sort. Each row of a canonical
sheet ends with its fingerprint, in a hidden column (``app.sheets.fingerprint``): the import
passes over the rows left as exported.
"""
from __future__ import annotations

import datetime as dt
from typing import IO, Any, Iterable, Optional, Sequence, Union

import xlsxwriter

from app.heures import paris_now
from app.sheets import SCHEMA_VERSION, Sheet
from app.sheets import fingerprint as fp
from app.sheets.kinds import Choice, Code
from .list_columns import labels

META_SHEET = "_bhasile"
#: the ``_bhasile`` key naming the list columns written after the sheet's (never imported)
LIST_COLUMNS_KEY = "list_columns"
#: ``_bhasile`` key of the export's UTC instant (ISO 8601)
EXPORT_UTC_KEY = "export_utc"


class WorkbookWriter:
    """An export workbook being written sheet by sheet, row by row."""

    def __init__(self, target: Union[str, IO[bytes]]):
        self.book = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False,
                                                 "strings_to_formulas": False,
                                                 "strings_to_numbers": False,
                                                 "strings_to_urls": False})
        self.header = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                            "text_wrap": True, "valign": "top"})
        self._formats: dict[Optional[str], Any] = {}
        self.started = dt.datetime.now(dt.timezone.utc)
        self.export_utc = self.started.isoformat(timespec="microseconds")
        self.fingerprinted = False   #: a sheet holds the fingerprint column (``_bhasile`` says so)

    def fmt(self, num_format: Optional[str]):
        if num_format not in self._formats:
            self._formats[num_format] = self.book.add_format({"num_format": num_format}) \
                if num_format else None
        return self._formats[num_format]

    def column_formats(self, sheet: Sheet) -> list:
        """The cell format of each column (number, date or text format), made once."""
        return [self.fmt(c.kind.num_format or ("@" if isinstance(c.kind, Code) else None))
                for c in sheet.columns]

    def writers(self, ws, sheet: Sheet) -> list:
        """``(column, write call, format, render)`` per column, chosen once from its kind."""
        out = []
        for c, (column, fmt) in enumerate(zip(sheet.columns, self.column_formats(sheet))):
            kind = column.kind
            method = {"number": ws.write_number, "date": ws.write_datetime}.get(kind.excel, ws.write_string)
            render = None if type(kind).render is type(kind).__mro__[-2].render else kind.render
            if isinstance(kind, Choice):  # labels translated once, not once per cell
                labels = {m: str(m.label) for m in kind.enum_cls}
                labels.update({m.value: text for m, text in labels.items()})
                render = labels.get
            out.append((c, method, fmt, render))
        return out

    def add_sheet(self, sheet: Sheet, rows: Iterable[Sequence], extra: Sequence = ()) -> int:
        """Write one canonical sheet; ``rows`` give the values in column order, then those of
        ``extra`` (``exports.list_columns.ListColumn``: a list's columns the sheet lacks); each
        row ends with its fingerprint, in a hidden column."""
        ws = self.book.add_worksheet(sheet.name)
        width = len(sheet.columns)
        for c, column in enumerate(sheet.columns):
            ws.set_column(c, c, max(column.kind.width, len(column.label) + 2),
                          self.fmt("@") if isinstance(column.kind, Code) else None)
            ws.write_string(0, c, column.label, self.header)
        for c, column in enumerate(extra, width):
            ws.set_column(c, c, max(column.width, len(column.label) + 2))
            ws.write_string(0, c, column.label, self.header)
        last = width + len(extra)         # the fingerprint's column
        ws.set_column(last, last, 18, None, {"hidden": True})
        ws.write_string(0, last, fp.LABEL, self.header)
        self.fingerprinted = True
        ws.freeze_panes(1, 0)
        writers = self.writers(ws, sheet)
        if extra:
            writers += [(c, ws.write, None, None) for c in range(width, last)]
        # Values written as they come (most columns) are kept apart from rendered ones
        # (enumerations, booleans, decimals): the inner loop does no per-cell type test.
        plain = [(c, method, fmt) for c, method, fmt, render in writers if render is None]
        rendered = [w for w in writers if w[3] is not None]
        start = fp.salt(self.export_utc, sheet.name)
        cells: list = [None] * last       # the row as written: what its fingerprint covers
        r = 0
        for r, row in enumerate(rows, 1):
            for c, method, fmt in plain:
                value = cells[c] = row[c]
                if value is not None:
                    method(r, c, value, fmt)
            for c, method, fmt, render in rendered:
                value = row[c]
                if value is not None and (value := render(value)) is not None:
                    method(r, c, value, fmt)
                cells[c] = value
            ws.write_string(r, last, fp.fingerprint(start, cells))
        # the fingerprint inside the filter: a sort moves it with its row
        ws.autofilter(0, 0, max(r, 1), last)
        return r

    def add_meta(self, user: Optional[str], filters: Any = None, sort: Any = None,
                 extra: Sequence = ()) -> None:
        ws = self.book.add_worksheet(META_SHEET)
        items = [("schema_version", SCHEMA_VERSION),
                 ("export_date", paris_now().strftime("%d/%m/%Y %H:%M")),
                 (EXPORT_UTC_KEY, self.export_utc),
                 ("user", user or "ligne de commande"), ("filters", str(filters or "")),
                 ("sort", str(sort or ""))]
        if extra:
            items.append((LIST_COLUMNS_KEY, labels(extra)))
        if self.fingerprinted:
            items.append((fp.META_KEY, fp.LABEL))
        for r, (key, value) in enumerate(items):
            ws.write_string(r, 0, key)
            ws.write_string(r, 1, value)
        ws.hide()

    def close(self) -> None:
        self.book.close()
