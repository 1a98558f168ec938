"""Times in Paris time, and a history written for people: one entry per save with its fields in
French, origins in words with their link, no empty changes, each agent their territory only."""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from types import SimpleNamespace

from sqlalchemy import delete, func, select

from app.heures import paris_time
from models import Changement, Departement, Operateur, Structure
from tests.conftest import client_for
from tests.grid_helpers import YEAR, query, row, rows, save
from tests.views_util import submit


def _structure(app, dep: str = "14") -> SimpleNamespace:
    """The first structure of a département: its id, code DNA and opérateur."""
    found = query(app, lambda s: s.execute(
        select(Structure.id, Structure.code_dna, Structure.operateur_id).join(Departement)
        .where(Departement.code == dep).order_by(Structure.code_dna)).first())
    return SimpleNamespace(id=found.id, code_dna=found.code_dna, operateur_id=found.operateur_id)


def _add_rows(app, *rows: dict) -> None:
    def add(session):
        session.execute(Changement.__table__.insert(), list(rows))
        session.commit()
    query(app, add)


def _row(structure: SimpleNamespace, **values) -> dict:
    base = {"at": dt.datetime(2026, 7, 1, 12, 0), "username": "calvados", "action": "update",
            "entity": "budget_annee", "entity_id": 999_001, "key": "2026", "field": "dotation_accordee",
            "old_value": "1000000", "new_value": "1250000.5", "origin": "form", "batch_id": None,
            "structure_id": structure.id, "user_id": None}
    return {**base, **values}


def _text(response) -> str:
    """A page's text, the narrow spaces of French numbers as plain spaces."""
    return re.sub("[\u202f\u00a0]", " ", response.get_data(as_text=True))


def _fiche_history(client, sid: int) -> str:
    page = _text(client.get(f"/structureview/show/{sid}"))
    return page[page.index('id="historique"'):page.index("</section>", page.index('id="historique"'))]


# -- item 3: Paris time ----------------------------------------------------------------------

def test_a_summer_time_is_shown_two_hours_ahead_and_a_winter_time_one():
    assert paris_time(dt.datetime(2026, 7, 1, 12, 0)) == "01/07/2026 14:00"
    assert paris_time(dt.datetime(2026, 1, 15, 12, 0)) == "15/01/2026 13:00"
    assert paris_time(dt.datetime(2026, 12, 31, 23, 30)) == "01/01/2027 00:30"  # the next day in Paris


def test_pages_show_paris_time_and_say_so_once(fresh_app):
    structure = _structure(fresh_app)
    _add_rows(fresh_app, _row(structure), _row(structure, at=dt.datetime(2026, 1, 15, 12, 0),
                                                entity_id=999_002))
    central = client_for(fresh_app, "centrale")
    page = central.get(f"/journal/list/?structure={structure.id}").get_data(as_text=True)
    assert "01/07/2026 14:00" in page and "15/01/2026 13:00" in page
    assert "01/07/2026 12:00" not in page
    assert page.count("heures de Paris") == 1
    fiche = _fiche_history(central, structure.id)
    assert "01/07/2026 14:00" in fiche


def test_journal_period_is_counted_in_paris_days(fresh_app):
    """23:30 UTC on 30 June is 1 July in Paris: a filter on 1 July finds it."""
    structure = _structure(fresh_app)
    _add_rows(fresh_app, _row(structure, at=dt.datetime(2026, 6, 30, 23, 30), new_value="777777"))
    central = client_for(fresh_app, "centrale")
    july = central.get(f"/journal/list/?structure={structure.id}&since=2026-07-01&until=2026-07-01")
    june = central.get(f"/journal/list/?structure={structure.id}&since=2026-06-30&until=2026-06-30")
    assert "777 777,00 €" in _text(july)
    assert "777 777,00 €" not in _text(june)


# -- item 4: history for people --------------------------------------------------------------

def test_a_grid_save_of_three_fields_is_one_entry_with_three_details(fresh_app):
    calvados = client_for(fresh_app, "calvados")
    loaded = next(r for r in rows(calvados, "places", annee=YEAR) if r["places_autorisees"] is not None)
    response = save(calvados, "places", [row(loaded, places_autorisees=str(loaded["places_autorisees"] + 7),
                                             pmr="3", places_a_creer="4")])
    assert response.status_code == 200, response.get_json()
    save_id = response.get_json()["save_id"]
    sid = query(fresh_app, lambda s: s.scalar(select(Structure.id).where(
        Structure.code_dna == loaded["code_dna"])))
    history = _fiche_history(calvados, sid)
    entry = re.search(r"<summary>([^<]*)</summary>\s*<ul[^>]*>(.*?)</ul>", history, re.S)
    assert entry, history
    assert entry[1] == f"Places {YEAR} : 3 champs modifiés par Calvados Agent départemental"
    details = re.findall(r"<li><strong>([^<]+)</strong>", entry[2])
    assert sorted(details) == ["PMR", "Places autorisées", "Places à créer"]
    assert f"saisie en grille n° {save_id}" in history


def test_values_are_french_labels_dates_and_amounts(fresh_app):
    structure = _structure(fresh_app)
    _add_rows(fresh_app, _row(structure),
              _row(structure, field="etp", old_value=None, new_value="12.5"),
              _row(structure, entity="structure", entity_id=structure.id, key=structure.code_dna,
                   field="fin_convention", old_value="2026-12-31", new_value="2027-06-30",
                   at=dt.datetime(2026, 7, 2, 9, 0)),
              _row(structure, entity="structure", entity_id=structure.id, key=structure.code_dna,
                   field="public", old_value="FAMILLE", new_value="PERSONNES_ISOLEES",
                   at=dt.datetime(2026, 7, 3, 9, 0)))
    history = _fiche_history(client_for(fresh_app, "calvados"), structure.id)
    assert "Finances 2026 : 2 champs modifiés par Calvados Agent départemental" in history
    assert "<strong>Dotation accordée</strong> : 1 000 000,00 € → 1 250 000,50 €" in history
    assert "<strong>ETP</strong> : – → 12,5" in history
    assert "<strong>Fin convention</strong> : 31/12/2026 → 30/06/2027" in history
    assert "<strong>Public</strong> : Famille → Personnes isolées" in history
    assert "budget_annee" not in history and "dotation_accordee" not in history


def test_an_unchanged_empty_field_writes_no_history(fresh_app):
    structure = _structure(fresh_app)

    def blank(session):
        s = session.get(Structure, structure.id)
        s.filiale, s.notes = None, None
        session.commit()
    query(fresh_app, blank)
    count = lambda s: s.scalar(select(func.count()).select_from(Changement).where(  # noqa: E731
        Changement.entity == "structure", Changement.entity_id == structure.id,
        Changement.field.in_(["filiale", "notes"])))
    before = query(fresh_app, count)

    def empty_strings(session):
        s = session.get(Structure, structure.id)
        s.filiale, s.notes = "", "  "
        session.commit()
    query(fresh_app, empty_strings)
    client = client_for(fresh_app, "calvados")
    _page, response = submit(client, f"/structureview/edit/{structure.id}", {"filiale": ""})
    assert response.status_code == 200
    assert query(fresh_app, count) == before


def test_an_import_entry_links_to_its_batch(fresh_app):
    structure = _structure(fresh_app)
    _add_rows(fresh_app, _row(structure, origin="import", batch_id=4, username="normandie"))
    central = client_for(fresh_app, "centrale")
    page = central.get(f"/journal/list/?structure={structure.id}&origin=import").get_data(as_text=True)
    assert '<a href="/imports/4/">import n° 4</a>' in page
    assert "Normandie Agent régional" in page


def test_the_history_export_is_french_and_safe_from_formulas(fresh_app):
    structure = _structure(fresh_app)
    _add_rows(fresh_app, _row(structure, entity="structure", entity_id=structure.id, field="notes",
                              key=structure.code_dna, old_value=None, new_value="=HYPERLINK(\"x\")"))
    central = client_for(fresh_app, "centrale")
    xlsx = central.get(f"/journal/export/?structure={structure.id}").get_data()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "Quand (heure de Paris)" in strings and "01/07/2026 14:00" in strings and "Notes" in strings
    assert "HYPERLINK" in strings and "<f>" not in sheet  # kept as text, never a formula


def test_an_agent_sees_only_their_territory_in_the_history(fresh_app):
    mine, other = _structure(fresh_app, "14"), _structure(fresh_app, "13")
    secret_op = query(fresh_app, lambda s: s.scalar(
        select(Operateur.nom).where(~Operateur.id.in_(select(Structure.operateur_id).join(Departement)
                                                      .where(Departement.code.in_(["14", "50", "61", "27", "76"]))))
        .order_by(Operateur.id)))
    secret_id = query(fresh_app, lambda s: s.scalar(select(Operateur.id).where(Operateur.nom == secret_op)))
    _add_rows(fresh_app, _row(other, new_value="4242424"),
              _row(mine, entity="structure", entity_id=mine.id, key=mine.code_dna, field="operateur_id",
                   old_value=str(secret_id), new_value=str(mine.operateur_id)))
    calvados = client_for(fresh_app, "calvados")
    assert calvados.get(f"/structureview/show/{other.id}").status_code == 404
    assert calvados.get("/journal/list/").status_code in (302, 403)
    history = _fiche_history(calvados, mine.id)
    assert secret_op not in history and f"n° {secret_id}" in history  # another territory's opérateur
    central_history = _fiche_history(client_for(fresh_app, "centrale"), mine.id)
    assert secret_op in central_history


def test_a_comment_is_one_entry_not_seven_rows(fresh_app):
    structure = _structure(fresh_app)
    at = dt.datetime(2026, 12, 2, 18, 3, 58)
    fields = {"tache_id": "6", "section": "finances", "at": "2026-12-02T18:03:58.054746",
              "username": "calvados", "auteur": "agent", "action": "a_corriger", "texte": "Budget à revoir"}
    _add_rows(fresh_app, *[_row(structure, at=at, action="create", entity="tache_commentaire", entity_id=6,
                                key="6", field=f, old_value=None, new_value=v) for f, v in fields.items()])

    def clean(session):
        session.execute(delete(Changement).where(Changement.structure_id == structure.id,
                                                 Changement.entity == "budget_annee"))
        session.commit()
    query(fresh_app, clean)
    history = _fiche_history(client_for(fresh_app, "centrale"), structure.id)
    assert history.count("Commentaire de campagne") == 1
    assert "Budget à revoir" in history and "2026-12-02T18:03:58" not in history
