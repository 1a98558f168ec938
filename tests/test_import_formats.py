"""Every accepted format reads the same: .xlsx, .xlsm, .xls, .ods, an .xlsx whose tags carry a
namespace prefix, a workbook counting its dates from 1904, .csv (UTF-8 with or without BOM,
Windows-1252, ``;`` or ``,``)."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run_cli

CSV = "Code DNA,Mois,Places autorisées,Places occupées\r\nC1401,01/2024,55,53\r\nC1401,02/2024,55,54\r\n"


def _preview(app, path) -> dict:
    result = run_cli(app, "bhasile", "import", str(path), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("encoding, separator", [("utf-8-sig", ","), ("utf-8", ";"), ("cp1252", ";")])
def test_csv_encodings_and_separators(app, tmp_path, encoding, separator):
    path = tmp_path / "activite.csv"
    path.write_bytes(CSV.replace(",", separator).encode(encoding))
    report = _preview(app, path)
    changes = report["changes"]
    assert [c["key"] for c in changes] == [["C1401", "2024-01-01"], ["C1401", "2024-02-01"]]
    assert changes[0]["fields"]["Places occupées"][1] == 53


def test_xlsm_reads_like_xlsx(app, tmp_path):
    path = tmp_path / "classeur.xlsm"
    shutil.copy(SAMPLES / "classeur-exemple.xlsx", path)
    assert _preview(app, path)["sheets"]["Places"]["updated"] + 0 >= 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (make system-deps) absent")
def test_ods_reads_like_xlsx(app, tmp_path, soffice_profile):
    completed = subprocess.run(
        ["soffice", soffice_profile, "--headless",
         "--convert-to", "ods", "--outdir", str(tmp_path), str(SAMPLES / "suivi-ddets-calvados.xlsx")],
        capture_output=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    reports = []
    for path in (tmp_path / "suivi-ddets-calvados.ods", SAMPLES / "suivi-ddets-calvados.xlsx"):
        result = run_cli(app, "bhasile", "import", str(path), "--dry-run", "--json")
        assert result.exit_code in (0, 1)
        reports.append(json.loads(result.output))
    ods, xlsx = reports
    assert ods["sheets"] == xlsx["sheets"] and ods["changes"] == xlsx["changes"]
    assert ods["errors"] == xlsx["errors"] and ods["warnings"] == xlsx["warnings"]


def _export(app, tmp_path) -> Path:
    """The app's own export of Calvados: structures, places, budgets, activité."""
    path = tmp_path / "export.xlsx"
    sheets = [a for name in ("Structures", "Places", "Budgets", "Activité") for a in ("--sheet", name)]
    result = run_cli(app, "bhasile", "export", str(path), *sheets, "--departement", "14")
    assert result.exit_code == 0, result.output
    return path


def _soffice(source: Path, fmt: str, out: Path, profile: str) -> Path:
    completed = subprocess.run(
        ["soffice", profile, "--headless",
         "--convert-to", fmt, "--outdir", str(out), str(source)],
        capture_output=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return out / f"{source.stem}.{fmt.split(':')[0]}"


def _prefixed(source: Path, target: Path) -> Path:
    """The workbook as an Open XML SDK tool writes it: every SpreadsheetML tag under ``x:``."""
    tag = re.compile(r"<(/?)(?![\w.-]+:)([A-Za-z][\w.-]*)")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/") and info.filename.endswith(".xml") \
                    and b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' in data:
                text = data.decode("utf-8").replace(
                    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                    'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
                data = tag.sub(r"<\1x:\2", text).encode("utf-8")
                assert b"<x:sheetData" in data or b"<x:workbook" in data or b"<x:" in data
            dst.writestr(info, data)
    return target


def _report(app, path: Path) -> dict:
    result = run_cli(app, "bhasile", "import", str(path), "--dry-run", "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (make system-deps) absent")
def test_the_same_workbook_as_xls_xlsx_ods_and_prefixed_xlsx_previews_the_same(app, tmp_path, soffice_profile):
    export = _export(app, tmp_path)
    original = _report(app, export)
    assert original["changes"] == [] and original["errors"] == [] and original["warnings"] == []
    assert original["sheets"]["Activité"]["unchanged"] > 100
    files = {fmt: _soffice(export, fmt, tmp_path / fmt, soffice_profile) for fmt in ("xls", "xlsx", "ods")}
    files["x:"] = _prefixed(export, tmp_path / "sdk.xlsx")
    for fmt, path in files.items():
        report = _report(app, path)
        assert report == original, fmt


def _dated_workbook(date1904: bool) -> bytes:
    """Structures whose dates are typed three ways: a date cell, a plain serial number, a text."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "date_1904": date1904})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    ws = book.add_worksheet("Structures")
    ws.write_row(0, 0, ["Code DNA", "Date de création", "Date 303", "Fin convention"])
    epoch = dt.date(1904, 1, 1) if date1904 else dt.date(1899, 12, 30)
    ws.write_string(1, 0, "C1401")
    ws.write_datetime(1, 1, dt.datetime(2012, 1, 1), date)
    ws.write_number(1, 2, (dt.date(2015, 6, 30) - epoch).days)      # a date typed as a number
    ws.write_string(1, 3, "31/12/2027")
    book.close()
    return out.getvalue()


def test_a_1904_workbook_previews_like_a_1900_one(app, tmp_path):
    reports = []
    for date1904 in (False, True):
        path = tmp_path / f"dates-{int(date1904)}.xlsx"
        path.write_bytes(_dated_workbook(date1904))
        reports.append(_report(app, path))
    assert reports[0] == reports[1]
    fields = reports[0]["changes"][0]["fields"]
    assert fields["Date 303"][1] == "2015-06-30" and fields["Date de création"][1] == "2012-01-01"
