"""What a stored file is, decided by its content; what its name becomes on the way out."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.documents import DocumentError, KINDS, content_disposition, detect_type, safe_name
from tests import test_documents_samples as files


@pytest.mark.parametrize("name,build,mime", files.ACCEPTED, ids=[a[0] for a in files.ACCEPTED])
def test_every_accepted_type_is_recognised_by_its_content(app, name, build, mime):
    with app.test_request_context():
        assert detect_type(build()).mime == mime


@pytest.mark.parametrize("payload", [
    files.EXECUTABLES["windows"], files.EXECUTABLES["linux"], b"#!/bin/sh\nrm -rf /\n",
    b"<html><script>alert(1)</script></html>", b"\x00\x01\x02\x03binary", b"",
    files.docx("docm"), files._zip([("readme.txt", "hello")]),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le"),
], ids=["exe", "elf", "script", "html", "binary", "empty", "macros", "zip", "word97"])
def test_anything_else_is_refused_in_french(app, payload):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        with pytest.raises(DocumentError) as refused:
            detect_type(payload)
    message = str(refused.value)
    assert message.startswith("Fichier refusé : ") or message == "Le fichier est vide.", message


@pytest.mark.parametrize("payload", [
    files.xls(vba=True), files.doc_with_macros(), files.xls(sheet_type=1),
    files.opendocument_with("spreadsheet", "Basic"), files.opendocument_with("text", "Scripts"),
    files._zip([("[Content_Types].xml", "spreadsheetml.sheet.main+xml"),
                ("xl/macrosheets/sheet1.xml", "<xm:macrosheet/>")]),
], ids=["xls-vba", "doc-vba", "xls-excel4-macro-sheet", "ods-basic", "odt-scripts", "xlsx-macro-sheet"])
def test_office_files_with_macros_are_refused_in_french(app, payload):
    """Found on the demo park: an .xls or .doc with a VBA project (``_VBA_PROJECT_CUR``,
    ``Macros``) and an .ods or .odt with Basic or script macros were stored."""
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        with pytest.raises(DocumentError) as refused:
            detect_type(payload)
    assert "contenant des macros ne sont pas acceptés" in str(refused.value)


@pytest.mark.parametrize("payload, words", [
    (files.ole2({"Workbook": files.biff((0x0809, bytes(16)), (0x002F, bytes(6)), (0x000A, b""))}),
     "mot de passe"),
    (files.ole2({"WordDocument": b"\xec\xa5"}), "Word ou PowerPoint"),
    (files.ole2({"\x05SummaryInformation": b"\xfe\xff"}), "autre qu'un classeur Excel"),
    (files.xls()[:600], "illisible"),
], ids=["encrypted-xls", "doc", "other-ole2", "truncated"])
def test_only_plain_excel_workbooks_pass_as_97_2003_files(app, payload, words):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        with pytest.raises(DocumentError) as refused:
            detect_type(payload)
    assert words in str(refused.value)


def test_a_real_excel_97_2003_workbook_is_accepted(app):
    sample = Path(__file__).resolve().parents[2] / "shared" / "samples" / "suivi-ddets-calvados.xls"
    if not sample.exists():
        pytest.skip("shared sample workbook not available")
    with app.test_request_context():
        assert detect_type(sample.read_bytes()).code == "XLS"


def test_a_csv_in_windows_encoding_is_accepted(app):
    with app.test_request_context():
        assert detect_type("Commune;Places\nÉvreux;12\n".encode("cp1252")).code == "CSV"


@pytest.mark.parametrize("given,kind,expected", [
    ("../../../etc/passwd.pdf", "PDF", "passwd.pdf"),
    ("C:\\Users\\agent\\Budget 2026.xlsx", "XLSX", "Budget 2026.xlsx"),
    ("rapport\u202egnp.exe.pdf", "PDF", "rapportgnp.exe.pdf"),
    ("page.html", "CSV", "page.html.csv"),
    ("", "PNG", "document.png"),
    ("...", "JPEG", "document.jpg"),
    ("Compte administratif été.ODT", "ODT", "Compte administratif été.ODT"),
])
def test_names_lose_paths_and_control_characters(given, kind, expected):
    assert safe_name(given, KINDS[kind]) == expected


def test_content_disposition_is_an_attachment_with_a_utf8_name():
    header = content_disposition('Budget "été"\r\nX-Injected: 1.pdf')
    assert header.startswith("attachment; ")
    assert "\r" not in header and "\n" not in header
    assert "filename*=UTF-8''Budget%20%22%C3%A9t%C3%A9%22%0D%0AX-Injected%3A%201.pdf" in header
    fallback = header.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and '"' not in fallback
