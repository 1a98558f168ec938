"""Campaign scope: an opérateur never sees another opérateur's structures, tasks or files
(pre-filled workbook included); a Calvados agent never sees another département's tasks."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import client_for
from tests.test_campagnes import csrf, post, task_ids


@pytest.fixture()
def region_campaign(fresh_app):
    """A campaign on the whole of Normandie (région 28), opened by the regional agent."""
    with fresh_app.app_context():
        from app.extensions import db
        from models import BhasileUser, Departement, Region, Structure

        region = db.session.scalar(select(Region).where(Region.code == "28"))
        op_id = db.session.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        rows = db.session.execute(select(Structure.id, Structure.code_dna, Structure.operateur_id, Departement.code)
                                  .join(Departement).where(Departement.region_id == region.id)).all()
        # the demo opérateur gets a second Normandie structure so "its own" is not a single row
        other = next(r for r in rows if r.operateur_id != op_id and r.code == "14")
        db.session.get(Structure, other.id).operateur_id = op_id
        db.session.commit()
        rows = db.session.execute(select(Structure.id, Structure.code_dna, Structure.operateur_id, Departement.code)
                                  .join(Departement).where(Departement.region_id == region.id)).all()
        region_id = region.id
    agent = client_for(fresh_app, "normandie")
    token = csrf(agent, "/campagnes/ouvrir")
    response = agent.post("/campagnes/ouvrir", data={
        "csrf_token": token, "nom": "Normandie", "annees": "2024-2025", "region": [str(region_id)],
        "feuille": ["Structures", "Places", "Budgets", "Adresses"]})
    assert response.status_code == 302
    campagne = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    tasks = task_ids(fresh_app, campagne)
    return {"id": campagne, "tasks": tasks, "op": op_id,
            "mine": {r.code_dna for r in rows if r.operateur_id == op_id},
            "others": {r.code_dna: tasks[r.id] for r in rows if r.operateur_id != op_id},
            "by_dep": {r.code_dna: (r.code, tasks[r.id]) for r in rows}}


def codes_in(book: openpyxl.Workbook) -> set[str]:
    found = set()
    for ws in book.worksheets:
        if ws.title.startswith("_"):
            continue
        header = [c.value for c in ws[1]]
        if "Code DNA" in header:
            col = header.index("Code DNA")
            found |= {row[col] for row in ws.iter_rows(min_row=2, values_only=True) if row[col]}
    return found


def test_operateur_sees_only_its_own_tasks_and_workbook(fresh_app, region_campaign):
    c = region_campaign
    assert len(c["mine"]) >= 2 and c["others"]
    client = client_for(fresh_app, "operateur")
    mes = client.get("/campagnes/saisie/").get_data(as_text=True)
    board = client.get(f"/campagnes/{c['id']}/").get_data(as_text=True)
    for code in c["mine"]:
        assert code in mes and code in board
    for code, tache in c["others"].items():
        assert code not in mes and code not in board
        assert client.get(f"/campagnes/tache/{tache}/").status_code == 404
        refused = client.post(f"/campagnes/saisie/tache/{tache}/transmettre",
                              data={"csrf_token": csrf(client, "/campagnes/saisie/")})
        assert refused.status_code == 404
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/campagnes/saisie/{c['id']}/classeur.xlsx").data))
    assert codes_in(book) == c["mine"]
    assert {"Structures", "Places", "Budgets", "Adresses"} <= set(book.sheetnames)
    years = {row[1] for row in book["Places"].iter_rows(min_row=2, values_only=True)}
    assert years == {2024, 2025}
    export = openpyxl.load_workbook(io.BytesIO(client.get(f"/campagnes/{c['id']}/export.xlsx").data))
    assert codes_in(export) == c["mine"]


def _send(client, campagne: int, edit) -> str:
    data = client.get(f"/campagnes/saisie/{campagne}/classeur.xlsx").data
    book = openpyxl.load_workbook(io.BytesIO(data))
    edit(book)
    out = io.BytesIO()
    book.save(out)
    sent = client.post(f"/campagnes/saisie/{campagne}/envoyer", data={
        "csrf_token": csrf(client, "/campagnes/saisie/"), "fichier": (io.BytesIO(out.getvalue()), "f.xlsx")})
    return client.get(sent.headers["Location"]).get_data(as_text=True)


def test_upload_cannot_touch_another_operateur_nor_state_fields(fresh_app, region_campaign):
    c = region_campaign
    client = client_for(fresh_app, "operateur")
    other = sorted(c["others"])[0]

    def add_foreign_row(book):
        ws = book["Places"]
        ws.append([other, 2025, 12])

    page = _send(client, c["id"], add_foreign_row)
    assert "hors de votre périmètre" in page and "Appliquer le classeur" not in page

    def change_dotation(book):
        ws = book["Budgets"]
        col = [cell.value for cell in ws[1]].index("Dotation accordée") + 1
        ws.cell(row=2, column=col, value=1234567)

    page = _send(client, c["id"], change_dotation)
    assert "réservé aux services de l" in page and "Appliquer le classeur" not in page


def test_batches_of_others_are_not_found(fresh_app, region_campaign):
    c = region_campaign
    agent = client_for(fresh_app, "normandie")
    data = agent.get(f"/campagnes/{c['id']}/export.xlsx").data
    sent = agent.post(f"/campagnes/saisie/{c['id']}/envoyer", data={
        "csrf_token": csrf(agent, "/campagnes/saisie/"), "fichier": (io.BytesIO(data), "suivi.xlsx")})
    preview = sent.headers["Location"]
    assert client_for(fresh_app, "operateur").get(preview).status_code == 404


def test_calvados_agent_sees_only_calvados_tasks(fresh_app, region_campaign):
    c = region_campaign
    client = client_for(fresh_app, "calvados")
    board = client.get(f"/campagnes/{c['id']}/").get_data(as_text=True)
    for code, (dep, tache) in c["by_dep"].items():
        if dep == "14":
            assert code in board
            assert client.get(f"/campagnes/tache/{tache}/").status_code == 200
        else:
            assert code not in board
            assert client.get(f"/campagnes/tache/{tache}/").status_code == 404
            page = f"/campagnes/tache/{c['by_dep'][next(k for k, v in c['by_dep'].items() if v[0] == '14')][1]}/"
            refused = client.post(f"/campagnes/tache/{tache}/section",
                                  data={"csrf_token": csrf(client, page), "section": "places",
                                        "decision": "valide"})
            assert refused.status_code == 404


def test_campaign_of_another_region_is_not_found(fresh_app):
    with fresh_app.app_context():
        from app.extensions import db
        from models import Departement

        from models import BhasileUser, Structure

        op_id = db.session.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        # a département outside Normandie where the demo opérateur has no structure
        dep75 = db.session.scalar(select(Departement.id).where(
            Departement.region_id != db.session.scalar(select(Departement.region_id).where(Departement.code == "14")),
            Departement.id.in_(select(Structure.departement_id)),
            Departement.id.not_in(select(Structure.departement_id).where(Structure.operateur_id == op_id)))
            .order_by(Departement.code).limit(1))
        dep76 = db.session.scalar(select(Departement.id).where(Departement.code == "76"))
    centrale = client_for(fresh_app, "centrale")
    response = centrale.post("/campagnes/ouvrir", data={
        "csrf_token": csrf(centrale, "/campagnes/ouvrir"), "nom": "Paris", "annees": "2025",
        "departement": [str(dep75)], "feuille": ["Places"]})
    campagne = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    calvados = client_for(fresh_app, "calvados")
    assert calvados.get(f"/campagnes/{campagne}/").status_code == 404
    assert calvados.get(f"/campagnes/{campagne}/export.xlsx").status_code == 404
    assert "Paris" not in calvados.get("/campagnes/").get_data(as_text=True)
    assert client_for(fresh_app, "operateur").get(f"/campagnes/{campagne}/").status_code == 404
    # and the Calvados agent cannot open one on the Seine-Maritime
    page = post(calvados, "/campagnes/ouvrir", "/campagnes/ouvrir", nom="Hors", annees="2025",
                departement=[str(dep76)], feuille=["Places"]).get_data(as_text=True)
    assert "hors de votre périmètre" in page


def test_roles_operateur_and_lecteur_cannot_open_or_validate(fresh_app, region_campaign):
    c = region_campaign
    tache = next(iter(c["tasks"].values()))
    for user in ("operateur", "lecteur"):
        client = client_for(fresh_app, user)
        assert client.get("/campagnes/ouvrir").status_code != 200
        client.post(f"/campagnes/tache/{tache}/section",
                    data={"csrf_token": client.environ_base["HTTP_X_CSRFTOKEN"], "section": "places",
                          "decision": "valide"})
    with fresh_app.app_context():
        from app.extensions import db
        from models.campagne import Campagne, StatutSection, Tache

        assert db.session.scalar(select(Campagne.id).where(Campagne.id != c["id"])) is None
        assert all(t.places is StatutSection.A_VERIFIER for t in db.session.scalars(select(Tache)))
    assert client_for(fresh_app, "lecteur").get(f"/campagnes/{c['id']}/").status_code == 200
