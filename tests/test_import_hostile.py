"""Small files built to eat the server: each is refused with a French sentence, read in a
process whose peak memory stays under 300 MB, writes nothing, and never answers 500 on the web.

Each file is made here, a few kilobytes at most (a 150 MB string compresses to 150 KB).
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import client_for, run_cli

ROOT = Path(__file__).resolve().parents[1]
PEAK_MB = 300
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def xlsx(sheet_data: str, *, shared: str | None = None, styles: str | None = None,
         dimension: str = "", workbook_pr: str = "", big_shared: int = 0, merges: int = 0) -> bytes:
    """A one-sheet workbook (``Places``) written by hand, with the given ``<sheetData>`` (and
    ``merges`` times the same merged range after it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                   'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                   f'{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}">'
                   f'{workbook_pr}<sheets><sheet name="Places" sheetId="1" r:id="rId1"/></sheets></workbook>')
        rels = f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        if shared is not None or big_shared:
            rels += f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        if styles is not None:
            rels += f'<Relationship Id="rId3" Type="{RELS}/styles" Target="styles.xml"/>'
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://'
                   f'schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:   # streamed
            part.write(f'<?xml version="1.0"?><worksheet xmlns="{MAIN}">{dimension}<sheetData>'
                       f'{sheet_data}</sheetData>'.encode())
            if merges:
                part.write(b"<mergeCells>")
                for _ in range(0, merges, 10_000):
                    part.write(b'<mergeCell ref="A1:B2"/>' * 10_000)
                part.write(b"</mergeCells>")
            part.write(b"</worksheet>")
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0"?><sst xmlns="{MAIN}">{shared}</sst>')
        if big_shared:      # streamed: the test never holds the string either
            with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                part.write(f'<?xml version="1.0"?><sst xmlns="{MAIN}"><si><t>'.encode())
                block = b"a" * (1 << 20)
                for _ in range(big_shared):
                    part.write(block)
                part.write(b"</t></si></sst>")
        if styles is not None:
            z.writestr("xl/styles.xml",
                       f'<?xml version="1.0"?><styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
    return out.getvalue()


HEADER = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Code DNA</t></is></c><c r="B1" t="inlineStr">'
          '<is><t>Année</t></is></c><c r="C1" t="inlineStr"><is><t>Places autorisées</t></is></c></row>')


def ods(tables: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version'
                   '="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/'
                   'vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content'
                   '.xml" manifest:media-type="text/xml"/></manifest:manifest>')
        z.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:'
                   'oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:'
                   'opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet>'
                   f'{tables}</office:spreadsheet></office:body></office:document-content>')
    return out.getvalue()


def _rows_of_shared(n: int) -> str:
    return HEADER + "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}" t="s"><v>0</v></c></row>'
                            for r in range(2, n + 2))


HOSTILE = {
    # a 531-byte .ods: one row of 16,384 ones, repeated 1,048,576 times
    "ods-repetitions.ods": (lambda: ods(
        '<table:table table:name="Places"><table:table-row table:number-rows-repeated="1048576">'
        '<table:table-cell table:number-columns-repeated="16384" office:value-type="float" '
        'office:value="1"/></table:table-row></table:table>'), "colonne"),
    # empty rows repeated a million times, then one cell past 16,000 empty ones
    "ods-loin.ods": (lambda: ods(
        '<table:table table:name="Places"><table:table-row><table:table-cell office:value-type="string">'
        '<text:p>Code DNA</text:p></table:table-cell></table:table-row>'
        '<table:table-row table:number-rows-repeated="1000000"><table:table-cell/></table:table-row>'
        '<table:table-row><table:table-cell table:number-columns-repeated="16000"/><table:table-cell '
        'office:value-type="float" office:value="1"/></table:table-row></table:table>'), "colonne"),
    "ods-repetitions-illisibles.ods": (lambda: ods(
        '<table:table table:name="Places"><table:table-row table:number-rows-repeated="abc">'
        '<table:table-cell office:value-type="float" office:value="1"/></table:table-row></table:table>'),
        "illisible"),
    "ods-valeur-illisible.ods": (lambda: ods(
        '<table:table table:name="Places"><table:table-row><table:table-cell office:value-type="float" '
        'office:value="abc"/></table:table-row></table:table>'), "endommagé"),
    # A1 and XFD1048576: a 17-billion-cell grid for calamine
    "xlsx-loin.xlsx": (lambda: xlsx(HEADER + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                                    dimension='<dimension ref="A1:XFD1048576"/>'), "colonne"),
    "xlsx-loin-lignes.xlsx": (lambda: xlsx(HEADER + '<row r="1048576"><c r="C1048576"><v>1</v></c></row>'),
                              "va jusqu'à la ligne"),
    "xlsx-grille.xlsx": (lambda: xlsx(HEADER + '<row r="150000"><c r="AMJ150000"><v>1</v></c></row>'),
                         "s'étend sur"),
    # the same with an x: prefix and cells without references (placed after the row's r)
    "xlsx-loin-prefixe.xlsx": (lambda: xlsx(
        HEADER + '<x:row xmlns:x="' + MAIN + '" r="1000000">' + '<x:c/>' * 30
        + '<x:c><x:v>1</x:v></x:c></x:row>'), "va jusqu'à la ligne"),
    "xlsx-sans-references.xlsx": (lambda: xlsx(
        HEADER + '<row r="2">' + '<c/>' * 5000 + '<c><v>1</v></c></row>'), "colonne"),
    "xlsx-texte-150-mo.xlsx": (lambda: xlsx(HEADER + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>',
                                            big_shared=150), "32\u202f767 caractères"),
    # one 30,000-character shared string in 40,000 cells: 1.2 GB of text once read
    "xlsx-texte-partage.xlsx": (lambda: xlsx(_rows_of_shared(20_000),
                                             shared=f"<si><t>{'b' * 30_000}</t></si>"),
                                "millions de caractères"),
    "xlsx-cellule-longue.xlsx": (lambda: xlsx(
        HEADER + f'<row r="2"><c r="A2" t="inlineStr"><is><t>{"é" * 40_000}</t></is></c></row>'),
        "32\u202f767 caractères"),
    # 2 million merged ranges (48 MB): calamine's list of them and Python's, 569 MB at the peak
    "xlsx-fusions.xlsx": (lambda: xlsx(HEADER, merges=2_000_000), "plages de cellules fusionnées"),
    "xlsx-fusions-formule.xlsx": (lambda: xlsx(HEADER + '<row r="2"><c r="A2"><f>1+1</f></c></row>',
                                               merges=2_000_000), "plages de cellules fusionnées"),
    "xlsx-ligne-illisible.xlsx": (lambda: xlsx(HEADER + '<row r="abc"><c r="A2"><v>1</v></c></row>'),
                                  "endommagé"),
    "xlsx-reference-illisible.xlsx": (lambda: xlsx(HEADER + '<row r="2"><c r="2A"><f>1</f></c></row>'),
                                      "illisible"),
    "xlsx-format-illisible.xlsx": (lambda: xlsx(
        HEADER + '<row r="2"><c r="A2" s="1"><v>1</v></c></row>',
        styles='<numFmts count="1"><numFmt numFmtId="x" formatCode="0"/></numFmts><cellXfs count="2">'
               '<xf numFmtId="0"/><xf numFmtId="x"/></cellXfs>'), None),
    "csv-champ-geant.csv": (lambda: b'Code DNA;Ann\xc3\xa9e\r\n"' + b"a" * 300_000 + b'";2024\r\n',
                            "illisible"),
}


def _child(path: Path) -> dict:
    """Read ``path`` in a fresh process; its problem and its peak resident memory (VmHWM)."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from imports.reader import FileProblem, read_file\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "try:\n"
        "    sheets = read_file(data, sys.argv[1], 200000, 200)\n"
        "    problem = None\n"
        "except FileProblem as exc:\n"
        "    problem = str(exc)\n"
        "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(json.dumps({'problem': problem, 'peak_mb': peak / 1024}))\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (build, _words) in HOSTILE.items():
        paths[name] = folder / name
        paths[name].write_bytes(build())
    return paths


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_is_refused_in_bounded_memory(hostile, name):
    path = hostile[name]
    assert path.stat().st_size < 400_000
    report = _child(path)
    words = HOSTILE[name][1]
    assert report["peak_mb"] < PEAK_MB, report
    if words is None:   # calamine reads past what it cannot use: no limit, just no harm
        return
    assert report["problem"] and words in report["problem"], report


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_writes_nothing(fresh_app, hostile, name):
    with fresh_app.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from models import Changement

        before = db.session.scalar(select(func.count(Changement.id)))
    result = run_cli(fresh_app, "bhasile", "import", str(hostile[name]), "--json")
    assert result.exit_code in (1, 2), result.output
    report = json.loads(result.output)
    assert report.get("problem") or report["errors"]
    with fresh_app.app_context():
        assert db.session.scalar(select(func.count(Changement.id))) == before


def test_hostile_files_through_the_web_upload_never_answer_500(fresh_app, hostile):
    from tests.test_import_web import _upload

    agent = client_for(fresh_app, "normandie")
    for name, path in hostile.items():
        response = _upload(agent, path.read_bytes(), name)
        assert response.status_code == 302, (name, response.status_code)
        page = agent.get(response.headers["Location"])
        assert page.status_code == 200, name
        words = HOSTILE[name][1]
        if words:
            assert words in page.get_data(as_text=True).replace("&#39;", "'").replace("&#x27;", "'"), name
        annotated = agent.get(response.headers["Location"].rstrip("/") + "/annote")
        assert annotated.status_code in (200, 302), name


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (make system-deps) absent")
def test_hostile_xls_files_are_refused_in_bounded_memory(fresh_app, tmp_path, soffice_profile):
    """Excel 97 has its own ways: a cell at IV65536 (16.7 million cells of grid) and one
    30,000-character shared string in 20,000 cells, both saved as .xls by LibreOffice."""
    import openpyxl

    far = openpyxl.Workbook()
    far.active.title = "Places"
    far.active.append(["Code DNA", "Année", "Places autorisées"])
    far.active["IV65536"] = 1
    far.save(tmp_path / "xls-loin.xlsx")
    shared = openpyxl.Workbook()
    shared.active.title = "Places"
    shared.active.append(["Code DNA", "Année", "Places autorisées"])
    text = "x" * 30_000
    for _ in range(20_000):
        shared.active.append([text])
    shared.save(tmp_path / "xls-texte-partage.xlsx")
    done = subprocess.run(
        ["soffice", soffice_profile, "--headless", "--convert-to",
         "xls", "--outdir", str(tmp_path), str(tmp_path / "xls-loin.xlsx"),
         str(tmp_path / "xls-texte-partage.xlsx")], capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for name, words in (("xls-loin.xls", "s'étend sur"), ("xls-texte-partage.xls", "millions de caractères")):
        path = tmp_path / name
        assert path.stat().st_size < 1_000_000
        report = _child(path)
        assert report["peak_mb"] < PEAK_MB and words in (report["problem"] or ""), report
        result = run_cli(fresh_app, "bhasile", "import", str(path), "--json")
        assert result.exit_code == 2 and words in json.loads(result.output)["problem"]
