"""The .xlsx/.xlsm reader: workbook, shared strings, styles and sheets parsed with expat in
one streaming pass (a formula gives its cached value, or ``NO_VALUE`` when none is stored)."""
from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from typing import IO, Optional
from xml.parsers import expat

from .reader import NO_VALUE, ExcelError, FileProblem, RawSheet, col_index

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_EXCEL_EPOCH_1904 = dt.datetime(1904, 1, 1)
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_DIGITS = "0123456789"
_DATE_FORMAT_IDS = set(range(14, 23)) | set(range(45, 48)) | set(range(27, 37)) | set(range(50, 59))


class XlsxReader:
    """An .xlsx/.xlsm workbook read from its XML parts."""

    def __init__(self, archive: zipfile.ZipFile, max_rows: int):
        self.archive, self.max_rows = archive, max_rows
        self.rows_seen = 0

    def _part(self, name: str) -> Optional[IO[bytes]]:
        try:
            return self.archive.open(name)
        except KeyError:
            return None
        except (zipfile.BadZipFile, OSError, EOFError):
            raise FileProblem("Le fichier est endommagé ou incomplet : enregistrez-le de nouveau "
                              "au format .xlsx.") from None

    def _parse(self, name: str, start, end=None, chars=None) -> None:
        stream = self._part(name)
        if stream is None:
            return
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = start
        if end:
            parser.EndElementHandler = end
        if chars:
            parser.CharacterDataHandler = chars
        try:
            parser.ParseFile(stream)
        except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError):
            raise FileProblem("Le fichier est endommagé ou incomplet (contenu XML illisible) : "
                              "enregistrez-le de nouveau au format .xlsx.") from None

    def sheets(self) -> list[RawSheet]:
        listed, epoch = self._workbook()
        shared = self._shared_strings()
        date_styles = self._date_styles()
        out = []
        for name, path, hidden in listed:
            sheet = RawSheet(name, hidden=hidden)
            _SheetParser(self, sheet, shared, date_styles, epoch).run(path)
            out.append(sheet)
        return out

    def _workbook(self):
        sheets, rels, epoch = [], {}, [_EXCEL_EPOCH]

        def wb_start(tag, attrs):
            if tag.endswith("sheet") and "name" in attrs:
                rid = next((v for k, v in attrs.items() if k.endswith("id") and k != "sheetId"), None)
                sheets.append((attrs["name"], rid, attrs.get("state", "visible") != "visible"))
            elif tag.endswith("workbookPr") and attrs.get("date1904") in ("1", "true"):
                epoch[0] = _EXCEL_EPOCH_1904

        def rel_start(tag, attrs):
            if tag.endswith("Relationship"):
                rels[attrs.get("Id")] = attrs.get("Target", "")

        self._parse("xl/workbook.xml", wb_start)
        self._parse("xl/_rels/workbook.xml.rels", rel_start)
        listed = []
        for name, rid, hidden in sheets:
            target = rels.get(rid, "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
            listed.append((name, path, hidden))
        return listed, epoch[0]

    def _shared_strings(self) -> list[str]:
        strings: list[str] = []
        state = {"buf": [], "skip": 0, "in_t": False}

        def start(tag, attrs):
            if tag == "si":
                state["buf"] = []
            elif tag == "rPh":
                state["skip"] += 1
            elif tag == "t" and not state["skip"]:
                state["in_t"] = True

        def end(tag):
            if tag == "si":
                strings.append("".join(state["buf"]))
            elif tag == "rPh":
                state["skip"] -= 1
            elif tag == "t":
                state["in_t"] = False

        def chars(text):
            if state["in_t"]:
                state["buf"].append(text)

        self._parse("xl/sharedStrings.xml", start, end, chars)
        return strings

    def _date_styles(self) -> set[int]:
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_xfs": False}

        def start(tag, attrs):
            if tag == "numFmt":
                custom[int(attrs.get("numFmtId", 0))] = attrs.get("formatCode", "")
            elif tag == "cellXfs":
                state["in_xfs"] = True
            elif tag == "xf" and state["in_xfs"]:
                xfs.append(int(attrs.get("numFmtId", 0)))

        def end(tag):
            if tag == "cellXfs":
                state["in_xfs"] = False

        self._parse("xl/styles.xml", start, end)
        return {i for i, fmt_id in enumerate(xfs)
                if fmt_id in _DATE_FORMAT_IDS or (fmt_id in custom and _is_date_format(custom[fmt_id]))}


def _is_date_format(code: str) -> bool:
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", code).lower()
    return bool(re.search(r"[dmy]", code)) and "general" not in code


class _SheetParser:
    """Streams one worksheet's XML into ``RawSheet.rows``.

    The expat handlers are closures over local state (a million cells is two million calls):
    no attribute look-ups, the column of a cell reference's letters computed once.
    """

    def __init__(self, reader: XlsxReader, sheet: RawSheet, shared, date_styles, epoch):
        self.reader, self.sheet, self.shared = reader, sheet, shared
        self.date_styles, self.epoch = date_styles, epoch

    def run(self, path: str) -> None:
        reader, sheet, shared = self.reader, self.sheet, self.shared
        date_styles, epoch = self.date_styles, self.epoch
        rows, merged, n_shared = sheet.rows, sheet.merged, len(shared)
        columns: dict[str, int] = {}            # letters of a cell reference → column
        row: dict[int, object] = {}
        row_num = col = 0
        kind: Optional[str] = None              # the cell being read (``None``: outside one)
        style, formula, raw, inline = 0, False, None, None
        buf: list[str] = []
        collect = False

        def value():
            if kind == "s":
                return shared[int(raw)] if raw is not None and raw.isdigit() and int(raw) < n_shared else None
            if kind == "inlineStr":
                return inline
            if kind == "str":
                return raw if raw is not None else (NO_VALUE if formula else None)
            if raw is None or raw == "":
                return NO_VALUE if formula else None
            if kind == "b":
                return raw.strip() in ("1", "true")
            if kind == "e":
                return ExcelError(raw)
            try:
                number = float(raw)
            except ValueError:
                return raw
            if style in date_styles and 0 <= number < 2958466:
                return epoch + dt.timedelta(days=number)
            return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number

        def start(tag, attrs):
            nonlocal row, row_num, col, kind, style, formula, raw, inline, buf, collect
            if tag == "c":
                ref = attrs.get("r")
                if ref:
                    letters = ref.rstrip(_DIGITS)
                    found = columns.get(letters)
                    if found is None:
                        match = _CELL_REF.match(ref)
                        found = col_index(match.group(1)) if match else col + 1
                        if match and match.group(1) == letters:
                            columns[letters] = found
                    col = found
                else:
                    col += 1
                kind = attrs.get("t", "n")
                number = attrs.get("s")
                style = int(number) if number else 0
                formula, raw, inline = False, None, None
            elif tag == "v" or tag == "t":
                if kind is not None:
                    buf, collect = [], True
            elif tag == "f":
                if kind is not None:
                    formula = True
            elif tag == "row":
                row_num = int(attrs.get("r", row_num + 1))
                row, col = {}, 0
            elif tag == "mergeCell":
                match = re.match(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", attrs.get("ref", ""))
                if match:
                    c1, r1, c2, r2 = match.groups()
                    merged.append((int(r1), col_index(c1), int(r2), col_index(c2)))

        def chars(text):
            if collect:
                buf.append(text)

        def end(tag):
            nonlocal kind, raw, inline, collect
            if kind is None:
                if tag == "row" and row:
                    reader.rows_seen += 1
                    if reader.rows_seen > reader.max_rows:
                        raise FileProblem(f"Le fichier dépasse {reader.max_rows} lignes : "
                                          "découpez-le en plusieurs fichiers.")
                    values = [None] * max(row)
                    for index, cell in row.items():
                        values[index - 1] = cell
                    rows.append((row_num, values))
            elif tag == "v":
                raw, collect = "".join(buf), False
            elif tag == "t":
                inline = (inline or "") + "".join(buf)
                collect = False
            elif tag == "c":
                cell = value()
                if cell is not None:
                    row[col] = cell
                kind = None

        reader._parse(path, start, end, chars)
