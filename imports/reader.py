"""Read a spreadsheet file into plain rows of cell values, safely.

Every workbook — ``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods`` — is read by python-calamine
(macros never run; a formula gives its cached value), after ``imports.prescan`` has measured it:
a file past a limit (grid cells, columns, one cell's text, all the text) is refused before
calamine builds anything, and what calamine reads as empty although the file says more (a
formula without a cached value, an Excel error) is put back as ``NO_VALUE`` / ``ExcelError``.
``.csv`` is read in UTF-8 or Windows-1252 with ``;`` or ``,``. Every unusable file raises
``FileProblem`` with one French sentence.
"""
from __future__ import annotations

import csv
import io
import posixpath
import zipfile
from itertools import islice
from dataclasses import dataclass, field, replace
from typing import Iterator, Optional

from .prescan import (NO_VALUE, ExcelError, Limits, Prepared, Refused, damaged, is_twin, prepare_ods,
                      prepare_xls, prepare_xlsb, prepare_xlsx)

MAX_ENTRIES = 2000
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_PASSWORD = ("Le classeur est protégé par un mot de passe : enregistrez-le sans mot de passe puis "
             "importez-le de nouveau.")
_SAFE_INT = float(2 ** 53)


__all__ = ["Book", "ExcelError", "FileProblem", "Limits", "NO_VALUE", "RawSheet", "col_index",
           "open_file", "read_file", "whole"]


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message is one French sentence."""


@dataclass
class RawSheet:
    """A sheet as read: rows of values keyed by their spreadsheet row number.

    ``rows`` holds only the rows with a value; a row's list starts at column A, ``None`` for an
    empty cell. ``date1904``: the workbook counts its dates from 1904 (a date typed as a plain
    number means that many days after 1 January 1904). A sheet read with ``Book.sheet(name,
    head=n)`` holds its first ``n`` rows in ``rows`` and yields the others from ``rest``, once,
    read from calamine's sheet as they are asked for (the file's limits checked on the way);
    ``last_row``: the number of its last row (0 when empty).
    """

    name: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    hidden: bool = False
    date1904: bool = False
    rest: Iterator[tuple[int, list]] = ()
    last_row: int = 0


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def read_file(data: bytes, filename: str, max_rows: int, max_unzipped_mb: int,
              limits: Optional[Limits] = None) -> list[RawSheet]:
    """Every sheet of the file; raises ``FileProblem`` when the file cannot be used."""
    with open_file(data, filename, max_rows, max_unzipped_mb, limits) as book:
        return [book.sheet(name) for name in book.names]


def open_file(data: bytes, filename: str, max_rows: int, max_unzipped_mb: int,
              limits: Optional[Limits] = None) -> "Book":
    """The file opened once, its sheets listed, none read yet (``Book.sheet`` reads one);
    raises ``FileProblem`` when the file cannot be used."""
    limits = replace(limits or Limits(), rows=max_rows, unzipped_mb=max_unzipped_mb)
    try:
        return _open(data, filename, limits)
    except Refused as exc:
        raise FileProblem(str(exc)) from None


def _open(data: bytes, filename: str, limits: Limits) -> "Book":
    if not data:
        raise FileProblem("Le fichier est vide.")
    lower = filename.lower()
    if data[:8] == _CFB:
        if _ENCRYPTED in data:
            raise FileProblem(_PASSWORD)
        return _workbook(prepare_xls(data, limits), limits, ".xls")
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm", ".xlsb", ".ods")):
        archive = _open_zip(data, limits.unzipped_mb)
        names = set(archive.namelist())
        if "xl/workbook.xml" in names:
            return _workbook(prepare_xlsx(data, archive, limits), limits, ".xlsx")
        if "xl/workbook.bin" in names:
            return _workbook(prepare_xlsb(data, archive, limits), limits, ".xlsb")
        if "content.xml" in names:
            return _workbook(prepare_ods(data, archive, limits), limits, ".ods")
        raise FileProblem("Ce fichier n'est pas un classeur Excel (.xlsx, .xls) ni OpenDocument (.ods).")
    if lower.endswith((".xls", ".xlsb")):
        raise FileProblem("Ce fichier n'est pas un classeur lisible : enregistrez-le au format .xlsx.")
    return Book.ready([_read_csv(data, filename, limits.rows)])


def _open_zip(data: bytes, max_unzipped_mb: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise FileProblem("Le fichier est endommagé ou incomplet (archive illisible) : "
                          "enregistrez-le de nouveau au format .xlsx.") from None
    if len(infos) > MAX_ENTRIES:
        raise FileProblem(f"Le classeur contient trop d'éléments ({len(infos)}) : fichier refusé.")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped_mb * 1024 * 1024:
        raise FileProblem(f"Le classeur décompressé dépasserait {max_unzipped_mb} Mo : "
                          "fichier refusé (découpez-le en plusieurs fichiers).")
    if any(i.flag_bits & 0x1 for i in infos):
        raise FileProblem(_PASSWORD)
    return archive


def _calamine_failed(exc: BaseException, kind: str) -> FileProblem:
    """calamine's own errors, and its panics (pyo3's ``PanicException`` is a ``BaseException``)."""
    import python_calamine

    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        raise exc
    if isinstance(exc, python_calamine.PasswordError):
        return FileProblem(_PASSWORD)
    return FileProblem(str(damaged(kind)))


class Book:
    """A file opened once (calamine keeps its bytes): ``names`` its sheets in the file's order,
    each read only when asked, so that a caller may hold one sheet's rows at a time. Every
    sheet read counts against the same limits, in whatever order the sheets are read."""

    def __init__(self, names: list[str], hidden: set[str], limits: Limits, kind: str = ".xlsx",
                 prepared: Optional[Prepared] = None, calamine=None):
        self.names, self.hidden, self.kind = names, hidden, kind
        self.limits, self.prepared, self.calamine = limits, prepared, calamine
        self.counter = _Counter(limits, prepared.count_text if prepared else True)
        self._ready: dict[str, RawSheet] = {}

    @classmethod
    def ready(cls, sheets: list[RawSheet]) -> "Book":
        """Sheets already read (a CSV file)."""
        book = cls([s.name for s in sheets], set(), Limits())
        book._ready = {s.name: s for s in sheets}
        return book

    def sheet(self, name: str, head: Optional[int] = None) -> RawSheet:
        """Sheet ``name`` read (measured first); raises ``FileProblem`` past a limit. With
        ``head``, only its first ``head`` rows are read now, the others by ``RawSheet.rest``
        (which must be read through before another sheet is asked for)."""
        found = self._ready.pop(name, None)
        if found is not None:
            found.last_row = found.rows[-1][0] if found.rows else 0
            return found
        try:
            return self._sheet(name, head)
        except Refused as exc:
            raise FileProblem(str(exc)) from None

    def _sheet(self, name: str, head: Optional[int]) -> RawSheet:
        prepared, counter = self.prepared, self.counter
        raw = RawSheet(name, hidden=name in self.hidden, date1904=prepared.date1904)
        prepared.sheet(name)               # measured before calamine builds it
        counter.count_text = prepared.count_text
        marks = prepared.marks.get(name)
        try:
            sheet = self.calamine.get_sheet_by_name(name)
            start, end, merged = sheet.start, sheet.end, sheet.merged_cell_ranges
            if start is not None and end is not None:
                self.limits.check_grid(name, end[0], end[1])
                raw.last_row = end[0] + 1
                rows = _rows(sheet, start, counter)
                if head is None or marks:  # cells to put back: the whole sheet at once
                    raw.rows.extend(rows)
                else:
                    raw.rows.extend(islice(rows, head))
                    raw.rest = _guarded(rows, self.kind)
        except (FileProblem, Refused):
            raise
        except BaseException as exc:
            raise _calamine_failed(exc, self.kind) from None
        del sheet
        if marks:
            _mark(raw, marks, counter)
        raw.merged = prepared.merged.get(name) or [
            (r1 + 1, c1 + 1, r2 + 1, c2 + 1) for (r1, c1), (r2, c2) in merged or ()]
        return raw

    def close(self) -> None:
        """Stops the measures still under way and lets the file go."""
        if self.prepared is not None:
            self.prepared.close()
        if self.calamine is not None:
            self.calamine.close()
            self.calamine = None

    def __enter__(self) -> "Book":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _workbook(prepared: Prepared, limits: Limits, kind: str) -> Book:
    """A measured workbook opened by calamine, its worksheets listed (an older export's hidden
    copies of its sheets left out, never read)."""
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(prepared.data))
        listed = book.sheets_metadata
    except BaseException as exc:
        prepared.close()
        raise _calamine_failed(exc, kind) from None
    names, hidden = [], set()
    for meta in listed:
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        if meta.visible != python_calamine.SheetVisibleEnum.Visible:
            if is_twin(meta.name):
                continue                   # an older export's copy of a sheet: never read
            hidden.add(meta.name)
        names.append(meta.name)
    return Book(names, hidden, limits, kind, prepared, book)


class _Counter:
    """Rows and text read so far against the file's limits."""

    def __init__(self, limits: Limits, count_text: bool):
        self.limits, self.count_text = limits, count_text
        self.rows = 0
        self.text = 0

    def too_many_rows(self) -> FileProblem:
        return FileProblem(f"Le fichier dépasse {self.limits.rows} lignes : découpez-le en "
                           "plusieurs fichiers.")

    def text_of(self, values: list) -> None:
        limits = self.limits
        for v in values:
            if v.__class__ is str:
                if len(v) > limits.string:
                    raise FileProblem(str(limits.string_too_long()))
                self.text += len(v)
        if self.text > limits.text_mb * 1_000_000:
            raise FileProblem(str(limits.too_much_text()))


def _rows(sheet, start: tuple[int, int], counter: _Counter) -> Iterator[tuple[int, list]]:
    """calamine's rows, lazily, as spreadsheet row numbers and values from column A (``None``
    for empty); only the rows with a value are given. Numbers stay as calamine gives them (a
    whole number is a ``float``, equal to its ``int``): ``whole()`` turns one into an ``int``
    where its type matters, so that the reading does no per-cell work in Python."""
    first_row, first_col = start
    rows = sheet.iter_rows()
    for _ in range(first_row):          # calamine gives the rows above its range as empty lists
        next(rows, None)
    pad = [None] * first_col
    count_text, max_rows = counter.count_text, counter.limits.rows
    for number, cells in enumerate(rows, first_row + 1):
        empty = cells.count("")
        if empty == len(cells):
            continue
        counter.rows += 1
        if counter.rows > max_rows:
            raise counter.too_many_rows()
        if empty:
            cells = [None if v == "" else v for v in cells]
        if count_text:
            counter.text_of(cells)
        yield number, (pad + cells if first_col else cells)


def _guarded(rows: Iterator[tuple[int, list]], kind: str) -> Iterator[tuple[int, list]]:
    """The rest of a sheet's rows, calamine's failures on the way as ``FileProblem``."""
    try:
        yield from rows
    except FileProblem:
        raise
    except Refused as exc:
        raise FileProblem(str(exc)) from None
    except BaseException as exc:
        raise _calamine_failed(exc, kind) from None


def whole(value):
    """A whole ``float`` as an ``int`` (as a cell typed ``2024`` reads), anything else as is."""
    if value.__class__ is float and value.is_integer() and -_SAFE_INT < value < _SAFE_INT:
        return int(value)
    return value


def _mark(raw: RawSheet, marks: dict, counter: _Counter) -> None:
    """Formula cells without a value and error cells, which calamine reads as empty."""
    by_number = {number: values for number, values in raw.rows}
    for (row, col), value in marks.items():
        values = by_number.get(row + 1)
        if values is None:
            counter.rows += 1
            if counter.rows > counter.limits.rows:
                raise counter.too_many_rows()
            values = by_number[row + 1] = []
        if len(values) <= col:
            values.extend([None] * (col + 1 - len(values)))
        if values[col] is None:
            values[col] = value
    raw.rows = sorted(by_number.items())


def _read_csv(data: bytes, filename: str, max_rows: int) -> RawSheet:
    if b"\x00" in data[:4096]:
        raise FileProblem("Encodage du fichier non reconnu : enregistrez le CSV en UTF-8 "
                          "(ou Windows-1252).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise FileProblem("Encodage du fichier non reconnu : enregistrez le CSV en UTF-8 "
                              "(ou Windows-1252).") from None
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    if not first.count(delimiter):
        raise FileProblem("Ce fichier n'est ni un classeur (.xlsx, .xls, .ods) ni un fichier CSV "
                          "séparé par « ; » ou « , ».")
    sheet = RawSheet(posixpath.splitext(posixpath.basename(filename))[0] or "CSV")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, 1):
            if number > max_rows + 1:
                raise FileProblem(f"Le fichier dépasse {max_rows} lignes : découpez-le en plusieurs "
                                  "fichiers.")
            if len(row) > Limits.columns:
                raise FileProblem(f"La ligne {number} du fichier a plus de {Limits.columns} colonnes : "
                                  "vérifiez le séparateur.")
            values = [v if v.strip() else None for v in row]
            if any(v is not None for v in values):
                sheet.rows.append((number, values))
    except csv.Error:
        raise FileProblem(f"Le fichier CSV est illisible vers la ligne {reader.line_num} (une cellule "
                          f"de plus de {csv.field_size_limit():,} caractères, ou des guillemets non "
                          "refermés) : vérifiez-le dans un tableur.".replace(",", "\u202f")) from None
    return sheet
