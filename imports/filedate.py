"""A spreadsheet's own last modification date, as its application saved it (naive UTC).

``.xlsx``/``.xlsm``: ``docProps/core.xml`` ``dcterms:modified``; ``.ods``: ``meta.xml``
``dc:date``; ``.xls``: the OLE SummaryInformation's last saved time. ``None`` when the file
says nothing usable (a ``.csv``, a damaged or missing part): no date, no « à vérifier ».
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Optional

_MAX_PART = 1_000_000        #: a metadata part larger than this is not read (a zip bomb)
_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>([^<]{10,40})</dcterms:modified>")
_ODS_DATE = re.compile(rb"<dc:date>([^<]{10,40})</dc:date>")
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def modified_at(data: bytes) -> Optional[dt.datetime]:
    """The file's last saved instant (naive UTC), or ``None``."""
    try:
        if data[:8] == _CFB:
            return _ole(data)
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for part, pattern in (("docProps/core.xml", _MODIFIED), ("meta.xml", _ODS_DATE)):
                    found = _part(zf, part, pattern)
                    if found is not None:
                        return found
    except Exception:   # a damaged part: the date is only a hint, the import goes on without it
        return None
    return None


def _part(zf: zipfile.ZipFile, name: str, pattern: re.Pattern) -> Optional[dt.datetime]:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_PART:
        return None
    match = pattern.search(zf.read(info))
    return _iso(match.group(1).decode("ascii", "replace").strip()) if match else None


def _iso(text: str) -> Optional[dt.datetime]:
    """W3C/ISO date-time; a zone converted to UTC, none taken as UTC; fractions beyond the
    microsecond (LibreOffice writes nanoseconds) dropped."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value if value.year >= 1990 else None


def _ole(data: bytes) -> Optional[dt.datetime]:
    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        saved = ole.get_metadata().last_saved_time
    return saved if isinstance(saved, dt.datetime) and saved.year >= 1990 else None
