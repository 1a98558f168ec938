"""Read a spreadsheet file into plain rows of cell values, safely.

One pass over the file whatever its size: ``.xlsx``/``.xlsm`` are read straight from their XML
with expat (macros never run; a formula gives its cached value, or ``NO_VALUE`` when the file
holds none), ``.csv`` in UTF-8 or Windows-1252 with ``;`` or ``,``. Every unusable file raises
``FileProblem`` with one French sentence, before anything is parsed when possible (zip bombs,
encrypted or legacy workbooks).
"""
from __future__ import annotations

import csv
import io
import posixpath
import zipfile
from dataclasses import dataclass, field

from .ods import read_ods

MAX_ENTRIES = 2000
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


class FileProblem(Exception):
    """The file as a whole cannot be imported; the message is one French sentence."""


class _NoValue:
    """A formula cell whose file holds no computed value."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()


@dataclass
class ExcelError:
    """An Excel error value (``#DIV/0!``, ``#N/A``...) found in a cell."""

    code: str

    def __str__(self) -> str:
        return self.code


@dataclass
class RawSheet:
    """A sheet as read: rows of values keyed by their spreadsheet row number."""

    name: str
    rows: list[tuple[int, list]] = field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    hidden: bool = False


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(index: int) -> str:
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def read_file(data: bytes, filename: str, max_rows: int, max_unzipped_mb: int) -> list[RawSheet]:
    """Every sheet of the file; raises ``FileProblem`` when the file cannot be used."""
    if not data:
        raise FileProblem("Le fichier est vide.")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        if _ENCRYPTED in data:
            raise FileProblem("Le classeur est protégé par un mot de passe : enregistrez-le sans "
                              "mot de passe puis importez-le de nouveau.")
        raise FileProblem("Ancien format Excel (.xls) : enregistrez le fichier au format .xlsx "
                          "puis importez-le de nouveau.")
    lower = filename.lower()
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm", ".ods")):
        archive = _open_zip(data, max_unzipped_mb)
        names = set(archive.namelist())
        if "xl/workbook.xml" in names:
            from .xlsx import XlsxReader

            return XlsxReader(archive, max_rows).sheets()
        if "content.xml" in names:
            return read_ods(archive, max_rows, FileProblem, NO_VALUE)
        raise FileProblem("Ce fichier n'est pas un classeur Excel (.xlsx) ni OpenDocument (.ods).")
    if lower.endswith(".xls"):
        raise FileProblem("Ce fichier n'est pas un classeur lisible : enregistrez-le au format .xlsx.")
    return [_read_csv(data, filename, max_rows)]


def _open_zip(data: bytes, max_unzipped_mb: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise FileProblem("Le fichier est endommagé ou incomplet (archive illisible) : "
                          "enregistrez-le de nouveau au format .xlsx.") from None
    if len(infos) > MAX_ENTRIES:
        raise FileProblem(f"Le classeur contient trop d'éléments ({len(infos)}) : fichier refusé.")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped_mb * 1024 * 1024:
        raise FileProblem(f"Le classeur décompressé dépasserait {max_unzipped_mb} Mo : "
                          "fichier refusé (découpez-le en plusieurs fichiers).")
    if any(i.flag_bits & 0x1 for i in infos):
        raise FileProblem("Le classeur est protégé par un mot de passe : enregistrez-le sans "
                          "mot de passe puis importez-le de nouveau.")
    return archive


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
        raise FileProblem("Ce fichier n'est ni un classeur (.xlsx, .ods) ni un fichier CSV "
                          "séparé par « ; » ou « , ».")
    sheet = RawSheet(posixpath.splitext(posixpath.basename(filename))[0] or "CSV")
    for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1):
        if number > max_rows + 1:
            raise FileProblem(f"Le fichier dépasse {max_rows} lignes : découpez-le en plusieurs fichiers.")
        values = [v if v.strip() else None for v in row]
        if any(v is not None for v in values):
            sheet.rows.append((number, values))
    return sheet
