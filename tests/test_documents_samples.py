"""Tiny real files of every accepted type (and a few impostors), built in memory for the tests
(a helper module: it holds no test of its own)."""
from __future__ import annotations

import io
import zipfile

OOXML_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "docm": "application/vnd.ms-word.document.macroEnabled.main+xml",
}


def pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
            b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
            b"trailer <</Root 1 0 R>>\n%%EOF\n")


def xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Code DNA", "Places"])
    book.active.append(["C14001", 40])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(entries: list[tuple[str, str]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in entries:
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, text, compress_type=compress)
    return out.getvalue()


def docx(flavour: str = "docx") -> bytes:
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
             'package/2006/content-types"><Override PartName="/word/document.xml" '
             f'ContentType="{OOXML_TYPES[flavour]}"/></Types>')
    entries = [("[Content_Types].xml", types), ("word/document.xml", "<w:document/>")]
    if flavour == "docm":
        entries.append(("word/vbaProject.bin", "macro"))
    return _zip(entries)


def opendocument(kind: str) -> bytes:
    return _zip([("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
                 ("content.xml", "<office:document-content/>")])


def csv() -> bytes:
    return "Code DNA;Nom;Places\nC14001;Le Havre accueil;40\nH14002;Caen été;25\n".encode()


def png() -> bytes:
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
            b"\x1f\x15\xc4\x89\x00\x00\x00\x00IEND\xaeB`\x82")


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def xls() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "Workbook".encode("utf-16-le")


#: name, bytes, expected MIME type.
ACCEPTED = [
    ("budget.pdf", pdf, "application/pdf"),
    ("budget.xlsx", xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("budget.xls", xls, "application/vnd.ms-excel"),
    ("budget.ods", lambda: opendocument("spreadsheet"), "application/vnd.oasis.opendocument.spreadsheet"),
    ("rapport.docx", docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("rapport.odt", lambda: opendocument("text"), "application/vnd.oasis.opendocument.text"),
    ("donnees.csv", csv, "text/csv"),
    ("scan.png", png, "image/png"),
    ("scan.jpg", jpeg, "image/jpeg"),
]

EXECUTABLES = {
    "windows": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64,
    "linux": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,
}
