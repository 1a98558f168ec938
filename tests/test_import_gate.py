"""Every import — web, ``flask bhasile import --user``, an opérateur's campaign upload — goes
through the write gate: a row of another territory is refused (and never shows its stored
values), nothing moves into or out of the territory, nothing is linked to a row outside it,
an opérateur never changes the State's fields; refused means nothing written at all."""
from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tests.conftest import Auth, client_for, run_cli
from tests.test_campagnes import csrf
from tests.test_campagnes_scope import region_campaign  # noqa: F401  (fixture)

DOMAIN_TABLES = ("operateur", "structure", "places_annee", "budget_annee", "activite_mensuelle",
                 "adresse", "adresse_annee", "convention", "convention_structure", "changement")
OUTSIDE = "hors de votre périmètre"


# --- the demo park, read once --------------------------------------------------------------------

@pytest.fixture(scope="module")
def park(app):
    """Records of the demo park the scenarios use: Calvados (14) for the agent, others outside."""
    from app.extensions import db
    from app.gate import Gate
    from imports.cli import user_scope
    from models import (ActiviteMensuelle, Adresse, AdresseAnnee, BudgetAnnee, Convention,
                        ConventionStructure, Departement, Operateur, PlacesAnnee, Structure)

    with app.app_context():
        s = db.session

        def structure(dep: str, code: str | None = None) -> Structure:
            query = select(Structure).join(Departement).where(Departement.code == dep)
            found = s.scalar(query.where(Structure.code_dna == code)) if code else None
            return found or s.scalar(query.order_by(Structure.code_dna))

        def first(model, *where):
            return s.scalar(select(model).where(*where).order_by(model.id))

        ain, paris, mine = structure("01", "C0101"), structure("75", "C7501"), structure("14")
        calvados, _user = user_scope("calvados")
        gate = Gate(calvados, s)
        ops = s.scalars(select(Operateur).join(Structure).join(Departement)
                        .where(Departement.code == "13").order_by(Operateur.id)).all()
        far_op = next(op for op in ops if not gate.inside(Operateur, op.id, "choose"))
        in_14 = select(ConventionStructure.convention_id).join(Structure).join(Departement) \
            .where(Departement.code == "14")
        far_conv = first(Convention, Convention.id.not_in(in_14))
        paris_addr = first(Adresse, Adresse.structure_id == paris.id)
        mine_addr = first(Adresse, Adresse.structure_id == mine.id)
        paris_year = first(PlacesAnnee, PlacesAnnee.structure_id == paris.id)
        op_scope, _user = user_scope("operateur")
        own = first(Structure, Structure.operateur_id == op_scope.operateur_id)
        own_addr = first(Adresse, Adresse.structure_id == own.id)
        data = {
            "ain": {"code": ain.code_dna, "type": ain.type.value, "nom": ain.nom,
                    "cp": ain.code_postal, "commune": ain.commune},
            "paris": {"code": paris.code_dna, "type": paris.type.value, "nom": paris.nom,
                      "cp": paris.code_postal, "commune": paris.commune, "year": paris_year.annee,
                      "mois": first(ActiviteMensuelle, ActiviteMensuelle.structure_id == paris.id).mois,
                      "budget": first(BudgetAnnee, BudgetAnnee.structure_id == paris.id).annee},
            "mine": {"code": mine.code_dna, "type": mine.type.value, "nom": mine.nom,
                     "year": first(PlacesAnnee, PlacesAnnee.structure_id == mine.id).annee},
            "far_op": far_op.nom, "far_op_siret": far_op.siret,
            "far_conv": (far_conv.reference, far_conv.type.value, far_conv.montant),
            "paris_addr": {"id": paris_addr.id, "adresse": paris_addr.adresse,
                           "cp": paris_addr.code_postal,
                           "year": first(AdresseAnnee, AdresseAnnee.adresse_id == paris_addr.id).annee},
            "mine_addr": {"id": mine_addr.id, "adresse": mine_addr.adresse,
                          "year": first(AdresseAnnee, AdresseAnnee.adresse_id == mine_addr.id).annee},
            "own": {"code": own.code_dna,
                    "budget": first(BudgetAnnee, BudgetAnnee.structure_id == own.id).annee,
                    "places": first(PlacesAnnee, PlacesAnnee.structure_id == own.id).annee,
                    "mois": first(ActiviteMensuelle, ActiviteMensuelle.structure_id == own.id).mois,
                    "addr": own_addr.id,
                    "addr_year": first(AdresseAnnee, AdresseAnnee.adresse_id == own_addr.id).annee},
        }
        s.rollback()
        return data


# --- helpers -------------------------------------------------------------------------------------

def workbook(**sheets: list[list]) -> bytes:
    """A workbook with one sheet per argument (first row: the headers)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name.replace("Activite", "Activité").replace("Operateurs", "Opérateurs"))
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def snapshot(app) -> dict:
    """Every domain row and every history row: equal before and after means nothing written."""
    from app.extensions import db

    with app.app_context():
        conn = db.session.connection()
        meta = sa.MetaData()
        out = {}
        for name in DOMAIN_TABLES:
            table = sa.Table(name, meta, autoload_with=conn)
            out[name] = conn.execute(select(table).order_by(table.c.id)).all()
        db.session.rollback()
        return out


def assert_same(app, before: dict) -> None:
    after = snapshot(app)
    changed = {name: [r for r in after[name] if r not in set(before[name])] for name in after
               if after[name] != before[name]}
    assert not changed, f"written: {changed}"


def cli_import(app, tmp_path, data: bytes, login: str, *extra: str):
    path = tmp_path / "classeur.xlsx"
    path.write_bytes(data)
    return run_cli(app, "bhasile", "import", str(path), "--user", login, *extra)


def web_import(client, data: bytes) -> tuple[int, str]:
    token = Auth(client).csrf("/imports/")
    sent = client.post("/imports/envoyer", data={"csrf_token": token, "annee": "",
                                                 "fichier": (io.BytesIO(data), "classeur.xlsx")},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, sent.status_code
    batch = int(re.search(r"/imports/(\d+)/", sent.headers["Location"]).group(1))
    page = client.get(f"/imports/{batch}/")
    assert page.status_code == 200
    return batch, page.get_data(as_text=True)


def web_apply(client, batch: int) -> str:
    token = Auth(client).csrf("/imports/")
    response = client.post(f"/imports/{batch}/appliquer", data={"csrf_token": token},
                           follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def annotated_text(client, batch: int) -> str:
    """Every value and comment of the annotated file, as one text."""
    response = client.get(f"/imports/{batch}/annote")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    parts = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                parts.append(str(cell.value) if cell.value is not None else "")
                parts.append(cell.comment.text if cell.comment else "")
    return "\n".join(parts)


def assert_absent(text: str, *stored) -> None:
    for value in stored:
        if value not in (None, ""):
            assert not re.search(rf"\b{re.escape(str(value))}\b", text), f"stored value {value!r} shown"


# --- the critical hole: a structure of another département -------------------------------------

def test_calvados_agent_cannot_rename_a_structure_of_ain_web(fresh_app, park):
    ain = park["ain"]
    data = workbook(Structures=[["Code DNA", "Nom", "Type"], [ain["code"], "RENOMMEE", ain["type"]]])
    client = client_for(fresh_app, "calvados")
    before = snapshot(fresh_app)
    batch, page = web_import(client, data)
    assert OUTSIDE in page and "Appliquer l" not in page
    assert_absent(page, ain["nom"], ain["cp"], ain["commune"])
    assert_absent(annotated_text(client, batch), ain["nom"], ain["cp"], ain["commune"])
    done = web_apply(client, batch)
    assert "Import appliqué" not in done
    assert_same(fresh_app, before)


def test_calvados_agent_cannot_move_a_paris_structure_into_calvados(fresh_app, park):
    paris = park["paris"]
    data = workbook(Structures=[["Code DNA", "Département", "Code postal"], [paris["code"], "14", "14000"]])
    client = client_for(fresh_app, "calvados")
    before = snapshot(fresh_app)
    batch, page = web_import(client, data)
    assert OUTSIDE in page and "Appliquer l" not in page
    assert_absent(page, paris["nom"], paris["cp"], paris["commune"])
    assert_absent(annotated_text(client, batch), paris["nom"], paris["cp"], paris["commune"])
    web_apply(client, batch)
    assert_same(fresh_app, before)


def test_cli_import_as_calvados_refuses_a_structure_of_another_departement(fresh_app, tmp_path, park):
    ain, paris = park["ain"], park["paris"]
    data = workbook(Structures=[["Code DNA", "Nom", "Type", "Département", "Code postal"],
                                [ain["code"], "RENOMMEE", ain["type"], None, None],
                                [paris["code"], None, paris["type"], "14", "14000"]])
    before = snapshot(fresh_app)
    for extra in ((), ("--json",)):
        result = cli_import(fresh_app, tmp_path, data, "calvados", *extra)
        assert result.exit_code == 1, result.output
        assert result.output.count(OUTSIDE) == 2
        assert_absent(result.output, ain["nom"], ain["cp"], ain["commune"], paris["nom"], paris["commune"])
    assert_same(fresh_app, before)


def test_an_unchanged_row_of_another_territory_says_nothing_of_it(app, park, tmp_path):
    """Unchanged or changed, the refusal is the same: the preview is no oracle of stored values."""
    ain = park["ain"]
    same = workbook(Structures=[["Code DNA", "Nom", "Type"], [ain["code"], ain["nom"], ain["type"]]])
    other = workbook(Structures=[["Code DNA", "Nom", "Type"], [ain["code"], "RENOMMEE", ain["type"]]])
    outputs = []
    for data in (same, other):
        result = cli_import(app, tmp_path, data, "calvados", "--dry-run", "--json")
        assert result.exit_code == 1
        summary = json.loads(result.output)
        outputs.append([(e["column"], e["message"]) for e in summary["errors"]])
        assert summary["changes"] == []
    assert outputs[0] == outputs[1] and len(outputs[0]) == 1


# --- State's fields: every import, every path ---------------------------------------------------

@pytest.mark.parametrize("sheet,header,key", [
    ("Budgets", "Dotation accordée", "budget"),
    ("Budgets", "Reprise État", "budget"),
    ("Places", "Places autorisées", "places"),
    ("Places", "Places à créer", "places"),
    ("Places", "Places à fermer", "places"),
])
def test_cli_operateur_cannot_change_the_states_fields(fresh_app, tmp_path, park, sheet, header, key):
    own = park["own"]
    data = workbook(**{sheet: [["Code DNA", "Année", header], [own["code"], own[key], 987654]]})
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, data, "operateur")
    assert result.exit_code == 1, result.output
    assert "réservé aux services de l" in result.output
    assert_same(fresh_app, before)


def test_cli_operateur_cannot_change_places_autorisees_of_activity_or_addresses(fresh_app, tmp_path, park):
    own = park["own"]
    data = workbook(Activite=[["Code DNA", "Mois", "Places autorisées"],
                              [own["code"], own["mois"].strftime("%m/%Y"), 987]],
                    Adresses=[["ID", "Code DNA", "Année", "Places autorisées"],
                              [own["addr"], own["code"], own["addr_year"], 987]])
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, data, "operateur")
    assert result.exit_code == 1, result.output
    assert result.output.count("réservé aux services de l") == 2
    assert_same(fresh_app, before)


def test_cli_operateur_cannot_change_a_structure_sheet(fresh_app, tmp_path, park):
    own = park["own"]
    data = workbook(Structures=[["Code DNA", "Nom", "Fin autorisation"], [own["code"], "X", "31/12/2040"]])
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, data, "operateur")
    assert result.exit_code == 1 and "rôle ne permet pas" in result.output
    assert_same(fresh_app, before)


def test_cli_operateur_fills_what_it_may(fresh_app, tmp_path, park):
    own = park["own"]
    data = workbook(Budgets=[["Code DNA", "Année", "Dotation demandée", "Commentaire"],
                             [own["code"], own["budget"], 123456, "demande revue"]])
    result = cli_import(fresh_app, tmp_path, data, "operateur")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        from app.extensions import db
        from models import BudgetAnnee, Structure

        row = db.session.scalar(select(BudgetAnnee).join(Structure).where(
            Structure.code_dna == own["code"], BudgetAnnee.annee == own["budget"]))
        assert float(row.dotation_demandee) == 123456 and row.commentaire == "demande revue"


def test_campaign_upload_refuses_the_states_fields_and_applies_nothing(fresh_app, region_campaign):  # noqa: F811
    """The campaign upload goes through the same gate as any import: the preview lists the
    refusal, and a forced apply writes nothing."""
    c = region_campaign
    client = client_for(fresh_app, "operateur")
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/campagnes/saisie/{c['id']}/classeur.xlsx").data))
    for sheet, label in (("Budgets", "Dotation accordée"), ("Places", "Places autorisées")):
        ws = book[sheet]
        ws.cell(row=2, column=[cell.value for cell in ws[1]].index(label) + 1, value=7654321)
    out = io.BytesIO()
    book.save(out)
    before = snapshot(fresh_app)
    sent = client.post(f"/campagnes/saisie/{c['id']}/envoyer", data={
        "csrf_token": csrf(client, "/campagnes/saisie/"), "fichier": (io.BytesIO(out.getvalue()), "f.xlsx")})
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert page.count("réservé aux services de l") == 2 and "Appliquer le classeur" not in page
    forced = client.post(sent.headers["Location"] + "appliquer",
                         data={"csrf_token": csrf(client, "/campagnes/saisie/")}, follow_redirects=True)
    assert forced.status_code == 200 and "ne peut pas être appliqué" in forced.get_data(as_text=True)
    assert_same(fresh_app, before)


# --- relations and moves ------------------------------------------------------------------------

def _scenarios(park) -> dict[str, bytes]:
    paris, mine, own = park["paris"], park["mine"], park["own"]
    far_ref, far_kind, _montant = park["far_conv"]
    addr = ["ID", "Code DNA", "Adresse", "Répartition", "Année", "Places autorisées"]
    return {
        "structure handed to an opérateur of another région": workbook(
            Structures=[["Code DNA", "Type", "Opérateur"], [mine["code"], mine["type"], park["far_op"]]]),
        "structure moved out of Calvados": workbook(
            Structures=[["Code DNA", "Département", "Code postal"], [mine["code"], "75", "75001"]]),
        "structure created in Paris": workbook(
            Structures=[["Code DNA", "Type", "Département", "Code postal"],
                        ["Z9999", "CADA", "75", "75001"]]),
        "new year of places of a Paris structure": workbook(
            Places=[["Code DNA", "Année", "Places autorisées"], [paris["code"], 2041, 10]]),
        "places of a Paris structure": workbook(
            Places=[["Code DNA", "Année", "PMR"], [paris["code"], paris["year"], 3]]),
        "budget of a Paris structure": workbook(
            Budgets=[["Code DNA", "Année", "Commentaire"], [paris["code"], paris["budget"], "vu"]]),
        "new budget year of a Paris structure": workbook(
            Budgets=[["Code DNA", "Année", "Commentaire"], [paris["code"], 2041, "vu"]]),
        "activity of a Paris structure": workbook(
            Activite=[["Code DNA", "Mois", "Travaux"], [paris["code"], paris["mois"].strftime("%m/%Y"), 4]]),
        "Paris address taken into Calvados": workbook(
            Adresses=[addr, [park["paris_addr"]["id"], mine["code"], "1 rue du Port", "Diffus",
                             park["paris_addr"]["year"], 2]]),
        "Paris address, new year": workbook(
            Adresses=[addr, [park["paris_addr"]["id"], paris["code"], "1 rue du Port", "Diffus", 2041, 2]]),
        "new address of a Paris structure": workbook(
            Adresses=[addr, [None, paris["code"], "1 rue du Port", "Diffus", 2025, 2]]),
        "Calvados address moved to Paris": workbook(
            Adresses=[addr, [park["mine_addr"]["id"], paris["code"], park["mine_addr"]["adresse"],
                             "Diffus", park["mine_addr"]["year"], 2]]),
        "convention linked to a Paris structure": workbook(
            Conventions=[["Référence", "Type", "Codes DNA"],
                         ["CONV-14-1", "CONVENTION", f"{mine['code']}, {paris['code']}"]]),
        "new convention of a Paris structure": workbook(
            Conventions=[["Référence", "Type", "Codes DNA"], ["CONV-Z-1", "CPOM", paris["code"]]]),
        "new convention with an opérateur of another région": workbook(
            Conventions=[["Référence", "Type", "Opérateur", "Codes DNA"],
                         ["CONV-Z-2", "CONVENTION", park["far_op"], mine["code"]]]),
        "convention of another territory changed": workbook(
            Conventions=[["Référence", "Type", "Montant"], [far_ref, far_kind, 1]]),
        "opérateur of another région changed": workbook(
            Operateurs=[["Nom", "Direction générale", "Siège social"],
                        [park["far_op"], "Ailleurs", "Ailleurs"]]),
        "structure of another opérateur in the operator's file": workbook(
            Places=[["Code DNA", "Année", "PMR"], [paris["code"], paris["year"], 1],
                    [own["code"], own["places"], 0]]),
    }


SCENARIOS = ["structure handed to an opérateur of another région", "structure moved out of Calvados",
             "structure created in Paris", "new year of places of a Paris structure",
             "places of a Paris structure", "budget of a Paris structure",
             "new budget year of a Paris structure", "activity of a Paris structure",
             "Paris address taken into Calvados", "Paris address, new year",
             "new address of a Paris structure", "Calvados address moved to Paris",
             "convention linked to a Paris structure", "new convention of a Paris structure",
             "new convention with an opérateur of another région",
             "convention of another territory changed", "opérateur of another région changed"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_calvados_import_refuses_rows_and_relations_outside(fresh_app, tmp_path, park, scenario):
    data = _scenarios(park)[scenario]
    if scenario == "convention linked to a Paris structure":  # a Calvados convention first
        first = workbook(Conventions=[["Référence", "Type", "Codes DNA"],
                                      ["CONV-14-1", "CONVENTION", park["mine"]["code"]]])
        created = cli_import(fresh_app, tmp_path, first, "calvados")
        assert created.exit_code == 0, created.output
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, data, "calvados")
    assert result.exit_code == 1, result.output
    assert "ERREUR" in result.output and ("périmètre" in result.output), result.output
    assert_absent(result.output, park["paris"]["nom"], park["paris"]["commune"],
                  park["paris_addr"]["adresse"], park["far_op_siret"], park["far_conv"][2])
    assert_same(fresh_app, before)


def test_operateur_import_refuses_a_structure_of_another_operateur(fresh_app, tmp_path, park):
    data = _scenarios(park)["structure of another opérateur in the operator's file"]
    before = snapshot(fresh_app)
    result = cli_import(fresh_app, tmp_path, data, "operateur")
    assert result.exit_code == 1 and result.output.count(OUTSIDE) == 1, result.output
    assert_same(fresh_app, before)


def test_relations_named_on_their_cell(app, tmp_path, park):
    result = cli_import(app, tmp_path, _scenarios(park)["new convention of a Paris structure"],
                        "calvados", "--dry-run", "--json")
    errors = json.loads(result.output)["errors"]
    assert [(e["column"], park["paris"]["code"] in e["message"]) for e in errors] == [("Codes DNA", True)]
    result = cli_import(app, tmp_path, _scenarios(park)["structure handed to an opérateur of another région"],
                        "calvados", "--dry-run", "--json")
    assert [e["column"] for e in json.loads(result.output)["errors"]] == ["Opérateur"]


# --- what stays allowed -----------------------------------------------------------------------------

def test_calvados_creates_a_structure_and_its_rows_in_one_file(fresh_app, tmp_path, park):
    """Rows may refer to the structure and opérateur the same file creates."""
    data = workbook(
        Operateurs=[["Nom", "Direction générale", "Siège social"],
                    ["Association Nouvelle du Bessin", "Bayeux", "Bayeux"]],
        Structures=[["Code DNA", "Type", "Département", "Code postal", "Opérateur", "Code FINESS"],
                    ["Z1499", "CADA", "14", "14400", "Association Nouvelle du Bessin", "140000001"]],
        Places=[["Code DNA", "Année", "Places autorisées"], ["Z1499", 2025, 40]],
        Adresses=[["ID", "Code DNA", "Adresse", "Répartition", "Année", "Places autorisées"],
                  [None, "Z1499", "2 rue Neuve", "Diffus", 2025, 40]],
        Conventions=[["Référence", "Type", "Codes DNA"], ["CONV-Z1499", "CONVENTION", "Z1499"]],
    )
    result = cli_import(fresh_app, tmp_path, data, "calvados")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        from app.extensions import db
        from models import Adresse, Convention, PlacesAnnee, Structure

        sid = db.session.scalar(select(Structure.id).where(Structure.code_dna == "Z1499"))
        places = select(PlacesAnnee.places_autorisees).where(PlacesAnnee.structure_id == sid)
        assert db.session.scalar(places) == 40
        assert db.session.scalar(select(Adresse.adresse).where(Adresse.structure_id == sid)) == "2 rue Neuve"
        assert db.session.scalar(select(Convention.id).where(Convention.reference == "CONV-Z1499"))


def test_calvados_creates_a_cada_without_finess_on_the_web_a_completer(fresh_app, park):
    """A missing FINESS is no refusal: the preview warns, row by row, of what the fiche still
    needs; the apply creates the structure, whose fiche says « à compléter »."""
    data = workbook(Structures=[["Code DNA", "Type", "Département", "Code postal"],
                                ["Z1497", "CADA", "14", "14000"], ["Z1498", "CPH", "14", "14400"]])
    client = client_for(fresh_app, "calvados")
    batch, page = web_import(client, data)
    assert "Appliquer l" in page
    assert "ligne 2 (Z1497) : fiche à compléter, manque : Nom, Opérateur, Code FINESS" in page
    assert "ligne 3 (Z1498)" in page
    done = web_apply(client, batch)
    assert "Import appliqué" in done
    with fresh_app.app_context():
        from app.extensions import db
        from models import Structure

        sid = db.session.scalar(select(Structure.id).where(Structure.code_dna == "Z1497"))
    fiche = client.get(f"/structureview/show/{sid}").get_data(as_text=True)
    assert "À compléter" in fiche and "Code FINESS" in fiche


def test_calvados_renames_its_own_structure(fresh_app, tmp_path, park):
    mine = park["mine"]
    data = workbook(Structures=[["Code DNA", "Nom", "Type"], [mine["code"], "Nouveau nom", mine["type"]]])
    result = cli_import(fresh_app, tmp_path, data, "calvados")
    assert result.exit_code == 0, result.output
    with fresh_app.app_context():
        from app.extensions import db
        from models import Structure

        name = select(Structure.nom).where(Structure.code_dna == mine["code"])
        assert db.session.scalar(name) == "Nouveau nom"


def test_a_national_user_imports_anywhere(fresh_app, tmp_path, park):
    ain = park["ain"]
    data = workbook(Structures=[["Code DNA", "Nom", "Type"], [ain["code"], "RENOMMEE", ain["type"]]])
    result = cli_import(fresh_app, tmp_path, data, "centrale")
    assert result.exit_code == 0, result.output


def test_a_malformed_file_gets_a_french_message(app, tmp_path):
    result = cli_import(app, tmp_path, b"PK\x03\x04 not a workbook", "calvados")
    assert result.exit_code == 2 and "Fichier inutilisable" in result.output
    client = client_for(app, "calvados")
    _batch, page = web_import(client, b"\x00\x01garbage")
    assert "alert" in page


