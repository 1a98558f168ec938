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
    """Streams one worksheet's XML into ``RawSheet.rows``."""

    def __init__(self, reader: XlsxReader, sheet: RawSheet, shared, date_styles, epoch):
        self.reader, self.sheet, self.shared = reader, sheet, shared
        self.date_styles, self.epoch = date_styles, epoch
        self.row: dict[int, object] = {}
        self.row_num = 0
        self.col = 0
        self.cell = None
        self.buf: list[str] = []
        self.collect = False

    def run(self, path: str) -> None:
        self.reader._parse(path, self.start, self.end, self.chars)

    def start(self, tag, attrs):
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                match = _CELL_REF.match(ref)
                self.col = col_index(match.group(1)) if match else self.col + 1
            else:
                self.col += 1
            self.cell = [attrs.get("t", "n"), int(attrs.get("s", 0)), False, None, None]
        elif tag in ("v", "t") and self.cell is not None:
            self.buf, self.collect = [], True
        elif tag == "f" and self.cell is not None:
            self.cell[2] = True
        elif tag == "row":
            self.row_num = int(attrs.get("r", self.row_num + 1))
            self.row, self.col = {}, 0
        elif tag == "mergeCell":
            match = re.match(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", attrs.get("ref", ""))
            if match:
                c1, r1, c2, r2 = match.groups()
                self.sheet.merged.append((int(r1), col_index(c1), int(r2), col_index(c2)))

    def chars(self, text):
        if self.collect:
            self.buf.append(text)

    def end(self, tag):
        if tag == "v" and self.cell is not None:
            self.cell[3], self.collect = "".join(self.buf), False
        elif tag == "t" and self.cell is not None:
            self.cell[4] = (self.cell[4] or "") + "".join(self.buf)
            self.collect = False
        elif tag == "c" and self.cell is not None:
            value = self._value(*self.cell)
            if value is not None:
                self.row[self.col] = value
            self.cell = None
        elif tag == "row":
            if self.row:
                self.reader.rows_seen += 1
                if self.reader.rows_seen > self.reader.max_rows:
                    raise FileProblem(f"Le fichier dépasse {self.reader.max_rows} lignes : "
                                      "découpez-le en plusieurs fichiers.")
                width = max(self.row)
                values = [None] * width
                for col, value in self.row.items():
                    values[col - 1] = value
                self.sheet.rows.append((self.row_num, values))

    def _value(self, kind, style, formula, raw, inline):
        if kind == "s":
            return self.shared[int(raw)] if raw is not None and raw.isdigit() and int(raw) < len(self.shared) else None
        if kind == "inlineStr":
            return inline
        if kind == "str":
            return raw if raw is not None else (NO_VALUE if formula else None)
        if raw is None or raw == "":
            return NO_VALUE if formula else None
        if kind == "str":
            return raw
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "e":
            return ExcelError(raw)
        try:
            number = float(raw)
        except ValueError:
            return raw
        if style in self.date_styles and 0 <= number < 2958466:
            return self.epoch + dt.timedelta(days=number)
        return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number
