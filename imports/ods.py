"""Read an OpenDocument spreadsheet (.ods) from its ``content.xml``, without LibreOffice."""
from __future__ import annotations

import datetime as dt
import zipfile
from xml.parsers import expat

_T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_X = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def _cell_value(attrs: dict, text: str):
    kind = attrs.get(f"{_O}^value-type")
    if kind in ("float", "percentage", "currency"):
        number = float(attrs.get(f"{_O}^value", "nan"))
        return int(number) if number.is_integer() else number
    if kind == "date":
        raw = attrs.get(f"{_O}^date-value", "")
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return attrs.get(f"{_O}^boolean-value") == "true"
    return text if text != "" else None


def read_ods(archive: zipfile.ZipFile, max_rows: int, problem: type, no_value) -> list:
    """Every table of the document as ``RawSheet``s (formulas give their stored value)."""
    from .reader import RawSheet

    sheets: list = []
    st = {"row": None, "row_rep": 1, "num": 0, "cell": None, "text": [], "in_p": 0, "count": 0}

    def start(tag, attrs):
        if tag == f"{_T}^table":
            sheets.append(RawSheet(attrs.get(f"{_T}^name", "Feuille")))
            st["num"] = 0
        elif tag == f"{_T}^table-row":
            st["row"], st["row_rep"] = [], int(attrs.get(f"{_T}^number-rows-repeated", 1))
        elif tag in (f"{_T}^table-cell", f"{_T}^covered-table-cell"):
            st["cell"], st["text"] = attrs, []
        elif tag == f"{_X}^p":
            if st["text"]:
                st["text"].append("\n")
            st["in_p"] += 1
        elif tag == f"{_X}^s" and st["in_p"]:
            st["text"].append(" " * int(attrs.get(f"{_X}^c", 1)))

    def end(tag):
        if tag in (f"{_T}^table-cell", f"{_T}^covered-table-cell"):
            attrs = st["cell"]
            value = _cell_value(attrs, "".join(st["text"]))
            if value is None and attrs.get(f"{_T}^formula"):
                value = no_value
            span = int(attrs.get(f"{_T}^number-columns-spanned", 1))
            if span > 1:
                col, row = len(st["row"]) + 1, st["num"] + 1
                sheets[-1].merged.append((row, col, row, col + span - 1))
            repeat = int(attrs.get(f"{_T}^number-columns-repeated", 1))
            st["row"].extend([value] * (repeat if value is not None else min(repeat, 1024)))
        elif tag == f"{_X}^p":
            st["in_p"] -= 1
        elif tag == f"{_T}^table-row":
            values = st["row"]
            while values and values[-1] is None:
                values.pop()
            for _ in range(st["row_rep"] if values else 0):
                st["num"] += 1
                st["count"] += 1
                if st["count"] > max_rows:
                    raise problem(f"Le fichier dépasse {max_rows} lignes : découpez-le en plusieurs fichiers.")
                sheets[-1].rows.append((st["num"], list(values)))
            if not values:
                st["num"] += st["row_rep"]

    def chars(text):
        if st["in_p"]:
            st["text"].append(text)

    parser = expat.ParserCreate(namespace_separator="^")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = chars
    try:
        parser.ParseFile(archive.open("content.xml"))
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, KeyError):
        raise problem("Le fichier .ods est endommagé ou incomplet.") from None
    return sheets
