"""Campagne de collecte, end to end: the Calvados agent opens it, the opérateur fills one
structure by form and another by re-uploading the pre-filled workbook, transmits both, the
agent asks for a correction, the opérateur corrects, the agent validates; the dashboard
counts follow every step."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import Auth, client_for
from tests.views_util import submit

YEARS = "2024-2025"


def park(app) -> dict:
    """Give a second Calvados structure to the demo opérateur; return the ids the test needs."""
    with app.app_context():
        from app.extensions import db
        from models import BhasileUser, Departement, PlacesAnnee, Structure

        op_id = db.session.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
        calvados = db.session.scalar(select(Departement).where(Departement.code == "14"))
        structures = db.session.scalars(select(Structure).where(
            Structure.departement_id == calvados.id).order_by(Structure.code_dna)).all()
        mine = [s for s in structures if s.operateur_id == op_id]
        other = next(s for s in structures if s.operateur_id != op_id)
        other.operateur_id = op_id
        mine.append(other)
        db.session.commit()
        by_form, by_file = sorted(mine, key=lambda s: s.code_dna)[:2]
        places = db.session.scalar(select(PlacesAnnee.id).where(
            PlacesAnnee.structure_id == by_form.id, PlacesAnnee.annee == 2025))
        return {"dep": calvados.id, "form": by_form.id, "file": by_file.code_dna, "file_id": by_file.id,
                "places": places, "total": len(structures), "op": op_id}


def csrf(client, path: str) -> str:
    return Auth(client).csrf(path)


def open_campaign(client, dep_id: int, nom: str = "Collecte Calvados") -> int:
    token = csrf(client, "/campagnes/ouvrir")
    response = client.post("/campagnes/ouvrir", data={
        "csrf_token": token, "nom": nom, "annees": YEARS, "departement": [str(dep_id)],
        "feuille": ["Structures", "Places", "Budgets"]})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/campagnes/(\d+)/", response.headers["Location"]).group(1))


def counts(client, campagne_id: int) -> dict[str, int]:
    """The campaign's status counts as the dashboard's "Avancement" table shows them."""
    html = client.get(f"/campagnes/{campagne_id}/").get_data(as_text=True)
    synthese = html.split('id="synthese"')[1].split("</section>")[0]
    return {k: int(v) for k, v in re.findall(r'data-statut="(\w+)">(\d+)<', synthese)}


def task_ids(app, campagne_id: int) -> dict[int, int]:
    with app.app_context():
        from app.extensions import db
        from models.campagne import Tache

        return dict(db.session.execute(select(Tache.structure_id, Tache.id).where(
            Tache.campagne_id == campagne_id)).all())


def status_of(app, tache_id: int) -> tuple:
    with app.app_context():
        from app.extensions import db
        from models.campagne import Tache

        t = db.session.get(Tache, tache_id)
        return t.statut.value, t.places.value, t.finances.value


def post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf(client, page), **data}, follow_redirects=True)


def upload_modified_workbook(client, campagne_id: int, code: str) -> str:
    """Download the pre-filled workbook, change one cell an opérateur fills (the PMR places:
    the places autorisées are the State's) with openpyxl, upload and apply it."""
    response = client.get(f"/campagnes/saisie/{campagne_id}/classeur.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    ws = book["Places"]
    header = [c.value for c in ws[1]]
    col = header.index("PMR") + 1
    for row in ws.iter_rows(min_row=2):
        if row[0].value == code and row[1].value == 2025:
            ws.cell(row=row[0].row, column=col, value=0 if ws.cell(row=row[0].row, column=col).value else 1)
    out = io.BytesIO()
    book.save(out)
    token = csrf(client, "/campagnes/saisie/")
    sent = client.post(f"/campagnes/saisie/{campagne_id}/envoyer", data={
        "csrf_token": token, "fichier": (io.BytesIO(out.getvalue()), "mes-structures.xlsx")})
    assert sent.status_code == 302
    preview = sent.headers["Location"]
    page = client.get(preview).get_data(as_text=True)
    assert "Appliquer le classeur" in page, page[:3000]
    return post(client, preview + "appliquer", preview).get_data(as_text=True)


def test_campaign_end_to_end(fresh_app):
    ids = park(fresh_app)
    agent = client_for(fresh_app, "calvados")
    operateur = client_for(fresh_app, "operateur")
    campagne = open_campaign(agent, ids["dep"])
    total = ids["total"]
    assert counts(agent, campagne) == {"non_commence": total, "en_cours": 0, "transmis": 0,
                                       "a_corriger": 0, "valide": 0}
    tasks = task_ids(fresh_app, campagne)
    t_form, t_file = tasks[ids["form"]], tasks[ids["file_id"]]

    # the opérateur sees exactly its two structures
    mes = operateur.get("/campagnes/saisie/").get_data(as_text=True)
    assert mes.count("/campagnes/tache/") >= 2 and ids["file"] in mes
    assert counts(operateur, campagne)["non_commence"] == 2
    # its task page links to the section forms of the campaign's years
    task_page = operateur.get(f"/campagnes/tache/{t_form}/").get_data(as_text=True)
    assert f"/placesanneeview/edit/{ids['places']}" in task_page and "Transmettre cette structure" in task_page

    # one structure by the Places form → en cours
    _page, saved = submit(operateur, f"/placesanneeview/edit/{ids['places']}", {"pmr": "3"})
    assert saved.status_code == 200
    assert status_of(fresh_app, t_form)[0] == "en_cours"
    # the other by re-uploading the pre-filled workbook → en cours
    applied = upload_modified_workbook(operateur, campagne, ids["file"])
    assert "Classeur appliqué" in applied
    assert status_of(fresh_app, t_file)[0] == "en_cours"
    assert counts(agent, campagne)["en_cours"] == 2

    for t in (t_form, t_file):
        done = post(operateur, f"/campagnes/saisie/tache/{t}/transmettre", "/campagnes/saisie/")
        assert "transmise aux services" in done.get_data(as_text=True)
    assert counts(agent, campagne)["transmis"] == 2

    # the agent asks for a correction on the places of the form-filled structure
    page = f"/campagnes/tache/{t_form}/"
    refused = post(agent, f"{page}section", page, section="places", decision="a_corriger", commentaire="")
    assert "commentaire est obligatoire" in refused.get_data(as_text=True)
    post(agent, f"{page}section", page, section="places", decision="a_corriger",
         commentaire="PMR 2025 : 3 ne correspond pas à l'arrêté.")
    assert status_of(fresh_app, t_form) == ("a_corriger", "a_corriger", "a_verifier")
    assert counts(agent, campagne)["a_corriger"] == 1
    assert "ne correspond pas" in operateur.get(page).get_data(as_text=True)

    # the opérateur corrects and transmits again; the agent's comment stays
    submit(operateur, f"/placesanneeview/edit/{ids['places']}", {"pmr": "2"})
    assert status_of(fresh_app, t_form)[0] == "a_corriger"
    post(operateur, f"/campagnes/saisie/tache/{t_form}/transmettre", "/campagnes/saisie/")
    assert status_of(fresh_app, t_form) == ("transmis", "a_verifier", "a_verifier")
    assert "ne correspond pas" in agent.get(page).get_data(as_text=True)

    # the agent validates every section of both structures
    from models.campagne import SECTIONS

    for t in (t_form, t_file):
        for section in SECTIONS:
            p = f"/campagnes/tache/{t}/"
            post(agent, f"{p}section", p, section=section, decision="valide", commentaire="")
        assert status_of(fresh_app, t)[0] == "valide"
    final = counts(agent, campagne)
    assert final["valide"] == 2 and final["non_commence"] == total - 2
    html = agent.get(f"/campagnes/{campagne}/").get_data(as_text=True)
    assert 'data-section="places-valide">2<' in html

    # a later edit by the opérateur reopens the task and its section only
    submit(operateur, f"/placesanneeview/edit/{ids['places']}", {"pmr": "1"})
    assert status_of(fresh_app, t_form) == ("en_cours", "a_verifier", "valide")


def test_history_keeps_every_step(fresh_app):
    ids = park(fresh_app)
    agent = client_for(fresh_app, "calvados")
    campagne = open_campaign(agent, ids["dep"])
    t = task_ids(fresh_app, campagne)[ids["form"]]
    operateur = client_for(fresh_app, "operateur")
    post(operateur, f"/campagnes/saisie/tache/{t}/transmettre", "/campagnes/saisie/")
    page = f"/campagnes/tache/{t}/"
    post(agent, f"{page}section", page, section="finances", decision="a_corriger", commentaire="Total faux")
    with fresh_app.app_context():
        from app.extensions import db
        from models import Changement

        rows = db.session.execute(select(Changement.username, Changement.field, Changement.new_value)
                                  .where(Changement.entity == "tache", Changement.entity_id == t)).all()
        comments = db.session.scalars(select(Changement.new_value).where(
            Changement.entity == "tache_commentaire", Changement.field == "texte")).all()
    assert ("operateur", "statut", "transmis") in rows
    assert ("calvados", "finances", "a_corriger") in rows
    assert ("calvados", "statut", "a_corriger") in rows
    assert "Total faux" in comments


@pytest.mark.parametrize("bad, message", [
    ({"annees": "20x4"}, "Année invalide"),
    ({"nom": ""}, "Donnez un nom"),
    ({"departement": []}, "au moins une région ou un département"),
    ({"echeance": "2001-01-01"}, "dans le passé"),
])
def test_opening_refuses_bad_input_in_french(fresh_app, bad, message):
    ids = park(fresh_app)
    agent = client_for(fresh_app, "calvados")
    data = {"nom": "X", "annees": YEARS, "departement": [str(ids["dep"])], "feuille": ["Places"], **bad}
    response = agent.post("/campagnes/ouvrir", data={"csrf_token": csrf(agent, "/campagnes/ouvrir"), **data})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with fresh_app.app_context():
        from app.extensions import db
        from models.campagne import Campagne

        assert db.session.scalar(select(Campagne.id)) is None


def test_no_post_without_csrf(fresh_app):
    ids = park(fresh_app)
    agent = client_for(fresh_app, "calvados")
    agent.environ_base.pop("HTTP_X_CSRFTOKEN", None)
    response = agent.post("/campagnes/ouvrir", data={"nom": "X", "annees": YEARS,
                                                     "departement": [str(ids["dep"])], "feuille": ["Places"]})
    assert response.status_code in (200, 302, 400)
    with fresh_app.app_context():
        from app.extensions import db
        from models.campagne import Campagne

        assert db.session.scalar(select(Campagne.id)) is None


def test_late_structures_reminders_and_closing(fresh_app):
    ids = park(fresh_app)
    agent = client_for(fresh_app, "calvados")
    campagne = open_campaign(agent, ids["dep"])
    t = task_ids(fresh_app, campagne)[ids["form"]]
    operateur = client_for(fresh_app, "operateur")
    post(operateur, f"/campagnes/saisie/tache/{t}/transmettre", "/campagnes/saisie/")
    with fresh_app.app_context():
        import datetime as dt

        from app.extensions import db
        from models.campagne import Campagne

        db.session.get(Campagne, campagne).echeance = dt.date.today() - dt.timedelta(days=1)
        db.session.commit()
    html = agent.get(f"/campagnes/{campagne}/").get_data(as_text=True)
    late = html.split('id="retards"')[1].split("</section>")[0]
    relances = html.split('id="relances"')[1].split("</section>")[0]
    assert late.count("<li>") == ids["total"] - 1  # the transmitted one is not late
    assert "operateur@bhasile.invalid" in relances  # the opérateur still owes its other structure
    book = openpyxl.load_workbook(io.BytesIO(agent.get(f"/campagnes/{campagne}/export.xlsx").data))
    assert book["En retard"].max_row == ids["total"]  # header + late rows
    synthese = [c.value for c in book["Synthèse"][2]]
    assert synthese[1] == ids["total"] and synthese[4] == 1  # total, transmis
    # once closed, nothing can be transmitted any more
    post(agent, f"/campagnes/{campagne}/cloturer", f"/campagnes/{campagne}/")
    other = task_ids(fresh_app, campagne)[ids["file_id"]]
    page = operateur.get("/campagnes/saisie/").get_data(as_text=True)
    assert f"/tache/{other}/transmettre" not in page
    assert operateur.get(f"/campagnes/saisie/{campagne}/classeur.xlsx").status_code == 404
    refused = operateur.post(f"/campagnes/saisie/tache/{other}/transmettre", follow_redirects=True,
                             data={"csrf_token": operateur.environ_base["HTTP_X_CSRFTOKEN"]})
    assert "clôturée" in refused.get_data(as_text=True)


def test_formula_like_names_stay_text_in_the_export(fresh_app):
    ids = park(fresh_app)
    with fresh_app.app_context():
        from app.extensions import db
        from models import Structure

        db.session.get(Structure, ids["form"]).nom = "=HYPERLINK(\"http://x\")"
        db.session.commit()
    agent = client_for(fresh_app, "calvados")
    campagne = open_campaign(agent, ids["dep"])
    book = openpyxl.load_workbook(io.BytesIO(agent.get(f"/campagnes/{campagne}/export.xlsx").data))
    ws = book["Structures"]
    cells = [row[1] for row in ws.iter_rows(min_row=2) if row[1].value and str(row[1].value).startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)


def test_a_large_campaign_workbook_is_checked_in_the_background_then_previewed(fresh_app):
    """A workbook above the background size is checked by a job: the opérateur follows it on
    the campaign's preview address, which shows the preview once the check is done; the status
    never sends them to another site."""
    import time

    ids = park(fresh_app)
    agent, operateur = client_for(fresh_app, "calvados"), client_for(fresh_app, "operateur")
    campagne = open_campaign(agent, ids["dep"])
    fresh_app.config["BHASILE_IMPORT_BACKGROUND_BYTES"] = 1  # every file is « large »
    workbook = operateur.get(f"/campagnes/saisie/{campagne}/classeur.xlsx").data
    sent = operateur.post(f"/campagnes/saisie/{campagne}/envoyer", data={
        "csrf_token": csrf(operateur, "/campagnes/saisie/"), "fichier": (io.BytesIO(workbook), "gros.xlsx")})
    preview = sent.headers["Location"]
    batch_id = int(preview.rstrip("/").rsplit("/", 1)[1])
    for _ in range(300):
        state = operateur.get(f"/imports/{batch_id}/etat.json?retour={preview}").get_json()
        if state["finished"]:
            break
        time.sleep(0.1)
    assert state["finished"] and state["page_url"] == preview
    hostile = operateur.get(f"/imports/{batch_id}/etat.json?retour=https://evil.example/").get_json()
    assert hostile["page_url"] == f"/imports/{batch_id}/"
    assert "Appliquer le classeur" in operateur.get(preview).get_data(as_text=True)
