"""« Complete later, don't refuse now »: a DREETS legacy wide sheet with new CADA and no FINESS
column creates every structure, « à compléter »; the gaps show on the fiche, in « À traiter »,
in the import preview and in the completeness indicator; a value present but wrong stays an
error; the completeness pages hold the user's scope."""
from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest
from sqlalchemy import select

from app.sheets import BY_NAME
from tests.conftest import client_for, run_cli
from tests.views_util import out_of_scope_codes

YEAR = dt.date.today().year
#: 12 new structures of the Calvados: 7 CADA/CPH (which need a FINESS), 5 HUDA/CAES/PRAHDA
NEW = [("C1481", "CADA"), ("C1482", "CADA"), ("C1483", "CADA"), ("C1484", "CADA"),
       ("C1485", "CADA"), ("R1481", "CPH"), ("R1482", "CPH"), ("H1481", "HUDA"),
       ("H1482", "HUDA"), ("H1483", "HUDA"), ("K1481", "CAES"), ("P1481", "PRAHDA")]
NO_PLACES = "H1483"   #: its « Places autorisées » cell is empty


def legacy_sheet(operateur: str, rows=NEW, finess: dict | None = None, debut: str = "01/01/2024") -> bytes:
    """A DREETS tracking sheet as agents keep it: title lines, a group row above the headers,
    one row per structure with the places and budget of given years side by side, a total row,
    and (unless ``finess`` is given) no FINESS column."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Suivi DREETS"
    ws.append(["Suivi du parc d'hébergement — Normandie (initialisation BHasile)"])
    ws.append(["Mise à jour : 02/12/2026 — document de travail"])
    ws.append([])
    extra = ["FINESS"] if finess is not None else []
    ws.append(["Identification", None, None, None, None, "Places", "Calendrier", "Finances", None]
              + [None] * len(extra))
    ws.append(["N° DNA", "Nom de la structure", "Type", "Gestionnaire", "Dépt",
               f"Places autorisées {YEAR}", "Création", f"Dotation accordée {YEAR - 1}",
               f"ETP {YEAR - 1}"] + extra)
    for code, kind in rows:
        places = None if code == NO_PLACES else "60"
        ws.append([f" {code.lower()} ", f"{kind} {code}", kind, operateur, "14 - Calvados", places,
                   debut, "480 000,00 €", "4,5"] + ([finess.get(code)] if finess is not None else []))
    ws.append([None, "TOTAL", None, None, None, "=SUM(F6:F17)"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def calvados_operateur(app) -> str:
    from app.extensions import db
    from models import Departement, Operateur, Structure

    with app.app_context():
        return db.session.scalar(select(Operateur.nom).join(Structure).join(Departement)
                                 .where(Departement.code == "14").order_by(Operateur.nom).limit(1))


def import_file(app, tmp_path, data: bytes, *extra: str) -> tuple[int, dict]:
    path = tmp_path / "suivi-dreets.xlsx"
    path.write_bytes(data)
    result = run_cli(app, "bhasile", "import", str(path), "--user", "calvados", "--json", *extra)
    return result.exit_code, json.loads(result.output)


def structure_ids(app, codes) -> dict[str, int]:
    from app.extensions import db
    from models import Structure

    with app.app_context():
        return dict(db.session.execute(select(Structure.code_dna, Structure.id)
                                       .where(Structure.code_dna.in_(codes))).all())


@pytest.fixture()
def imported(fresh_app, tmp_path):
    """The legacy sheet imported by the Calvados agent."""
    assert structure_ids(fresh_app, [c for c, _k in NEW]) == {}
    code, report = import_file(fresh_app, tmp_path, legacy_sheet(calvados_operateur(fresh_app)))
    assert code == 0, report["errors"]
    return fresh_app, report


# --- the import ------------------------------------------------------------------------------------

def test_a_legacy_sheet_with_new_cada_and_no_finess_column_creates_them_all(imported):
    app, report = imported
    assert report["errors"] == []
    assert report["sheets"]["Structures"]["new"] == 12
    assert report["sheets"]["Structures"]["skipped"] == 1          # the TOTAL row
    assert set(structure_ids(app, [c for c, _k in NEW])) == {c for c, _k in NEW}
    # the preview's warnings name, row by row, what the fiche still needs
    finess = [w for w in report["warnings"] if "Code FINESS" in w]
    assert len(finess) == 7 and all("fiche à compléter" in w for w in finess)
    assert any("ligne 6 (C1481)" in w and "Latitude" in w for w in report["warnings"])
    huda = next(w for w in report["warnings"] if "(H1481)" in w)
    assert "Code FINESS" not in huda and "Longitude" in huda
    assert any(f"({NO_PLACES} {YEAR})" in w and "Places autorisées" in w for w in report["warnings"])


def test_a_finess_present_but_wrong_is_still_an_error_and_nothing_is_written(fresh_app, tmp_path):
    data = legacy_sheet(calvados_operateur(fresh_app), NEW[:2], finess={"C1481": "14000A01",
                                                                         "C1482": "140000017"})
    code, report = import_file(fresh_app, tmp_path, data)
    assert code == 1
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(6, "Code FINESS")]
    assert "9 caractères" in report["errors"][0]["message"]
    assert structure_ids(fresh_app, ["C1481", "C1482"]) == {}


DATE_CREATION = BY_NAME["Structures"].by_field["date_creation"].label


def test_a_bad_date_is_still_an_error(fresh_app, tmp_path):
    code, report = import_file(fresh_app, tmp_path,
                               legacy_sheet(calvados_operateur(fresh_app), NEW[:1], debut="31/02/2024"))
    assert code == 1 and [e["column"] for e in report["errors"]] == [DATE_CREATION]
    assert structure_ids(fresh_app, ["C1481"]) == {}


def test_the_write_gate_takes_a_cada_without_finess_on_every_path(app):
    """Forms, the API, the grid and the import all ask the gate, which asks app.rules."""
    from app.extensions import db
    from app.gate import Gate
    from app.scope import NATIONAL
    from models import Departement, Structure

    with app.test_request_context():
        dep = db.session.scalar(select(Departement.id).where(Departement.code == "14"))
        gate = Gate(NATIONAL, db.session)
        assert gate.check(Structure, None, {"code_dna": "C1499", "type": "CADA", "departement_id": dep,
                                            "code_finess": None}) == []
        wrong = gate.check(Structure, None, {"code_dna": "C1499", "type": "CADA", "departement_id": dep,
                                             "code_finess": "1400"})
        assert [e.field for e in wrong] == ["code_finess"]
        db.session.rollback()


# --- where the gaps show --------------------------------------------------------------------------

def test_the_fiche_says_a_completer_and_lists_what_is_missing_per_section(imported):
    app, _report = imported
    ids = structure_ids(app, ["C1481"])
    page = client_for(app, "calvados").get(f"/structureview/show/{ids['C1481']}").get_data(as_text=True)
    assert "À compléter" in page and "Fiche à compléter" in page
    gaps = page[page.index('id="completude"'):page.index('id="description"')]
    assert "Code FINESS" in gaps and "Latitude" in gaps and "Fin autorisation" in gaps
    assert f"Places autorisées {YEAR - 1}" in gaps and f"Dotation accordée {YEAR}" in gaps
    assert f"Places autorisées {YEAR}," not in gaps                 # given by the file
    assert 'href="#calendrier"' in gaps


def test_a_demo_structure_with_all_its_values_is_not_a_completer(app):
    from app.extensions import db
    from models import Departement, Structure

    with app.app_context():
        sid = db.session.scalar(select(Structure.id).join(Departement).where(Departement.code == "14")
                                .order_by(Structure.id))
    page = client_for(app, "calvados").get(f"/structureview/show/{sid}").get_data(as_text=True)
    assert "Fiche à compléter" not in page and ">À compléter<" not in page


def add_paris_gap(app) -> None:
    """A structure of Paris with nothing but its key fields: « à compléter », outside Calvados."""
    from app.extensions import db
    from models import Departement, Structure
    from models.enums import TypeStructure

    with app.app_context():
        dep = db.session.scalar(select(Departement.id).where(Departement.code == "75"))
        db.session.add(Structure(code_dna="C7598", type=TypeStructure.CADA, departement_id=dep))
        db.session.commit()


def test_a_traiter_lists_the_structures_to_complete_of_the_territory_only(imported):
    app, _report = imported
    add_paris_gap(app)
    # « À traiter » reads the aggregates, rebuilt within the minute after a save or an import
    assert run_cli(app, "bhasile", "rebuild").exit_code == 0
    page = client_for(app, "calvados").get("/a-traiter/").get_data(as_text=True)
    section = page[page.index('id="a-traiter-completude"'):page.index('id="a-traiter-documents"')]
    assert "Fiches à compléter" in section
    assert all(code in section for code, _k in NEW)
    assert "Code FINESS" in section
    other = client_for(app, "normandie").get("/a-traiter/").get_data(as_text=True)
    assert "C1481" in other                    # the région sees its département's gaps
    assert "C7598" not in page and "C7598" not in other
    national = client_for(app, "centrale").get("/a-traiter/").get_data(as_text=True)
    assert "C1481" in national and "C7598" in national


# --- the indicator --------------------------------------------------------------------------------

def test_indicator_figures_on_the_imported_structures(imported):
    app, _report = imported
    from app.pilotage import completude
    from app.pilotage.completude_stats import FICHE, indicator
    from app.extensions import db
    from models import Structure

    with app.test_request_context():
        years = completude.shown_years()
        fiches = completude.evaluate(db.session, Structure.code_dna.in_([c for c, _k in NEW]), years)
        ind = indicator(fiches.values(), years)

    def share(section, year=None):
        s = ind.share(section, year)
        return s.complete, s.total

    assert ind.structures == 12 and ind.a_completer == 12
    assert share("description") == (0, 12)                  # no coordinates in the file
    assert share("calendrier") == (0, 12)                    # no date de création, no fin
    assert share("places", YEAR) == (11, 12)                 # one empty cell
    assert share("places", YEAR - 1) == (0, 12)
    assert share("finances", YEAR - 1) == (12, 12)           # dotation and ETP of N−1
    assert share("finances", YEAR) == (0, 12)
    assert share("documents", YEAR) == (1, 12)               # a PRAHDA owes no document
    assert share(FICHE, YEAR) == (0, 12)


def test_indicator_counts_a_year_only_from_the_structures_creation():
    from app.pilotage.completude import Fiche
    from app.pilotage.completude_stats import FICHE, by_departement, indicator

    years = [2022, 2023, 2024, 2025, 2026]
    complete = Fiche(1, "C0001", "", "HUDA", 10, years)
    young = Fiche(2, "C0002", "", "HUDA", 10, [2025, 2026])
    young.add("places", 2026, "Places autorisées", 2026)
    gap = Fiche(3, "C0003", "", "CADA", 20, years)
    gap.add("description", None, "Code FINESS")
    ind = indicator([complete, young, gap], years)
    assert (ind.share("places", 2022).complete, ind.share("places", 2022).total) == (2, 2)
    assert (ind.share("places", 2026).complete, ind.share("places", 2026).total) == (2, 3)
    assert (ind.share("description").complete, ind.share("description").total) == (2, 3)
    assert (ind.share(FICHE, 2025).complete, ind.share(FICHE, 2025).total) == (2, 3)
    assert ind.share(FICHE, 2025).ratio == pytest.approx(2 / 3)
    assert ind.a_completer == 2
    groups = by_departement({f.id: f for f in (complete, young, gap)}, years)
    assert (groups[10].structures, groups[20].structures) == (2, 1)
    assert groups[20].share("description").complete == 0


# --- the completeness pages, within the scope ---------------------------------------------------

def test_the_region_page_shows_every_year_and_section_with_a_drill_down(imported):
    app, _report = imported
    client = client_for(app, "normandie")
    page = client.get("/completude/region/28/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert all(str(y) in body for y in range(YEAR - 4, YEAR + 1))
    assert all(label in body for label in ("Description", "Calendrier", "Places", "Finances",
                                           "Documents", "Fiche entière"))
    assert "/completude/departement/14/" in body and "/completude/departement/50/" in body
    drill = client.get("/completude/departement/14/").get_data(as_text=True)
    assert "C1481" in drill and "À compléter" in drill and "Code FINESS" in drill


def test_completeness_pages_hold_the_scope(imported):
    app, _report = imported
    add_paris_gap(app)
    calvados = client_for(app, "calvados")
    assert calvados.get("/completude/region/11/").status_code == 404      # Île-de-France
    assert calvados.get("/completude/departement/50/").status_code == 404  # Manche, same région
    assert calvados.get("/completude/departement/75/").status_code == 404
    assert calvados.get("/completude/region/99/").status_code == 404
    index = calvados.get("/completude/")
    assert index.status_code == 302 and index.headers["Location"].endswith("/completude/region/28/")
    body = calvados.get("/completude/region/28/").get_data(as_text=True)
    assert "Vue limitée à votre périmètre" in body and "C1481" not in body
    assert "14 – Calvados" in body and "Manche" not in body and "Orne" not in body
    drill = calvados.get("/completude/departement/14/").get_data(as_text=True)
    hidden = out_of_scope_codes(app.config["SQLALCHEMY_DATABASE_URI"], "14")
    assert "C1481" in drill and not [code for code in hidden if code in drill]
    assert client_for(app, None).get("/completude/region/28/").status_code in (302, 401, 403)
    paris = client_for(app, "centrale").get("/completude/departement/75/").get_data(as_text=True)
    assert "C7598" in paris and "Code FINESS" in paris


def test_the_national_index_lists_the_regions_with_their_shares(app):
    body = client_for(app, "centrale").get(f"/completude/?annee={YEAR - 1}").get_data(as_text=True)
    assert "Normandie" in body and "Île-de-France" in body and "Fiche entière" in body
    assert f'aria-current="page">{YEAR - 1}<' in body
    assert client_for(app, "centrale").get("/completude/?annee=abc").status_code == 200


def test_the_form_and_the_api_create_a_cph_without_finess_and_say_what_to_complete(fresh_app):
    from app.extensions import db
    from models import Departement
    from tests.conftest import Auth

    with fresh_app.app_context():
        dep = db.session.scalar(select(Departement.id).where(Departement.code == "14"))
    client = client_for(fresh_app, "calvados")
    token = Auth(client).csrf("/structureview/add")
    page = client.post("/structureview/add", data={"code_dna": "R1497", "type": "CPH", "departement": str(dep),
                                                   "nom": "CPH Bayeux", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Fiche à compléter : Opérateur, Code FINESS" in page
    api = client.post("/api/v1/structure/", json={"code_dna": "R1496", "type": "CPH", "departement": dep})
    assert api.status_code == 201, api.get_json()
    wrong = client.post("/api/v1/structure/", json={"code_dna": "R1495", "type": "CPH", "departement": dep,
                                                    "code_finess": "1400"})
    assert wrong.status_code == 422 and "9 caractères" in str(wrong.get_json())
    assert set(structure_ids(fresh_app, ["R1495", "R1496", "R1497"])) == {"R1496", "R1497"}


def test_an_operateur_is_not_asked_to_complete_the_states_fields():
    from app.pilotage.completude import missing_in_row
    from app.gate import STATE_FIELDS

    assert [str(x) for x in missing_in_row("budget_annee", {"etp": 3})] == ["Dotation accordée"]
    assert missing_in_row("budget_annee", {"etp": 3}, reserved=STATE_FIELDS["budget_annee"]) == []
    assert [str(x) for x in missing_in_row("budget_annee", {"dotation_accordee": 1},
                                           reserved=STATE_FIELDS["budget_annee"])] == ["ETP"]
