"""What a workbook would cost before python-calamine reads it, and what calamine cannot say.

calamine builds each sheet as one dense grid of every row and column between its first and its
last cell: a single cell at XFD1048576, or an ODS row repeated a million times, is billions of
cells. So every sheet is measured here first, in a streamed pass that never holds more than a
chunk, and refused with one French sentence past a limit (grid cells, columns, one cell's text,
the text of the whole file).

The same pass notes what calamine reads as an empty cell although the file says more: a formula
without a cached value (``NO_VALUE``) and an Excel error (``ExcelError``), per sheet and position.

- ``.xlsx``/``.xlsm``: each sheet is inflated chunk by chunk when it is read. A sheet written the
  usual way (every ``<c>`` led by an ``r="A1"``-style reference within Z99999, no formula, no
  error: ``plain``) is certified chunk by chunk by a few searches, and may then be read in slices
  of rows (``imports.slices``); any other sheet (prefixed tags, cells without references, wide or
  long sheets, formulas) is walked tag by tag the way calamine places cells.
- ``.ods``: ``content.xml`` is walked with expat the way calamine expands repeated rows and
  columns.
- ``.xls`` (BIFF8 in a compound file) and ``.xlsb``: their cell records are walked.

Text: a run of text longer than a cell may hold is refused as soon as it is seen; a sheet whose
cells would point at more shared-string text than the limit is refused (calamine copies a shared
string into each cell); whatever may still be over is counted while the rows are read.
"""
from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Optional
from xml.parsers import expat

CHUNK = 1 << 20
EXCEL_STRING_MAX = 32_767            #: Excel's own limit for the text of one cell
_RUN_REFUSE = 4 * EXCEL_STRING_MAX   #: bytes of text without markup: surely over the limit
_MAX_XML_COLUMNS = 16_384
_MAX_XML_ROWS = 1_048_576
_ROW_SLACK = 1_000                   #: title and blank rows a sheet may have beyond its data rows


class _NoValue:
    """A formula cell whose file holds no computed value."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value (``#DIV/0!``, ``#N/A``...) found in a cell."""

    code: str

    def __str__(self) -> str:
        return self.code


class Refused(Exception):
    """A limit was reached (the message is a French sentence); ``reader.FileProblem`` wraps it."""


@dataclass(frozen=True)
class Limits:
    """What one file may cost (the defaults are the configuration's)."""

    rows: int = 200_000
    unzipped_mb: int = 200
    cells: int = 5_000_000       #: cells of a sheet's grid, from A1 to its last row and column
    columns: int = 1_024
    text_mb: int = 64            #: characters of all the text cells read, counted once per cell
    string: int = EXCEL_STRING_MAX

    def too_many_cells(self, sheet: str, rows: int, columns: int) -> Refused:
        return Refused(f"La feuille « {sheet} » s'étend sur {rows:,} lignes × {columns:,} colonnes "
                       f"(au-delà de {self.cells:,} cellules) : supprimez les lignes et colonnes "
                       "vides en fin de feuille, ou découpez le fichier.".replace(",", "\u202f"))

    def too_many_columns(self, sheet: str, columns: int) -> Refused:
        return Refused(f"La feuille « {sheet} » a des cellules jusqu'à la colonne {columns:,} "
                       f"(au plus {self.columns:,} colonnes) : supprimez les colonnes inutiles."
                       .replace(",", "\u202f"))

    def string_too_long(self) -> Refused:
        return Refused(f"Une cellule du fichier dépasse {self.string:,} caractères (la limite "
                       "d'Excel) : fichier refusé.".replace(",", "\u202f"))

    def too_much_text(self) -> Refused:
        return Refused(f"Le texte du fichier dépasse {self.text_mb} millions de caractères : "
                       "découpez-le en plusieurs fichiers.")

    def too_far_down(self, sheet: str, rows: int) -> Refused:
        return Refused(f"La feuille « {sheet} » va jusqu'à la ligne {rows:,} (au plus {self.rows:,} "
                       "lignes) : supprimez les lignes vides en fin de feuille, ou découpez le fichier."
                       .replace(",", "\u202f"))

    def check_grid(self, sheet: str, last_row: int, last_col: int) -> None:
        """``last_row``/``last_col``: 0-based position of the sheet's last cell."""
        if last_col + 1 > self.columns:
            raise self.too_many_columns(sheet, last_col + 1)
        if last_row + 1 > self.rows + _ROW_SLACK:
            raise self.too_far_down(sheet, last_row + 1)
        if (last_row + 1) * (last_col + 1) > self.cells:
            raise self.too_many_cells(sheet, last_row + 1, last_col + 1)


@dataclass
class Prepared:
    """A workbook measured (or measured sheet by sheet as it is read) and ready for calamine."""

    data: bytes                                        #: what calamine reads
    marks: dict[str, dict[tuple[int, int], object]] = field(default_factory=dict)
    merged: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    date1904: bool = False
    count_text: bool = True      #: the text read must still be counted against ``text_mb``
    sheets: dict[str, str] = field(default_factory=dict)   #: .xlsx: worksheet name → its part
    #: .xlsx: worksheet name → its part's size, as the archive declares it (never more is read)
    sizes: dict[str, int] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)          #: .xlsx: the hidden worksheets
    #: .xlsx: measures one sheet when it is read (``_measure_sheet``)
    measure: Optional[Callable[[str, bool], "Measure"]] = None
    plain: dict[str, int] = field(default_factory=dict)  #: plain sheets measured → their last row
    measured: set[str] = field(default_factory=set)

    def sheet(self, name: str, certify: bool = True) -> None:
        """Measures sheet ``name`` (once); raises ``Refused`` past a limit. ``certify=False``:
        it is known not to be plain, walk it at once."""
        if self.measure is None or name in self.measured:
            return
        self.measured.add(name)
        found = self.measure(name, certify)
        if found.marks:
            self.marks[name] = found.marks
        if found.plain:
            self.plain[name] = found.last_row
            self.merged[name] = found.merged
        self.count_text = self.count_text or found.long


@dataclass
class Measure:
    """What the prescan found in one .xlsx sheet."""

    marks: dict                   #: formula cells without a value, error cells
    long: bool                    #: a run of text may be over a cell's limit: count each cell
    plain: bool = False           #: certified plain (``imports.slices`` may read it in slices)
    last_row: int = 0             #: plain: the row of its last cell (0: none)
    merged: list = field(default_factory=list)   #: plain: its merged ranges (r1, c1, r2, c2)


def damaged(kind: str = ".xlsx") -> Refused:
    return Refused(f"Le fichier est endommagé ou incomplet : enregistrez-le de nouveau au format {kind}.")


# --- .xlsx / .xlsm ------------------------------------------------------------------------------

_DATE1904 = re.compile(rb"""date1904\s*=\s*["'](?:1|true)["']""")


def plain_check(cells: int) -> Callable[[bytes], bool]:
    """Whether a chunk of a sheet's markup is plain: every ``<c`` led by a reference within column
    Z and the rows that keep 26 columns under ``cells`` (so that calamine's grid of the cells it
    holds, from its first to its last reference, stays under the limit), no prefixed cell, row or
    formula tag (which the search for ``<c`` would not see), no comment or CDATA (a ``</row>``
    inside one would be cut by a slice), no formula and no error value (``t="e"`` and a ``#``
    value, as Excel and LibreOffice write it: otherwise written, an error reads as an empty cell,
    which the file could hold anyway). One search of the chunk in C for each; the references:
    one regular expression."""
    rows = min(cells // 26, _MAX_XML_ROWS)
    if rows < 1:
        return lambda markup: False          # every sheet walked
    odd_cell = re.compile(rb'<c(?! r="[A-Z](?:%s)"[ />])[\s>/]' % _at_most(rows)).search
    formula, prefixed = _FORMULA.search, _PREFIXED.search

    def plain(markup: bytes) -> bool:
        # "#", ":" and "!" are rare in a sheet's cells: one pass in C each (memchr) spares
        # most chunks the slower searches for an error value (#N/A...), a prefix, a comment
        return not (odd_cell(markup) or formula(markup)
                    or (b"#" in markup and b't="e"' in markup)
                    or (b":" in markup and prefixed(markup))
                    or (b"!" in markup and b"<!" in markup))
    return plain


_FORMULA = re.compile(rb"<f[\s>/]")


def _at_most(n: int) -> bytes:
    """A regular expression of the decimal numbers from 0 to ``n`` (``192307``: ``[0-9]{1,5}|
    1[0-8][0-9]{4}|19[0-1][0-9]{3}|...|192307``), the shortest first (the usual rows)."""
    digits = str(n)
    ways = [b"[0-9]{1,%d}" % (len(digits) - 1) if len(digits) > 1 else b"0"]
    for i, top in enumerate(digits):
        low = 1 if i == 0 and len(digits) > 1 else 0
        if int(top) > low:
            ways.append(b"%s[%d-%d][0-9]{%d}" % (digits[:i].encode(), low, int(top) - 1,
                                                 len(digits) - i - 1))
    return b"|".join([*ways, digits.encode()])


_PREFIXED = re.compile(rb":(?:c|row|f)[\s>/]")
_TOKEN = re.compile(
    rb'<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c|f|v|is)(?=[\s/>])((?:[^>"\']|"[^"]*"|\'[^\']*\')*)>([^<]*)')
_ATTR_R = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ATTR_T = re.compile(rb"""(?:^|\s)t\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"\s*([A-Za-z]{1,3})([0-9]{1,7})\s*")


_TWIN = re.compile(r"_base[0-9]{1,3}")


def is_twin(name: str) -> bool:
    """A hidden sheet of this name is an older export's copy of a data sheet (``_base1``...,
    the values as exported, before the change history served as the merge's base): skipped
    unread, and its cells never measured."""
    return _TWIN.fullmatch(name) is not None



def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


class _Text:
    """Runs of text between tags, chunk after chunk: one longer than any cell may be is refused
    before it is complete."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.long = False             #: a run may hold a cell over the limit: count each cell

    def check(self, buf: bytes, end: int) -> None:
        """Every run of ``buf[:end]`` (complete markup) over 24 KB is measured."""
        step = 8_192
        p = 0
        while p + 2 * step <= end:
            if buf.find(b"<", p, p + 2 * step) < 0:
                start = buf.rfind(b"<", 0, p) + 1
                stop = buf.find(b"<", p, end)
                run = (stop if stop >= 0 else end) - start
                if run > _RUN_REFUSE:
                    raise self.limits.string_too_long()
                self.long = self.long or run > self.limits.string
                p = stop if stop >= 0 else end
            p += step

    def carry(self, rest: bytes) -> None:
        if len(rest) > _RUN_REFUSE:
            raise self.limits.string_too_long()
        self.long = self.long or len(rest) > self.limits.string


def _chunks(stream, text: _Text, after: bytes = b""):
    """Complete markup of ``stream``, chunk by chunk, cut before the last end tag of each (or
    after the last ``after`` tag, when there is one: then copied once)."""
    carry = b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            if carry:
                text.check(carry, len(carry))
                yield carry
            return
        cut = chunk.rfind(after) if after else -1
        if cut >= 0:
            cut += len(after)
            markup, carry = b"".join((carry, memoryview(chunk)[:cut])), chunk[cut:]
            text.check(markup, len(markup))
            yield markup
            text.carry(carry[carry.rfind(b"<") + 1:])    # markup, then maybe a run of text
            continue
        buf = carry + chunk
        # cut before an end tag: a start tag in the markup then has what follows it (or before
        # the last tag, when only empty elements follow the last end tag: merged ranges...)
        cut = buf.rfind(b"</")
        if cut <= 0 or len(buf) - cut > _RUN_REFUSE:
            cut = buf.rfind(b"<")
        if cut <= 0:
            carry = buf
            text.carry(carry)
            continue
        text.check(buf, cut)
        yield buf[:cut]
        carry = buf[cut:]
        text.carry(carry)


class _SheetWalk:
    """A worksheet's cells placed the way calamine places them (``xlsx/cells_reader.rs``, empty
    elements expanded): a cell's ``r`` gives its position, else the row's ``r`` (or the row after
    the previous one) and the column after the previous cell. Keeps the last row and column of
    the cells with a value or a formula, and the formula/error cells calamine reads as empty."""

    def __init__(self, name: str, limits: Limits):
        self.name, self.limits = name, limits
        self.row = self.col = 0
        self.last_row = self.last_col = -1
        self.marks: dict[tuple[int, int], object] = {}
        self.cell: Optional[list] = None       # [row, col, type, formula?, value text or None]

    def _illegible(self, what: str, raw: bytes) -> Refused:
        return Refused(f"Feuille « {self.name} » : {what} illisible ({raw[:20].decode('latin-1')!r}) : "
                       "enregistrez le fichier de nouveau depuis Excel ou LibreOffice.")

    def feed(self, markup: bytes) -> None:
        row, col, cell = self.row, self.col, self.cell
        last_row, last_col, marks = self.last_row, self.last_col, self.marks
        attr_r, attr_t, ref_match = _ATTR_R.search, _ATTR_T.search, _REF.fullmatch
        for close, name, attrs, text in _TOKEN.findall(markup):
            empty = attrs.endswith(b"/")
            if name == b"c":
                if not close:
                    found = attr_r(attrs)
                    if found:
                        raw = found.group(1) or found.group(2) or b""
                        ref = ref_match(raw)
                        if ref is None:
                            raise self._illegible("référence de cellule", raw)
                        row, col = int(ref.group(2)) - 1, _col_number(ref.group(1)) - 1
                        if row < 0 or row >= _MAX_XML_ROWS or col >= _MAX_XML_COLUMNS:
                            raise self._illegible("référence de cellule", raw)
                    if empty:
                        cell = None
                    else:
                        kind = attr_t(attrs)
                        cell = [row, col, (kind.group(1) or kind.group(2)) if kind else b"n", False, None]
                    col += 1
                elif cell is not None:
                    r, c, kind, formula, value = cell
                    cell = None
                    if formula and value is None:
                        marks[(r, c)] = NO_VALUE
                    elif kind == b"e" and value:
                        marks[(r, c)] = ExcelError(value.decode("utf-8", "replace"))
            elif name == b"row":
                if not close:
                    found = attr_r(attrs)
                    if found:
                        raw = (found.group(1) or found.group(2) or b"").strip()
                        if not raw.isdigit() or not 0 < int(raw) <= _MAX_XML_ROWS:
                            raise self._illegible("numéro de ligne", raw)
                        row = int(raw) - 1
                if close or empty:
                    row += 1
                    col = 0
            elif cell is not None and not close:
                if name == b"f":
                    cell[3] = True
                elif name == b"is" or (not empty and text.strip()):
                    cell[4] = text.strip() or b" "
                else:
                    continue
                if cell[0] > last_row:
                    last_row = cell[0]
                if cell[1] > last_col:
                    last_col = cell[1]
        self.row, self.col, self.cell = row, col, cell
        self.last_row, self.last_col = last_row, last_col
        if last_row >= 0:
            self.limits.check_grid(self.name, last_row, last_col)


def _workbook_sheets(archive: zipfile.ZipFile) -> tuple[dict[str, str], bool, set[str]]:
    """Worksheet part → sheet name (in the workbook's order; chart and dialog sheets left out, as
    calamine lists them apart), whether dates count from 1904, and the hidden sheets' names."""
    try:
        book = archive.read("xl/workbook.xml") if "xl/workbook.xml" in archive.namelist() else b""
        rels = archive.read("xl/_rels/workbook.xml.rels") \
            if "xl/_rels/workbook.xml.rels" in archive.namelist() else b""
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, RuntimeError):
        raise damaged() from None
    targets = {}
    for m in re.finditer(rb"<(?:\w+:)?Relationship\b([^>]*)>", rels):
        rid = re.search(rb"""\bId\s*=\s*["']([^"']*)""", m.group(1))
        target = re.search(rb"""\bTarget\s*=\s*["']([^"']*)""", m.group(1))
        kind = re.search(rb"""\bType\s*=\s*["'][^"']*/(\w+)["']""", m.group(1))
        if rid and target and not (kind and kind.group(1) in (b"chartsheet", b"dialogsheet")):
            path = target.group(1).decode("utf-8", "replace")
            path = path.lstrip("/") if path.startswith("/") else posixpath.normpath("xl/" + path)
            targets[rid.group(1)] = path
    names, hidden = {}, set()
    for m in re.finditer(rb"<(?:\w+:)?sheet\b([^>]*)>", book):
        name = re.search(rb"""\bname\s*=\s*["']([^"']*)""", m.group(1))
        rid = re.search(rb"""\b(?:\w+:)?id\s*=\s*["']([^"']*)""", m.group(1))
        if name and rid and rid.group(1) in targets:
            names[targets[rid.group(1)]] = text = _unescape(name.group(1).decode("utf-8", "replace"))
            if re.search(rb"""\bstate\s*=\s*["'](?:hidden|veryHidden)""", m.group(1)):
                hidden.add(text)
    return names, bool(_DATE1904.search(book)), hidden


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def prepare_xlsx(data: bytes, archive: zipfile.ZipFile, limits: Limits) -> Prepared:
    """Shared strings measured now (calamine reads them with any sheet); each sheet measured when
    it is read (``Prepared.sheet``), or certified slice by slice as it is read (``imports.slices``)."""

    sheets, date1904, hidden = _workbook_sheets(archive)
    infos = {info.filename: info for info in archive.infolist()}
    listed = {name: path for path, name in sheets.items()
              if path in infos and not (name in hidden and is_twin(name))}   # never read
    prepared = Prepared(data, date1904=date1904, count_text=False, sheets=listed,
                        hidden=hidden & set(listed),
                        sizes={name: infos[path].file_size for name, path in listed.items()})
    sheet_bytes = sum(infos[path].file_size for path in sheets if path in infos)
    shared_longest = 0
    try:
        for info in infos.values():
            if info.filename.endswith("sharedStrings.xml"):
                with archive.open(info) as src:
                    for markup in _chunks(src, _Text(limits)):
                        shared_longest = max(shared_longest, max(map(len, markup.split(b"<"))))
        # calamine copies a shared string into every cell that points at it: the text it builds
        # is at most the sheets' own bytes plus each cell's (≥ 15 bytes) longest shared string,
        # or when that bound is over the limit, counted exactly
        budget = limits.text_mb * 1_000_000
        if sheet_bytes + (sheet_bytes // 15) * shared_longest > budget:
            _count_shared(archive, sheets, limits, budget - sheet_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib_error()):
        raise damaged() from None
    prepared.count_text = shared_longest > limits.string
    prepared.measure = lambda name, certify: _measure_sheet(data, listed[name], name, limits, certify)
    return prepared


def _measure_sheet(data: bytes, path: str, name: str, limits: Limits, certify: bool = True) -> Measure:
    """One sheet certified plain (its last row and merged ranges noted), or else walked tag by
    tag (``certify=False``: walked at once)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if certify:
            text, plain, tail = _Text(limits), plain_check(limits.cells), _Tail(name)
            with archive.open(path) as src:
                for markup in _chunks(src, text):
                    if not plain(markup):
                        break
                    tail.feed(markup)
                else:
                    merged = tail.merged()
                    if merged is not None:
                        return Measure({}, text.long, True, tail.last_row, merged)
        walk, text, tail = _SheetWalk(name, limits), _Text(limits), _Tail(name)
        with archive.open(path) as src:
            for markup in _chunks(src, text):
                walk.feed(markup)
                tail.feed(markup)             # calamine lists every merged range: counted
        return Measure(walk.marks, text.long)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib_error()):
        raise damaged() from None


_LAST_REF = re.compile(rb'<c r="[A-Z]+([0-9]+)"')
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]{1,3})([0-9]{1,7})(?::([A-Z]{1,3})([0-9]{1,7}))?"\s*/>')


MAX_MERGED = 100_000      #: merged ranges of a sheet (calamine and Python hold each one)


class _Tail:
    """A plain sheet's last row (its last cell's, which a plain sheet writes last) and its merged
    ranges (after its cells, ``</sheetData>`` on; refused past ``MAX_MERGED``), chunk by chunk
    (a chunk never cuts a tag)."""

    def __init__(self, name: str):
        self.name, self.last_row, self.merges = name, 0, 0
        self.found: list[tuple[int, int, int, int]] = []
        self.usual, self.after = True, False

    def feed(self, markup: bytes) -> int:
        """Where the cells end in ``markup`` (``len(markup)``: not in it; 0: before it)."""
        if self.after:
            self._take(markup)
            return 0
        end = markup.find(b"</sheetData>")
        if end < 0 and not self.last_row:    # before the first cell: maybe no cell at all
            end = markup.find(b"<sheetData/>")
        if end >= 0:
            self.after = True
            self._take(markup[end:])
        else:
            end = len(markup)
        last = markup.rfind(b'<c r="', 0, end)
        found = _LAST_REF.match(markup, last) if last >= 0 else None
        if found:
            self.last_row = int(found.group(1))
        return end

    def _take(self, markup: bytes) -> None:
        merges = markup.count(b"mergeCell ") + markup.count(b"mergeCell\t") \
            + markup.count(b"mergeCell\n")
        if not merges:
            return
        self.merges += merges
        if self.merges > MAX_MERGED:
            most = f"{MAX_MERGED:,}".replace(",", "\u202f")
            raise Refused(f"La feuille « {self.name} » a plus de {most} plages de cellules "
                          "fusionnées : défusionnez-les, puis importez le fichier de nouveau.")
        found = _MERGE.findall(markup)
        self.usual = self.usual and len(found) == merges
        self.found += [(int(r1), _col_number(c1), int(r2 or r1), _col_number(c2 or c1))
                       for c1, r1, c2, r2 in found]

    def merged(self) -> Optional[list[tuple[int, int, int, int]]]:
        """The merged ranges, as calamine gives them; ``None`` when one is not written the
        usual way (the sheet is then walked and read whole)."""
        return self.found if self.usual else None


_SHARED_CELL = re.compile(
    rb"""\st\s*=\s*["']s["'](?:[^>"']|"[^"]*"|'[^']*')*>\s*<(?:[\w.\-]+:)?v>\s*([0-9]{1,10})""")


def _shared_lengths(archive: zipfile.ZipFile) -> list[int]:
    """The length of each shared string (all its text runs)."""
    path = next((n for n in archive.namelist() if n.endswith("sharedStrings.xml")), None)
    lengths: list[int] = []
    if path is None:
        return lengths
    state = {"depth": 0, "n": 0}

    def start(tag, _attrs):
        if tag.rsplit(":", 1)[-1] == "si":
            state["depth"], state["n"] = 1, 0

    def end(tag):
        if tag.rsplit(":", 1)[-1] == "si":
            lengths.append(state["n"])
            state["depth"] = 0

    def chars(text):
        if state["depth"]:
            state["n"] += len(text)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = chars
    try:
        with archive.open(path) as src:
            while chunk := src.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError:
        raise damaged() from None
    return lengths


def _count_shared(archive: zipfile.ZipFile, sheets: dict[str, str], limits: Limits, budget: int) -> None:
    """Refuses the file when its cells point at more shared text than ``budget`` characters."""
    lengths = _shared_lengths(archive)
    n = len(lengths)
    total = 0
    for path in sheets:
        with archive.open(path) as src:
            for markup in _chunks(src, _Text(limits)):
                total += sum(lengths[i] for i in map(int, _SHARED_CELL.findall(markup)) if i < n)
                if total > budget:
                    raise limits.too_much_text()


def zlib_error():
    import zlib

    return zlib.error


# --- .ods -----------------------------------------------------------------------------------------



class _OdsWalk:
    """``content.xml`` expanded the way calamine expands it (``ods.rs``: repeated rows and
    columns capped at 1,048,576 × 16,384, trailing empty cells dropped), counted, not built."""

    def __init__(self, limits: Limits, prepared: Prepared):
        self.limits, self.prepared = limits, prepared
        self.table: Optional[str] = None
        self.text_total = 0
        self.note = 0                 # depth inside an office:annotation (calamine skips them)
        self.cell: Optional[dict] = None

    def start(self, tag: str, attrs: dict) -> None:
        if self.note:
            self.note += 1
        elif tag == "table:table":
            self.table = attrs.get("table:name", "Feuille")
            self.row = 0              # absolute row of the next row element
            self.pushed = 0           # cells calamine collects before it repeats rows
            self.last_row = self.last_col = -1
        elif self.table is None:
            if tag == "table:null-date" and attrs.get("table:date-value", "").startswith("1904"):
                self.prepared.date1904 = True
        elif tag == "table:table-row":
            repeat = self._int(attrs.get("table:number-rows-repeated", "1"))
            self.repeat = max(0, min(repeat, _MAX_XML_ROWS - self.row))
            self.col = self.pending = self.row_text = 0
        elif tag in ("table:table-cell", "table:covered-table-cell"):
            # calamine keeps a cell's formula beside its value, repeated like it
            text = len(attrs.get("table:formula", "")) + len(attrs.get("office:string-value", ""))
            self._check_string(text)
            self.cell = {"repeat": self._int(attrs.get("table:number-columns-repeated", "1")),
                         "attrs": attrs, "text": text, "content": False, "chars": []}
        elif tag == "office:annotation":
            self.note = 1
        elif self.cell is not None:
            self.cell["content"] = True
            if tag == "text:s":
                self.cell["text"] += self._int(attrs.get("text:c", "1"))
                self._check_string(self.cell["text"])

    def end(self, tag: str) -> None:
        if self.note:
            self.note -= 1
        elif self.table is None:
            return
        elif tag in ("table:table-cell", "table:covered-table-cell") and self.cell is not None:
            self._cell_end(self.cell)
            self.cell = None
        elif tag == "table:table-row":
            self.pushed += self.col
            if self.pushed > self.limits.cells:
                raise self.limits.too_many_cells(self.table, self.row + 1, self.col)
            self.row += self.repeat
            self.text_total += self.row_text * self.repeat
            if self.text_total > self.limits.text_mb * 1_000_000:
                raise self.limits.too_much_text()
        elif tag == "table:table":
            self.table = None

    def chars(self, data: str) -> None:
        cell = self.cell
        if cell is not None and not self.note:
            cell["text"] += len(data)
            self._check_string(cell["text"])
            if cell["text"] <= 64:
                cell["chars"].append(data)

    def _cell_end(self, cell: dict) -> None:
        attrs = cell["attrs"]
        # calamine pushes the empty cells met before this one, and drops a row's trailing ones
        self.col += min(self.pending, _MAX_XML_COLUMNS - self.col)
        self.pending = 0
        repeat = min(cell["repeat"], _MAX_XML_COLUMNS - self.col)
        valued = any(k.startswith("office:") and k.endswith("value") for k in attrs)
        if not (valued or cell["content"] or "table:formula" in attrs):
            self.pending = repeat
            return
        first, row = self.col, self.row
        self.col += repeat
        if not self.repeat or not repeat:
            return
        self.last_row = max(self.last_row, row + self.repeat - 1)
        self.last_col = max(self.last_col, self.col - 1)
        self.limits.check_grid(self.table, self.last_row, self.last_col)
        self.row_text += cell["text"] * repeat
        span = self._int(attrs.get("table:number-columns-spanned", "1"))
        rows = self._int(attrs.get("table:number-rows-spanned", "1"))
        if span > 1 or rows > 1:
            self.prepared.merged.setdefault(self.table, []).append(
                (row + 1, first + 1, row + rows, first + span))
        mark = None
        if attrs.get("calcext:value-type") == "error":
            mark = ExcelError("".join(cell["chars"]).strip() or "#ERREUR")
        elif "table:formula" in attrs and not valued:
            mark = NO_VALUE
        if mark is not None and repeat * self.repeat <= 1024:
            marks = self.prepared.marks.setdefault(self.table, {})
            for r in range(row, row + self.repeat):
                for c in range(first, self.col):
                    marks[(r, c)] = mark

    def _check_string(self, length: int) -> None:
        if length > self.limits.string:
            raise self.limits.string_too_long()

    @staticmethod
    def _int(raw: str) -> int:
        if not re.fullmatch(r"\s*[0-9]{1,12}\s*", raw):
            raise Refused(f"Le fichier .ods contient un nombre illisible ({raw[:20]!r}) là où "
                          "LibreOffice écrit un nombre de répétitions : enregistrez-le de nouveau "
                          "depuis LibreOffice.")
        return int(raw)


def prepare_ods(data: bytes, archive: zipfile.ZipFile, limits: Limits) -> Prepared:
    prepared = Prepared(data, count_text=False)
    walk = _OdsWalk(limits, prepared)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = walk.start
    parser.EndElementHandler = walk.end
    parser.CharacterDataHandler = walk.chars
    try:
        with archive.open("content.xml") as src:
            while chunk := src.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, KeyError, RuntimeError,
            zlib_error()):
        raise damaged(".ods") from None
    return prepared


# --- .xls (BIFF8 in a compound file) -------------------------------------------------------------

_XLS_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?",
               0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
_XLS_CELLS = {0x0203, 0x027E, 0x00FD, 0x0204, 0x00D6, 0x0205, 0x0006}


def _cfb_stream(data: bytes, wanted: tuple[str, ...]) -> bytes:
    """One stream of an OLE2 compound file (the ``Workbook`` of an .xls)."""
    bad = damaged(".xls")
    if len(data) < 512:
        raise bad
    shift, mini_shift = struct.unpack_from("<HH", data, 30)
    if shift not in (9, 12) or mini_shift != 6:
        raise bad
    size = 1 << shift
    n_sectors = max(0, (len(data) - 512) // size)
    n_fat, first_dir, _, cutoff, first_mini, n_mini, first_difat, n_difat = struct.unpack_from(
        "<IIIIIIII", data, 44)

    def sector(i: int) -> bytes:
        if i >= n_sectors:
            raise bad
        return data[512 + i * size: 512 + (i + 1) * size]

    difat = list(struct.unpack_from("<109I", data, 76))
    nxt = first_difat
    for _ in range(min(n_difat, n_sectors)):
        if nxt >= n_sectors:
            break
        entries = struct.unpack(f"<{size // 4}I", sector(nxt))
        difat.extend(entries[:-1])
        nxt = entries[-1]
    fat: list[int] = []
    for i in difat[:n_fat]:
        if i < n_sectors:
            fat.extend(struct.unpack(f"<{size // 4}I", sector(i)))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        out, seen = [], set()
        while start < 0xFFFFFFFA:
            if start in seen or start >= limit or start >= len(table):
                raise bad
            seen.add(start)
            out.append(start)
            start = table[start]
        return out

    directory = b"".join(sector(i) for i in chain(first_dir, fat, n_sectors))
    entries = []
    for pos in range(0, len(directory) - 127, 128):
        length, kind = struct.unpack_from("<HB", directory, pos + 64)
        name = directory[pos: pos + max(0, min(length, 64) - 2)].decode("utf-16-le", "replace")
        start, stream_size = struct.unpack_from("<II", directory, pos + 116)
        entries.append((name, kind, start, stream_size))
    if not entries:
        raise bad
    found = next((e for e in entries if e[1] == 2 and e[0] in wanted), None)
    if found is None:
        raise Refused("Ce fichier .xls ne contient pas de classeur Excel lisible.")
    _name, _kind, start, stream_size = found
    if stream_size >= cutoff:
        blob = b"".join(sector(i) for i in chain(start, fat, n_sectors))
        return blob[:stream_size]
    root = entries[0]
    mini_data = b"".join(sector(i) for i in chain(root[2], fat, n_sectors))
    minifat: list[int] = []
    for i in chain(first_mini, fat, n_sectors)[:max(n_mini, 0) or None]:
        minifat.extend(struct.unpack(f"<{size // 4}I", sector(i)))
    blob = b"".join(mini_data[i * 64:(i + 1) * 64] for i in chain(start, minifat, len(mini_data) // 64))
    return blob[:stream_size]


def _sst_lengths(segments: list[bytes]) -> list[int]:
    """The length of each string of an SST record and its CONTINUE records (character data may
    go on in the next record, which then starts with its own flags byte)."""
    lengths: list[int] = []
    k, o = 0, 8                                   # after cstTotal and cstUnique
    try:
        count = struct.unpack_from("<I", segments[0], 4)[0]
        for _ in range(count):
            if o >= len(segments[k]):
                k, o = k + 1, 0
                if k >= len(segments):
                    break
            seg = segments[k]
            cch, flags = struct.unpack_from("<HB", seg, o)
            o += 3
            runs = struct.unpack_from("<H", seg, o)[0] if flags & 0x8 else 0
            o += 2 if flags & 0x8 else 0
            ext = struct.unpack_from("<I", seg, o)[0] if flags & 0x4 else 0
            o += 4 if flags & 0x4 else 0
            left, wide = cch, flags & 0x1
            while left:
                take = min(left, (len(segments[k]) - o) // (2 if wide else 1))
                o += take * (2 if wide else 1)
                left -= take
                if left:
                    k += 1
                    if k >= len(segments):
                        raise IndexError
                    wide, o = segments[k][0] & 0x1, 1
            skip = 4 * runs + ext
            while skip:
                take = min(skip, len(segments[k]) - o)
                o += take
                skip -= take
                if skip:
                    k, o = k + 1, 0
                    if k >= len(segments):
                        raise IndexError
            lengths.append(cch)
    except (struct.error, IndexError):
        raise damaged(".xls") from None
    return lengths


def prepare_xls(data: bytes, limits: Limits) -> Prepared:
    stream = _cfb_stream(data, ("Workbook", "Book"))
    prepared = Prepared(data)
    names: dict[int, str] = {}
    pos, n = 0, len(stream)
    sheet: Optional[str] = None
    last_row = last_col = -1
    marks: dict = {}
    shared: list[int] = []
    text, budget = 0, limits.text_mb * 1_000_000
    while pos + 4 <= n:
        rtype, size = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        if rtype == 0x00FC:                       # SST (+ CONTINUE): shared strings' lengths
            segments, q = [stream[body: body + size]], body + size
            while q + 4 <= n and struct.unpack_from("<H", stream, q)[0] == 0x003C:
                more = struct.unpack_from("<H", stream, q + 2)[0]
                segments.append(stream[q + 4: q + 4 + more])
                q += 4 + more
            shared = _sst_lengths(segments)
        elif rtype == 0x00FD and size >= 10 and sheet is not None:   # LABELSST: calamine copies
            isst = struct.unpack_from("<I", stream, body + 6)[0]     # the string into the cell
            text += shared[isst] if isst < len(shared) else 0
            if text > budget:
                raise limits.too_much_text()
        if rtype == 0x0809:                       # BOF
            kind = struct.unpack_from("<H", stream, body + 2)[0] if size >= 4 else 0
            if kind == 0x0010:
                sheet = names.get(pos, f"Feuille {len(names) + 1}")
                last_row = last_col = -1
                marks = {}
        elif rtype == 0x000A:                     # EOF
            if sheet is not None and marks:
                prepared.marks[sheet] = marks
            sheet = None
        elif rtype == 0x002F:                     # FILEPASS
            raise Refused("Le classeur est protégé par un mot de passe : enregistrez-le sans "
                          "mot de passe puis importez-le de nouveau.")
        elif rtype == 0x0022 and size >= 2:       # DATEMODE
            prepared.date1904 = struct.unpack_from("<H", stream, body)[0] == 1
        elif rtype == 0x0085 and size >= 8:       # BOUNDSHEET: where each sheet starts, its name
            offset = struct.unpack_from("<I", stream, body)[0]
            length, flags = stream[body + 6], stream[body + 7]
            raw = stream[body + 8: body + 8 + length * (2 if flags & 1 else 1)]
            names[offset] = raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
        elif sheet is not None and size >= 4 and (rtype in _XLS_CELLS or rtype == 0x00BD):
            row, col = struct.unpack_from("<HH", stream, body)
            if rtype == 0x00BD and size >= 6:     # MULRK: first column … last column
                col = struct.unpack_from("<H", stream, body + size - 2)[0]
            last_row, last_col = max(last_row, row), max(last_col, col)
            limits.check_grid(sheet, last_row, last_col)
            error = None
            if rtype == 0x0205 and size >= 8 and stream[body + 7] == 1:
                error = stream[body + 6]
            elif rtype == 0x0006 and size >= 14 and stream[body + 6] == 2 \
                    and stream[body + 12: body + 14] == b"\xff\xff":
                error = stream[body + 8]
            if error is not None:
                marks[(row, col)] = ExcelError(_XLS_ERRORS.get(error, "#ERREUR"))
        pos = body + size
    return prepared


# --- .xlsb --------------------------------------------------------------------------------------

_XLSB_CELLS = {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B}


def _records(blob: bytes, limits: Limits):
    pos, n = 0, len(blob)
    while pos < n:
        rtype = blob[pos]
        pos += 1
        if rtype & 0x80:
            if pos >= n:
                raise damaged(".xlsb")
            rtype = (rtype & 0x7F) | ((blob[pos] & 0x7F) << 7)
            pos += 1
        size, shift = 0, 0
        for _ in range(4):
            if pos >= n:
                raise damaged(".xlsb")
            byte = blob[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if size > 8 * EXCEL_STRING_MAX:
            raise limits.string_too_long()
        yield rtype, blob[pos: pos + size]
        pos += size


def prepare_xlsb(data: bytes, archive: zipfile.ZipFile, limits: Limits) -> Prepared:
    prepared = Prepared(data)
    try:
        rels = archive.read("xl/_rels/workbook.bin.rels")
        book = archive.read("xl/workbook.bin")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib_error()):
        raise damaged(".xlsb") from None
    targets = {}
    for m in re.finditer(rb"<(?:\w+:)?Relationship\b([^>]*)>", rels):
        rid = re.search(rb"""\bId\s*=\s*["']([^"']*)""", m.group(1))
        target = re.search(rb"""\bTarget\s*=\s*["']([^"']*)""", m.group(1))
        if rid and target:
            path = target.group(1).decode("utf-8", "replace")
            targets[rid.group(1).decode()] = path.lstrip("/") if path.startswith("/") \
                else posixpath.normpath("xl/" + path)
    shared: list[int] = []
    if "xl/sharedStrings.bin" in archive.namelist():
        try:
            strings = archive.read("xl/sharedStrings.bin")
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib_error()):
            raise damaged(".xlsb") from None
        shared = [struct.unpack_from("<I", body, 1)[0] for rtype, body in _records(strings, limits)
                  if rtype == 0x13 and len(body) >= 5]          # BrtSSTItem: flags, cch
        del strings
    text, budget = 0, limits.text_mb * 1_000_000
    sheets = {}
    for rtype, body in _records(book, limits):
        if rtype == 0x0099 and len(body) >= 4:            # BrtWbProp
            prepared.date1904 = bool(struct.unpack_from("<I", body)[0] & 1)
        elif rtype == 0x009C and len(body) >= 12:         # BrtBundleSh
            try:
                cch = struct.unpack_from("<I", body, 8)[0]
                rid = body[12: 12 + 2 * cch].decode("utf-16-le")
                cch2 = struct.unpack_from("<I", body, 12 + 2 * cch)[0]
                name = body[16 + 2 * cch: 16 + 2 * cch + 2 * cch2].decode("utf-16-le")
            except (struct.error, UnicodeDecodeError):
                raise damaged(".xlsb") from None
            if rid in targets:
                sheets[targets[rid]] = name
    for path, name in sheets.items():
        try:
            blob = archive.read(path)
        except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib_error()):
            raise damaged(".xlsb") from None
        row, last_row, last_col, marks = 0, -1, -1, {}
        for rtype, body in _records(blob, limits):
            if rtype == 0x0000 and len(body) >= 4:         # BrtRowHdr
                row = struct.unpack_from("<I", body)[0]
            elif rtype in _XLSB_CELLS and len(body) >= 4:
                col = struct.unpack_from("<I", body)[0]
                last_row, last_col = max(last_row, row), max(last_col, col)
                limits.check_grid(name, last_row, last_col)
                if rtype in (0x03, 0x0B) and len(body) >= 9:
                    marks[(row, col)] = ExcelError(_XLS_ERRORS.get(body[8], "#ERREUR"))
                elif rtype == 0x07 and len(body) >= 12:        # BrtCellIsst: a shared string
                    isst = struct.unpack_from("<I", body, 8)[0]
                    text += shared[isst] if isst < len(shared) else 0
                    if text > budget:
                        raise limits.too_much_text()
        if marks:
            prepared.marks[name] = marks
    return prepared
