"""Every accepted format reads the same: .xlsx, .xlsm, .csv (UTF-8 with or without BOM,
Windows-1252, ``;`` or ``,``) and .ods."""
from __future__ import annotations

import json
import shutil
import subprocess

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
def test_ods_reads_like_xlsx(app, tmp_path):
    completed = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
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
