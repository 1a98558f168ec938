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
from itertools import compress, count, islice, repeat
from operator import itemgetter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Optional

from .prescan import (NO_VALUE, ExcelError, Limits, Prepared, Refused, damaged, is_twin, prepare_ods,
                      prepare_xls, prepare_xlsb, prepare_xlsx)
from .slices import NotPlain, Parts, SlicedSheet

MAX_ENTRIES = 2000
#: a plain .xlsx sheet whose markup is at most this is read whole even when asked by its head
#: (certified as it is read, in one pass): its rows cost less to hold than to measure the sheet
#: first (a second pass over its markup, ``Prepared.sheet``); a larger one is streamed (measured
#: first, unless ``open_file(measure_first=False)``). An agent's usual sheet is far under it; a
#: national ×1 export's largest is 12 MB.
WHOLE_BYTES = 12 << 20
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
    a row may then end before the sheet's last column, when it is read in slices (a slice's rows
    end at its own last column). ``last_row``: the number of its last row (0 when empty; read by
    its head in slices: the row of its last cell, even empty).
    """

    name: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    hidden: bool = False
    date1904: bool = False
    rest: Iterator[tuple[int, list]] = ()
    last_row: int = 0
    #: streamed without measure (``open_file(measure_first=False)``): ``merged`` and ``last_row``
    #: are the sheet's only once ``rest`` is read through (``last_row``: its head's word before)
    unmeasured: bool = False


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


class ReadAgain(Exception):
    """A large sheet streamed without being measured first (``open_file(measure_first=False)``)
    turned out not plain, or its header needs the merged ranges only a measure gives, once some
    of its rows were given: what was made of them is to drop, and the file to read again with
    ``measure_first=True`` (a preview, which writes nothing, starts over)."""


def open_file(data: bytes, filename: str, max_rows: int, max_unzipped_mb: int,
              limits: Optional[Limits] = None, measure_first: bool = True) -> "Book":
    """The file opened once, its sheets listed, none read yet (``Book.sheet`` reads one);
    raises ``FileProblem`` when the file cannot be used. ``measure_first=False``: a large
    plain-looking .xlsx sheet asked by its head is streamed at once, certified slice by slice,
    its markup inflated once instead of twice — its rows may then raise ``ReadAgain``."""
    limits = replace(limits or Limits(), rows=max_rows, unzipped_mb=max_unzipped_mb)
    try:
        book = _open(data, filename, limits)
    except Refused as exc:
        raise FileProblem(str(exc)) from None
    book.measure_first = measure_first
    return book


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
    """A file opened once: ``names`` its sheets in the file's order, each read only when asked,
    so that a caller may hold one sheet's rows at a time. Every sheet read counts against the
    same limits, in whatever order the sheets are read. An .xlsx file's plain sheets are read in
    slices (``imports.slices``); calamine opens the whole file only for a sheet that is not."""

    def __init__(self, names: list[str], hidden: set[str], limits: Limits, kind: str = ".xlsx",
                 prepared: Optional[Prepared] = None, calamine=None):
        self.names, self.hidden, self.kind = names, hidden, kind
        self.limits, self.prepared, self.calamine = limits, prepared, calamine
        self.counter = _Counter(limits, prepared.count_text if prepared else True)
        self._ready: dict[str, RawSheet] = {}
        self._parts: Optional[Parts] = None
        self.measure_first = True   #: (``open_file``)

    @classmethod
    def ready(cls, sheets: list[RawSheet]) -> "Book":
        """Sheets already read (a CSV file)."""
        book = cls([s.name for s in sheets], set(), Limits())
        book._ready = {s.name: s for s in sheets}
        return book

    def sheet(self, name: str, head: Optional[int] = None) -> RawSheet:
        """Sheet ``name`` read (measured first); raises ``FileProblem`` past a limit. With
        ``head``, only its first ``head`` rows are read now, the others by ``RawSheet.rest``
        (which must be read through before another sheet is asked for) — except a plain .xlsx
        sheet of at most ``WHOLE_BYTES``, read whole all the same."""
        found = self._ready.pop(name, None)
        if found is not None:
            found.last_row = found.rows[-1][0] if found.rows else 0
            return found
        if head is not None and self.prepared is not None \
                and self.prepared.sizes.get(name, WHOLE_BYTES + 1) <= WHOLE_BYTES:
            head = None
        try:
            raw = RawSheet(name, hidden=name in self.hidden, date1904=self.prepared.date1904)
            if name in self.prepared.sheets and self._sliced(raw, head):
                return raw
            return self._whole(raw, head)
        except FileProblem:
            raise
        except Refused as exc:
            raise FileProblem(str(exc)) from None
        except BaseException as exc:
            raise _calamine_failed(exc, self.kind) from None

    def _sliced(self, raw: RawSheet, head: Optional[int]) -> bool:
        """Reads a plain .xlsx sheet in slices; ``False`` (nothing counted) when it is not plain.
        A whole sheet is certified as it is read; a sheet read by its head is measured first
        (its merged ranges and last row known before its rows) — unless the book was opened
        with ``measure_first=False``: then it is certified slice by slice as it streams, and
        found not plain past its head its rows raise ``ReadAgain``."""
        prepared, name = self.prepared, raw.name
        streamed = head is not None and not self.measure_first and name not in prepared.measured
        if head is not None and not streamed:
            prepared.sheet(name)
            if name not in prepared.plain:
                return False
        if self._parts is None:
            self._parts = Parts(zipfile.ZipFile(io.BytesIO(prepared.data)), prepared.date1904)
        sliced = SlicedSheet(prepared.data, prepared.sheets[name], name, self._parts, self.limits,
                             certify=head is None or streamed)
        counted = (self.counter.rows, self.counter.text)
        rows = _rows(self._parts_of(sliced), self.counter)
        try:
            if head is None:
                raw.rows = list(rows)
                raw.merged, raw.last_row = sliced.merged, sliced.last_row
                _widen(raw.rows, sliced.widths)
                return True
            raw.rows = list(islice(rows, head))
        except NotPlain:
            self.counter.rows, self.counter.text = counted
            return False
        if streamed:   # what only the end of its markup tells, told once its rows are read
            raw.unmeasured, raw.last_row = True, max(sliced.declared, raw.rows[-1][0] if raw.rows else 0)
            raw.rest = _guarded(rows, self.kind, lambda: _measured(raw, sliced))
        else:
            raw.merged, raw.last_row = prepared.merged[name], prepared.plain[name]
            raw.rest = _guarded(rows, self.kind)
        return True

    def _parts_of(self, sliced: SlicedSheet) -> Iterator[tuple[int, int, list]]:
        """The slices' rows for ``_rows``, their text counted once a run may be too long."""
        for (first_row, first_col), values in sliced.values():
            self.counter.count_text = self.prepared.count_text or sliced.text.long
            yield first_row, first_col, values

    def _whole(self, raw: RawSheet, head: Optional[int]) -> RawSheet:
        """A sheet read by calamine as one grid (measured first; bounded by the cells limit)."""
        prepared, counter, name = self.prepared, self.counter, raw.name
        prepared.sheet(name, certify=head is not None)   # a whole sheet was found not plain
        counter.count_text = prepared.count_text
        marks = prepared.marks.get(name)
        sheet = self._calamine().get_sheet_by_name(name)
        start, end, merged = sheet.start, sheet.end, sheet.merged_cell_ranges
        if start is not None and end is not None:
            self.limits.check_grid(name, end[0], end[1])
            raw.last_row = end[0] + 1
            rows = _rows(_batches(sheet, start), counter)
            if head is None or marks:  # cells to put back: the whole sheet at once
                raw.rows.extend(rows)
            else:
                raw.rows.extend(islice(rows, head))
                raw.rest = _guarded(rows, self.kind)
        del sheet
        if marks:
            _mark(raw, marks, counter)
        raw.merged = prepared.merged.get(name) or [
            (r1 + 1, c1 + 1, r2 + 1, c2 + 1) for (r1, c1), (r2, c2) in merged or ()]
        return raw

    def _calamine(self):
        """calamine on the whole file, opened once, when a sheet needs it."""
        if self.calamine is None:
            import python_calamine

            self.calamine = python_calamine.CalamineWorkbook.from_filelike(
                io.BytesIO(self.prepared.data))
        return self.calamine

    def close(self) -> None:
        """Lets the file go."""
        if self.calamine is not None:
            self.calamine.close()
            self.calamine = None

    def __enter__(self) -> "Book":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _workbook(prepared: Prepared, limits: Limits, kind: str) -> Book:
    """A measured workbook, its worksheets listed (an older export's hidden copies of its
    sheets left out, never read): an .xlsx file's from its own parts, others' by calamine."""
    import python_calamine

    if kind == ".xlsx":
        return Book(list(prepared.sheets), prepared.hidden, limits, kind, prepared)
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(prepared.data))
        listed = book.sheets_metadata
    except BaseException as exc:
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


def _widen(rows: list[tuple[int, list]], widths: set[int]) -> None:
    """Rows read in slices as wide as the sheet, as calamine reads them whole (a slice's rows
    end at the slice's last column)."""
    if len(widths) > 1:
        width = max(widths)
        for _number, cells in rows:
            if len(cells) < width:
                cells.extend([None] * (width - len(cells)))


def _batches(sheet, start: tuple[int, int], size: int = 1_000) -> Iterator[tuple[int, int, list]]:
    """calamine's rows of a whole sheet, ``size`` at a time, from its first row (calamine gives
    the rows above its range as empty lists)."""
    rows = sheet.iter_rows()
    next(islice(rows, start[0], start[0]), None)
    first = start[0]
    while batch := list(islice(rows, size)):
        yield first, start[1], batch
        first += len(batch)


def _rows(parts: Iterator[tuple[int, int, list]], counter: _Counter) -> Iterator[tuple[int, list]]:
    """Rows as spreadsheet row numbers and values from column A (``None`` for empty), from
    ``parts`` of calamine's rows (0-based first row and column, rows); only the rows with a value
    are given. Numbers stay as calamine gives them (a whole number is a ``float``, equal to its
    ``int``): ``whole()`` turns one into an ``int`` where its type matters. Each part is walked
    row by row in C; Python only visits the rows with an empty cell."""
    max_rows = counter.limits.rows
    for first_row, first_col, values in parts:
        empties = list(map(list.count, values, repeat("")))
        for i in compress(count(), empties):
            cells, left = values[i], empties[i]
            if left == len(cells):
                values[i] = None              # an empty row: left out
                continue
            at = -1
            for _ in range(left):
                at = cells.index("", at + 1)
                cells[at] = None
        if first_col:                          # rows from column A
            values = [cells and [None] * first_col + cells for cells in values]
        kept = list(filter(itemgetter(1), zip(count(first_row + 1), values)))
        counter.rows += len(kept)
        if counter.rows > max_rows:
            raise counter.too_many_rows()
        if counter.count_text:
            for _number, cells in kept:
                counter.text_of(cells)
        yield from kept


def _measured(raw: RawSheet, sliced: SlicedSheet) -> None:
    """A sheet streamed without measure, read through: its merged ranges and last row."""
    raw.merged, raw.last_row = sliced.merged, sliced.last_row


def _guarded(rows: Iterator[tuple[int, list]], kind: str,
             done: Optional[Callable[[], None]] = None) -> Iterator[tuple[int, list]]:
    """The rest of a sheet's rows, calamine's failures on the way as ``FileProblem``; ``done``
    called once they are all read. A sheet streamed without measure found not plain on the way
    raises ``ReadAgain``."""
    try:
        yield from rows
        if done is not None:
            done()
    except FileProblem:
        raise
    except NotPlain:
        raise ReadAgain() from None
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
