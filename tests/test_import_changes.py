"""A preview's detail lives in its own table, read a page at a time (issue 21 item 4): the
batch page pages and filters it, the Imports list never loads it, and the apply writes what
the preview stored without reading the file again, still refusing rows changed since."""
from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import event, select

from tests.conftest import Auth, client_for


HEADER = ["Code DNA", "Nom", "Département"]


def _book(sheet: str, rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(client, data: bytes, name: str = "fichier.xlsx") -> int:
    token = Auth(client).csrf("/imports/")
    response = client.post("/imports/envoyer", data={"csrf_token": token, "annee": "",
                                                     "fichier": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    return int(re.search(r"/imports/(\d+)/", response.headers["Location"]).group(1))


def _apply(client, batch: int) -> str:
    token = Auth(client).csrf(f"/imports/{batch}/")
    return client.post(f"/imports/{batch}/appliquer", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)


def _detail(page: str) -> list[str]:
    """The rows of the « Détail ligne par ligne » table, as text."""
    table = page.split('id="modifications"', 1)[1]
    return [re.sub(r"<[^>]+>", " ", row) for row in re.findall(r"<tr><td>.*?</tr>", table, re.S)]


def _structures(app, where: str = "", limit: int = 1000) -> list[tuple[str, str, str]]:
    """(code DNA, nom, code département) of the park's structures, by code."""
    from app.extensions import db
    from models import Departement, Structure

    with app.app_context():
        query = select(Structure.code_dna, Structure.nom, Departement.code).join(Departement)
        if where:
            query = query.where(Departement.code == where)
        return [tuple(r) for r in db.session.execute(query.order_by(Structure.code_dna).limit(limit))]


def _places(app, code: str, year: int):
    from app.extensions import db
    from models import PlacesAnnee, Structure

    with app.app_context():
        return db.session.scalar(select(PlacesAnnee.places_autorisees).join(Structure).where(
            Structure.code_dna == code, PlacesAnnee.annee == year))


def test_page_two_shows_the_next_changes_and_filters_keep_to_theirs(fresh_app):
    client = client_for(fresh_app, "centrale")
    park = _structures(fresh_app, limit=120)
    batch = _upload(client, _book("Structures", [HEADER] + [[code, f"Renommée {n:03d}", dep]
                                                            for n, (code, _nom, dep) in enumerate(park)]))
    first = _detail(client.get(f"/imports/{batch}/").get_data(as_text=True))
    second = _detail(client.get(f"/imports/{batch}/?page=2").get_data(as_text=True))
    assert len(first) == len(second) == 50
    assert "Renommée 000" in first[0] and "Renommée 049" in first[-1]
    assert "Renommée 050" in second[0] and "Renommée 099" in second[-1]   # the next rows
    assert not any("Renommée 050" in row for row in first)
    third = _detail(client.get(f"/imports/{batch}/?page=3").get_data(as_text=True))
    assert len(third) == 20
    kept = _detail(client.get(f"/imports/{batch}/?type=modified&feuille=Structures").get_data(as_text=True))
    assert len(kept) == 50 and all("modifiée" in row for row in kept)
    assert "Aucune modification" in client.get(f"/imports/{batch}/?type=error").get_data(as_text=True)


def test_calvados_agent_never_sees_another_territory_in_the_pages(fresh_app):
    client = client_for(fresh_app, "calvados")
    mine = _structures(fresh_app, "14")
    names = {nom for _code, nom, _dep in mine}            # the demo repeats some names
    outside = [s for s in _structures(fresh_app) if s[2] != "14" and s[1] not in names][:60]
    rows = [[code, f"Nouveau nom {code}", dep] for code, _nom, dep in mine + outside]
    batch = _upload(client, _book("Structures", [HEADER] + rows))
    pages = [client.get(f"/imports/{batch}/?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    lines = [row for page in pages for row in _detail(page)]
    assert len(lines) == len(rows)                        # every line once, 50 a page
    assert sum(" Erreur " in row for row in lines) == len(outside)
    for _code, nom, _dep in outside:                      # never a stored value from outside
        assert all(nom not in page for page in pages)
    assert any(mine[0][1] in row for row in lines)        # its own stored name: old → new


def test_apply_writes_what_the_preview_stored_without_the_file(fresh_app, monkeypatch):
    from app.extensions import db
    from app.documents.storage import file_store
    from imports.pipeline import ImportCommand
    from models.imports import ImportBatch

    client = client_for(fresh_app, "normandie")
    batch = _upload(client, _book("Places", [["Code DNA", "Année", "Places autorisées"],
                                             ["C1401", 2025, 91], ["C1402", 2025, 92]]))
    with fresh_app.app_context():
        file_store().delete(db.session.get(ImportBatch, batch).stored_path)   # the original gone

    def no_second_read(*args, **kwargs):
        raise AssertionError("the apply read the file again")

    monkeypatch.setattr(ImportCommand, "validate", no_second_read)
    assert "Import appliqué" in _apply(client, batch)
    assert _places(fresh_app, "C1401", 2025) == 91 and _places(fresh_app, "C1402", 2025) == 92


def test_a_row_changed_between_preview_and_apply_refuses_every_row(fresh_app):
    from app.extensions import db
    from models import Changement, PlacesAnnee, Structure
    from models.imports import ImportBatch

    client = client_for(fresh_app, "normandie")
    before = {code: _places(fresh_app, code, 2025) for code in ("C1401", "C1402")}
    batch = _upload(client, _book("Places", [["Code DNA", "Année", "Places autorisées"],
                                             ["C1401", 2025, 81], ["C1402", 2025, 82]]))
    with fresh_app.app_context():
        row = db.session.scalar(select(PlacesAnnee).join(Structure).where(
            Structure.code_dna == "C1402", PlacesAnnee.annee == 2025))
        row.pmr = (row.pmr or 0) + 1        # someone else, after the preview
        db.session.commit()
        history = db.session.query(Changement).count()
    page = _apply(client, batch)
    (told,) = re.findall(r"Des lignes ont été modifiées depuis l&#39;aperçu[^<]*", page)
    assert "C1402" in told and "C1401" not in told       # the row changed since, named
    assert {code: _places(fresh_app, code, 2025) for code in before} == before   # nothing written
    with fresh_app.app_context():
        assert db.session.query(Changement).count() == history
        assert db.session.get(ImportBatch, batch).status == "perime"


def test_the_imports_list_does_not_load_a_big_batch_detail(fresh_app):
    from app.extensions import db
    from models.imports import ImportBatch

    client = client_for(fresh_app, "centrale")
    codes = _structures(fresh_app, limit=600)
    batch = _upload(client, _book("Structures", [HEADER] + [[code, f"Nom importé {code} " + "x" * 100, dep]
                                                            for code, _nom, dep in codes]))
    with fresh_app.app_context():
        counts = db.session.get(ImportBatch, batch).counts
        assert json.loads(counts)["kinds"]["modified"] == len(codes)
        assert len(counts) < 5000                          # counts only: the detail is elsewhere
        statements: list[str] = []
        listen = lambda _c, _cur, statement, *_a: statements.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
    try:
        listing = client.get("/imports/").get_data(as_text=True)
    finally:
        with fresh_app.app_context():
            event.remove(db.engine, "before_cursor_execute", listen)
    assert f"Structures : 0 nouv., {len(codes)} modif." in listing
    assert statements and not any("import_change" in s for s in statements)


@pytest.mark.parametrize("side", ["fichier", "bhasile"])
def test_conflict_choices_are_kept_on_their_line(fresh_app, side):
    """The side chosen for a conflict is stored on its line, as the apply reads it."""
    from app.extensions import db
    from imports import changes
    from imports.result import CellIssue, ImportResult
    from imports.merge import Conflict

    with fresh_app.app_context():
        result = ImportResult()
        issue = CellIssue("Places", 2, "Places autorisées", 71, "conflit")
        result.conflicts = [Conflict('Places|["C1401",2025]|places_autorisees', issue,
                                     "places_autorisees", 71, 60, ("71", "60"), ("C1401", 2025))]
        from models.imports import ImportBatch

        batch = ImportBatch(filename="x.xlsx", status="apercu")
        db.session.add(batch)
        db.session.flush()
        changes.store(db.session.connection(), batch.id, result)
        assert changes.unchosen(db.session, batch.id) == 1
        changes.choose(db.session, batch.id, {result.conflicts[0].ident: side})
        (stored,) = changes.stored_conflicts(db.session, batch.id)
        assert (stored.ident, stored.choice, stored.texts, stored.key) == \
            (result.conflicts[0].ident, side, ("71", "60"), ("C1401", "2025"))
        assert changes.unchosen(db.session, batch.id) == 0
        db.session.rollback()


def test_a_structure_gone_from_the_territory_since_the_preview_refuses_the_apply(fresh_app):
    """The row's own version did not change, its structure left the Calvados: refused."""
    from app.extensions import db
    from models import Departement, Structure

    client = client_for(fresh_app, "calvados")
    before = _places(fresh_app, "C1401", 2025)
    batch = _upload(client, _book("Places", [["Code DNA", "Année", "Places autorisées"],
                                             ["C1401", 2025, before + 3]]))
    with fresh_app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.code_dna == "C1401"))
        structure.departement_id = db.session.scalar(select(Departement.id).where(Departement.code == "01"))
        db.session.commit()
    page = _apply(client, batch)
    (told,) = re.findall(r"Des lignes ont été modifiées depuis l&#39;aperçu[^<]*", page)
    assert "C1401" in told and _places(fresh_app, "C1401", 2025) == before


def test_every_record_reads_back_as_the_apply_writes_it(fresh_app):
    """The detail keeps what the apply writes of each record: status, key, stored ids and
    versions, values (enumerations, decimals, dates, lists of codes) and changes."""
    from app.extensions import db
    from app.scope import NATIONAL
    from imports import changes
    from imports.apply import _values
    from imports.pipeline import ImportCommand
    from models.imports import ImportBatch
    from tests.conftest import SAMPLES

    with fresh_app.app_context():
        data = (SAMPLES / "classeur-exemple.xlsx").read_bytes()
        result = ImportCommand(data, "classeur-exemple.xlsx", NATIONAL).validate()
        assert {r.status for r in result.changes} == {"new", "updated"}
        batch = ImportBatch(filename="x.xlsx", status="apercu")
        db.session.add(batch)
        db.session.flush()
        changes.store(db.session.connection(), batch.id, result)
        back = changes.records(db.session, batch.id)
        assert [(r.sheet.name, r.key, r.status, r.ids, r.row, r.source, _values(r), r.changed)
                for r in back] == \
            [(r.sheet.name, r.key, r.status, r.ids, r.row, r.source, _values(r), r.changed)
             for r in result.changes]
        db.session.rollback()
