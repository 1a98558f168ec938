"""A plain .xlsx sheet read by python-calamine in slices of rows, so that its memory stays bounded.

calamine builds a sheet as one dense grid from its first to its last cell, beside the list of
its cells: for 240,000 rows × 12 columns, 183 MB at its peak. A plain sheet (``prescan.
plain_check``: every cell placed by its own reference) keeps its cells' positions when it is cut
between two rows, so it is inflated chunk by chunk, cut after a ``</row>`` every ``SLICE_ROWS``
rows (or ``SLICE_BYTES`` of markup, more beside big shared strings), and each slice wrapped in a
minimal stored workbook — the file's styles and shared strings, its date system, the slice as
the only sheet — that calamine reads alone: its grid spans the slice's rows only
(``Range::from_sparse``: from the first to the last cell present). Each slice is certified
plain before calamine reads it.
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from typing import Iterator, Optional

from .prescan import CHUNK, Limits, Refused, _chunks, _Tail, _Text, damaged, plain_check

SLICE_ROWS = 20_000          #: rows of a slice at most (the rows of its grid, in a plain sheet)
SLICE_BYTES = 1 << 20        #: markup of a slice at most (some 2,400 rows of 12 cells): calamine
#: holds it twice, its cells, its grid, then Python its rows: some 20 MB in all

_ROW_R = re.compile(rb'<row r="([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]{1,3}([0-9]{1,7})(?::[A-Z]{1,3}([0-9]{1,7}))?"')
_NAME = "s"
_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxml'
         b'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
         b'openxmlformats.org/officeDocument/2006/relationships/%s" Target="%s"/></Relationships>')
_WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats'
             b'.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument'
             b'/2006/relationships"><workbookPr date1904="%d"/><sheets><sheet name="' + _NAME.encode()
             + b'" sheetId="1" r:id="rId1"/></sheets></workbook>')


class NotPlain(Exception):
    """The sheet is not plain after all: it is read whole, as any other."""


class Parts:
    """What every slice of a file's sheets shares: the file's styles, shared strings and date
    system (calamine looks for them beside ``workbook.xml``, whatever their case)."""

    def __init__(self, archive: zipfile.ZipFile, date1904: bool):
        found = {info.filename.lower(): info for info in archive.infolist()}
        self.shared = [(b"xl/" + part.encode(), archive.read(found[f"xl/{part.lower()}"]))
                       for part in ("styles.xml", "sharedStrings.xml") if f"xl/{part.lower()}" in found]
        #: calamine reads the shared strings with each slice: a slice is at least 4 times their
        #: size, so that they cost at most a quarter more (Excel writes every text so)
        self.slice_bytes = max([SLICE_BYTES, *(4 * len(xml) for name, xml in self.shared
                                               if name.endswith(b"sharedStrings.xml"))])
        self.head = [(b"_rels/.rels", _RELS % (b"officeDocument", b"xl/workbook.xml")),
                     (b"xl/workbook.xml", _WORKBOOK % date1904),
                     (b"xl/_rels/workbook.xml.rels", _RELS % (b"worksheet", b"worksheets/s.xml"))]

    def workbook(self, sheet: list[bytes]) -> bytes:
        """A stored zip of the parts and ``sheet`` (its pieces, joined once)."""
        return _stored_zip([*self.head, *self.shared, (b"xl/worksheets/s.xml", sheet)])


def _stored_zip(entries: list[tuple[bytes, object]]) -> bytes:
    out, central, offset = [], [], 0
    for name, content in entries:
        pieces = content if isinstance(content, list) else [content]
        crc, size = 0, 0
        for piece in pieces:
            crc, size = zlib.crc32(piece, crc), size + len(piece)
        fields = struct.pack("<HHHHHIIIH", 20, 0, 0, 0, 33, crc, size, size, len(name))
        out += [b"PK\x03\x04", fields, b"\0\0", name, *pieces]
        central += [b"PK\x01\x02\x14\x00", fields, b"\0" * 12, struct.pack("<I", offset), name]
        offset += 30 + len(name) + size
    directory = b"".join(central)
    out += [directory, b"PK\x05\x06\0\0\0\0", struct.pack("<HHIIH", len(entries), len(entries),
                                                          len(directory), offset, 0)]
    return b"".join(out)


class SlicedSheet:
    """A plain sheet's slices, each read by calamine: ``values()`` yields, slice after slice, the
    slice's first (row, column) and its rows (calamine's ``to_python()``, from that cell on, as
    wide as the slice). Once they are all read, ``merged`` and ``last_row`` are the sheet's.
    ``certify``: each slice is certified plain first (``NotPlain`` else), when the prescan has
    not already done it."""

    def __init__(self, data: bytes, path: str, name: str, parts: Parts, limits: Limits,
                 certify: bool):
        self.data, self.path, self.name, self.parts = data, path, name, parts
        self.limits, self.rows = limits, SLICE_ROWS
        self.plain = plain_check(limits.cells) if certify else None
        self.text = _Text(limits)
        self.tail = _Tail(name)
        self.merged: Optional[list] = None
        self.last_row = 0
        self.widths: set[int] = set()       #: each slice's rows end at its last column
        #: the last row the sheet's head declares (``<dimension>``; 0: none), known once its
        #: first slice is cut: what a sheet streamed without measure says before its rows end
        self.declared = 0

    def values(self) -> Iterator[tuple[tuple[int, int], list[list]]]:
        import python_calamine

        previous = -1
        for book in self._slices():
            grid = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(book)) \
                .get_sheet_by_name(_NAME)
            del book
            start, end = grid.start, grid.end
            if start is None or end is None:
                continue
            self.limits.check_grid(self.name, end[0], end[1])
            if start[0] <= previous:          # calamine would have merged it with a row above
                raise Refused(f"Feuille « {self.name} » : les lignes ne sont pas dans l'ordre : "
                              "enregistrez le fichier de nouveau depuis Excel ou LibreOffice.")
            previous = end[0]
            self.last_row = end[0] + 1
            self.widths.add(end[1] + 1)
            values = grid.to_python()
            del grid                           # calamine's grid goes before the rows are used
            yield start, values
        if self.merged is None:
            self.merged = self.tail.merged()
            if self.merged is None:
                raise NotPlain

    def _slices(self) -> Iterator[bytes]:
        """The sheet, slice by slice, each as a workbook of its own."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(self.data))
            with archive.open(self.path) as src:
                yield from self._cut(_headed(_chunks(src, self.text, after=b"</row>")))
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error):
            raise damaged() from None

    def _cut(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """Complete rows gathered into slices (the slice's markup dropped before it is read)."""
        root, carry, pieces, size, first, done = None, [], [], 0, 0, False
        for markup in chunks:
            if self.plain is not None and not self.plain(markup):
                raise NotPlain
            end = self.tail.feed(markup)
            if done:
                continue                       # after the rows: only the merged ranges matter
            done = end < len(markup)
            if root is None:
                root, start = _root(markup)
                found = _DIMENSION.search(markup, 0, start)
                if found:
                    self.declared = int(found.group(2) or found.group(1))
                markup, end = markup[start:], end - start
            at = markup.rfind(b"</row>", 0, end)
            if not done and at < 0:            # a row longer than a chunk: joined once ended
                carry.append(markup)
                continue
            cut = end if done else at + 6
            rows = b"".join([*carry, markup[:cut]]) if carry else markup[:cut]
            carry = [markup[cut:]] if cut < len(markup) else []
            while rows:
                if not pieces:
                    first = _row_number(rows, 0)
                room = self.parts.slice_bytes - size
                split = self._split(rows, first, room) or (0 if pieces else len(rows))
                pieces.append(rows[:split])
                size += split
                rows = rows[split:]
                if rows:                       # the slice is full
                    book, pieces, size = self._book(root, pieces), [], 0
                    yield book
        if pieces:
            book, pieces = self._book(root, pieces), []
            yield book

    def _book(self, root: bytes, pieces: list[bytes]) -> bytes:
        return self.parts.workbook([root, *pieces, b"</sheetData></worksheet>"])

    def _split(self, rows: bytes, first: int, room: int) -> int:
        """How much of ``rows`` (complete rows) the slice that starts at row ``first`` takes:
        the rows before the first one numbered ``first + self.rows`` or more, and before the
        first one that starts past ``room`` bytes."""
        limit = first + self.rows
        last = rows.rfind(b'<row r="')
        if len(rows) <= room and (last < 0 or _row_number(rows, last) < limit):
            return len(rows)
        for found in _ROW_R.finditer(rows):
            if int(found.group(1)) >= limit or found.start() > room:
                return found.start()
        at = rows.find(b"</row>", max(room, 0))     # rows without numbers: cut by size alone
        return at + 6 if at >= 0 else len(rows)


def _row_number(rows: bytes, at: int) -> int:
    """The number of the row written at ``at`` (0 when it has none)."""
    found = _ROW_R.search(rows, at)
    return int(found.group(1)) if found else 0


def _headed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, the first one holding the sheet's head up to ``<sheetData>`` whole (or 1 MB
    of head at most)."""
    head = b""
    for markup in chunks:
        if head is not None:
            head += markup
            if b"<sheetData" not in head and len(head) < CHUNK:
                continue
            markup, head = head, None
        yield markup
    if head:
        yield head


def _root(markup: bytes) -> tuple[bytes, int]:
    """The sheet's root start tag (its namespaces) and where the markup after ``<sheetData>``
    starts."""
    start, data = markup.find(b"<worksheet"), markup.find(b"<sheetData>")
    if data < 0 and b"<sheetData/>" in markup:
        data = markup.find(b"<sheetData/>") - 11     # no row at all
    if start < 0 or data < 0:
        raise NotPlain                        # a prefixed root, or an unusual head
    return markup[start: markup.index(b">", start) + 1] + b"<sheetData>", data + 11
