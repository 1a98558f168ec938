"""Tiny real files of every accepted type (and a few impostors), built in memory for the tests
(a helper module: it holds no test of its own)."""
from __future__ import annotations

import io
import struct
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


_FREE, _END, _FAT, _NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _entries(tree: dict) -> list[list]:
    """The directory of an OLE2 file, in order: [name, type, child, right sibling, content]
    (type 5 root, 1 storage, 2 stream); siblings in one chain, which any reader accepts."""
    entries: list[list] = [["Root Entry", 5, _NONE, _NONE, None]]

    def fill(parent: int, children: dict) -> None:
        previous = None
        for name, value in children.items():
            entries.append([name, 1 if isinstance(value, dict) else 2, _NONE, _NONE,
                            None if isinstance(value, dict) else value])
            index = len(entries) - 1
            entries[parent if previous is None else previous][2 if previous is None else 3] = index
            previous = index
            if isinstance(value, dict):
                fill(index, value)

    fill(0, tree)
    return entries


def ole2(tree: dict) -> bytes:
    """A compound file (OLE2, 512-byte sectors) holding ``tree``: a name maps to bytes (a
    stream, padded to 4 Kio so that it lives in ordinary sectors) or to a dict (a storage)."""
    entries = _entries(tree)
    n_dir = (len(entries) + 3) // 4
    fat = [_FAT] + [i + 2 if i + 1 < n_dir else _END for i in range(n_dir)]  # FAT, directory
    directory, body = b"", b""
    for name, kind, child, right, content in entries:
        start, size = _END, 0
        if content:
            padded = content.ljust(max(4096, -(-len(content) // 512) * 512), b"\0")
            start, size, count = len(fat), len(padded), len(padded) // 512
            fat += [start + i + 1 for i in range(count - 1)] + [_END]
            body += padded
        encoded = name.encode("utf-16-le") + b"\0\0"
        directory += (encoded.ljust(64, b"\0") + struct.pack("<HBB3I", len(encoded), kind, 1, _NONE,
                                                             right, child)
                      + b"\0" * 36 + struct.pack("<IQ", start, size))
    assert len(fat) <= 128, "one FAT sector only"
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<5H6x9I", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, _END, 0, _END, 0)
              + struct.pack("<109I", 0, *[_FREE] * 108))
    return (header + struct.pack("<128I", *fat, *[_FREE] * (128 - len(fat)))
            + directory.ljust(n_dir * 512, b"\0") + body)


def biff(*records: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", kind, len(data)) + data for kind, data in records)


def xls(sheet_type: int = 0, vba: bool = False) -> bytes:
    """An Excel 97-2003 workbook: BOF, one sheet of ``sheet_type`` (1: Excel 4.0 macro sheet),
    EOF; with ``vba``, the VBA project storage Excel writes beside the workbook stream."""
    book = biff((0x0809, b"\x00\x06\x05\x00" + b"\x00" * 12),
                (0x0085, struct.pack("<IBB", 0, 0, sheet_type) + b"\x06\x00Feuil1"), (0x000A, b""))
    tree: dict = {"Workbook": book}
    if vba:
        tree["_VBA_PROJECT_CUR"] = {"PROJECT": b"ID=\"{0}\"", "VBA": {"_VBA_PROJECT": b"\xcc\x61",
                                                                     "dir": b"\x01"}}
    return ole2(tree)


def doc_with_macros() -> bytes:
    """A Word 97-2003 document whose VBA project sits in its ``Macros`` storage."""
    return ole2({"WordDocument": b"\xec\xa5", "1Table": b"\x00",
                 "Macros": {"VBA": {"_VBA_PROJECT": b"\xcc\x61", "dir": b"\x01"}, "PROJECT": b"ID"}})


def opendocument_with(kind: str, folder: str) -> bytes:
    """An OpenDocument file carrying macros in ``folder`` (``Basic`` or ``Scripts``)."""
    return _zip([("mimetype", f"application/vnd.oasis.opendocument.{kind}"),
                 ("content.xml", "<office:document-content/>"),
                 (f"{folder}/Standard/Module1.xml", "<script:module>Shell(\"calc\")</script:module>")])


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
