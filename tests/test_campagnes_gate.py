"""Campaign actions go through the write gate: a campaign is opened on the user's own
départements only and closed only by a territory holding all of them (a département agent
never closes a national or regional campaign); a task is reviewed by an agent of its
structure and handed over by its opérateur. Every refusal is in French, writes nothing, says
nothing of another territory's records and is never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import dbutil
from tests.conftest import client_for, make_app

SECRET = "Campagne parisienne confidentielle"


@pytest.fixture(scope="module")
def camp_app(template_db, tmp_path_factory):
    """An app on its own copy of the demo park: each test opens the campaigns it needs."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("campagnes_gate"))
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _db(application):
    from app.extensions import db

    return db.session


def dep_id(application, code: str) -> int:
    from models import Departement

    with application.app_context():
        return _db(application).scalar(select(Departement.id).where(Departement.code == code))


def region_id(application, code: str) -> int:
    from models import Region

    with application.app_context():
        return _db(application).scalar(select(Region.id).where(Region.code == code))


def campaign(application, codes: list[str], nom: str) -> dict:
    """A campaign opened by the State on these départements: its id and its tasks by
    département code (task id, structure code DNA, structure name)."""
    from app.campagnes import CAMPAIGN_SHEETS, open_campagne
    from app.scope import NATIONAL
    from models import Departement, Structure
    from models.campagne import Tache

    ids = [dep_id(application, code) for code in codes]
    with application.app_context():
        session = _db(application)
        opened = open_campagne(session, NATIONAL, nom, ids, [2025], list(CAMPAIGN_SHEETS), None, "admin")
        rows = session.execute(select(Departement.code, Tache.id, Structure.code_dna, Structure.nom,
                                      Structure.operateur_id)
                               .join(Structure, Structure.id == Tache.structure_id)
                               .join(Departement, Departement.id == Structure.departement_id)
                               .where(Tache.campagne_id == opened.id).order_by(Tache.id)).all()
        tasks: dict[str, list] = {}
        for row in rows:
            tasks.setdefault(row.code, []).append(row)
        return {"id": opened.id, "tasks": tasks}


def transmitted(application, task_id: int) -> None:
    """Put a task in the state an agent reviews (as if its opérateur had transmitted it)."""
    from models.campagne import StatutTache, Tache

    with application.app_context():
        _db(application).get(Tache, task_id).statut = StatutTache.TRANSMIS
        _db(application).commit()


def snapshot(application) -> tuple:
    """Everything a campaign action could write: campaigns, tasks, comments, history."""
    from models import Changement
    from models.campagne import Campagne, Tache, TacheCommentaire

    with application.app_context():
        session = _db(application)
        return (session.execute(select(Campagne.id, Campagne.statut, Campagne.version)
                                .order_by(Campagne.id)).all(),
                session.execute(select(Tache.id, Tache.statut, Tache.places, Tache.finances, Tache.version)
                                .order_by(Tache.id)).all(),
                session.scalar(select(func.count(TacheCommentaire.id))),
                session.scalar(select(func.count(Changement.id))))


def token(client) -> str:
    return client.environ_base["HTTP_X_CSRFTOKEN"]


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": token(client), **data})


def statut(application, campagne_id: int) -> str:
    from models.campagne import Campagne

    with application.app_context():
        return _db(application).get(Campagne, campagne_id).statut.value


# --- finding: a département agent closed a national campaign ---------------------------------

def test_a_departement_agent_cannot_close_a_national_campaign(camp_app):
    national = campaign(camp_app, ["14", "75"], "Nationale 2025")
    calvados = client_for(camp_app, "calvados")
    board = calvados.get(f"/campagnes/{national['id']}/")
    assert board.status_code == 200 and "Clôturer la campagne" not in board.get_data(as_text=True)
    before = snapshot(camp_app)
    refused = post(calvados, f"/campagnes/{national['id']}/cloturer")
    assert refused.status_code == 404
    assert "ne fait pas partie de votre périmètre" in refused.get_data(as_text=True)
    assert snapshot(camp_app) == before and statut(camp_app, national["id"]) == "ouverte"
    # the région agent neither: Paris is not theirs
    normandie = client_for(camp_app, "normandie")
    before = snapshot(camp_app)
    assert post(normandie, f"/campagnes/{national['id']}/cloturer").status_code == 404
    assert snapshot(camp_app) == before
    # the national administration does
    centrale = client_for(camp_app, "centrale")
    assert "Clôturer la campagne" in centrale.get(f"/campagnes/{national['id']}/").get_data(as_text=True)
    assert post(centrale, f"/campagnes/{national['id']}/cloturer").status_code == 302
    assert statut(camp_app, national["id"]) == "cloturee"


def test_a_departement_agent_cannot_close_a_regional_campaign_the_region_agent_can(camp_app):
    regional = campaign(camp_app, ["14", "50", "76"], "Normandie 2025")
    calvados, normandie = client_for(camp_app, "calvados"), client_for(camp_app, "normandie")
    before = snapshot(camp_app)
    assert post(calvados, f"/campagnes/{regional['id']}/cloturer").status_code == 404
    assert snapshot(camp_app) == before
    assert "Clôturer la campagne" in normandie.get(f"/campagnes/{regional['id']}/").get_data(as_text=True)
    assert post(normandie, f"/campagnes/{regional['id']}/cloturer").status_code == 302
    assert statut(camp_app, regional["id"]) == "cloturee"


def test_the_gate_refuses_the_close_outside_the_web_too(camp_app):
    from app.campagnes import close_campagne
    from app.gate import WriteRefused
    from app.scope import scope_of
    from models import BhasileUser
    from models.campagne import Campagne

    national = campaign(camp_app, ["14", "75"], "Nationale bis")
    with camp_app.test_request_context():
        session = _db(camp_app)
        for login, status in (("calvados", 404), ("lecteur", 403), ("operateur", 403)):
            user = session.scalar(select(BhasileUser).where(BhasileUser.username == login))
            with pytest.raises(WriteRefused) as refused:
                close_campagne(session, scope_of(user), session.get(Campagne, national["id"]))
            assert refused.value.status == status
        session.rollback()
    assert statut(camp_app, national["id"]) == "ouverte"


# --- another territory's campaign, task ------------------------------------------------------

def test_another_territorys_campaign_and_tasks_are_not_found(camp_app):
    paris = campaign(camp_app, ["75"], SECRET)
    task = paris["tasks"]["75"][0]
    transmitted(camp_app, task.id)
    calvados = client_for(camp_app, "calvados")
    before = snapshot(camp_app)
    answers = [post(calvados, f"/campagnes/{paris['id']}/cloturer"),
               post(calvados, f"/campagnes/tache/{task.id}/section", section="places", decision="valide"),
               post(calvados, f"/campagnes/tache/{task.id}/section", section="places", decision="a_corriger",
                    commentaire="Pas à vous"),
               post(calvados, f"/campagnes/saisie/tache/{task.id}/transmettre", message="Pas à vous")]
    for answer in answers:
        body = answer.get_data(as_text=True)
        assert answer.status_code == 404, body[:500]
        assert "ne fait pas partie de votre périmètre" in body
        assert SECRET not in body and task.code_dna not in body and task.nom not in body
    assert snapshot(camp_app) == before


def test_an_operateur_never_hands_over_another_operateurs_task(camp_app):
    from models import BhasileUser

    with camp_app.app_context():
        own = _db(camp_app).scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    paris = campaign(camp_app, ["75"], "Paris opérateurs")
    other = next(t for t in paris["tasks"]["75"] if t.operateur_id != own)
    client = client_for(camp_app, "operateur")
    before = snapshot(camp_app)
    answer = post(client, f"/campagnes/saisie/tache/{other.id}/transmettre")
    assert answer.status_code == 404 and other.code_dna not in answer.get_data(as_text=True)
    assert snapshot(camp_app) == before


# --- opening on départements outside the territory ------------------------------------------

@pytest.mark.parametrize("login, deps, regions", [
    ("calvados", ["14", "76"], []),           # one inside, one outside
    ("calvados", ["76"], []),
    ("calvados", [], ["28"]),                  # Normandie is more than the Calvados
    ("calvados", ["14"], ["28"]),
    ("normandie", ["14", "75"], []),
    ("normandie", [], ["28", "11"]),
], ids=["calvados-14+76", "calvados-76", "calvados-region", "calvados-14+region",
        "normandie-14+75", "normandie-28+11"])
def test_opening_on_a_departement_outside_the_territory_is_refused(camp_app, login, deps, regions):
    client = client_for(camp_app, login)
    before = snapshot(camp_app)
    answer = post(client, "/campagnes/ouvrir", nom="Hors périmètre", annees="2025", feuille=["Places"],
                  departement=[str(dep_id(camp_app, c)) for c in deps],
                  region=[str(region_id(camp_app, c)) for c in regions])
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "hors de votre périmètre" in body
    assert snapshot(camp_app) == before


def test_the_opening_form_offers_whole_regions_of_the_territory_only(camp_app):
    normandie = str(region_id(camp_app, "28"))
    option = f'value="{normandie}"'
    calvados = client_for(camp_app, "calvados").get("/campagnes/ouvrir").get_data(as_text=True)
    regional = client_for(camp_app, "normandie").get("/campagnes/ouvrir").get_data(as_text=True)
    assert option in regional.split('name="region"', 1)[1]
    assert 'name="region"' not in calvados or option not in calvados.split('name="region"', 1)[1]


def test_the_territorys_own_agent_still_opens_and_reviews(camp_app):
    client = client_for(camp_app, "calvados")
    answer = post(client, "/campagnes/ouvrir", nom="Calvados 2025", annees="2025", feuille=["Places"],
                  departement=[str(dep_id(camp_app, "14"))])
    assert answer.status_code == 302
    own = campaign(camp_app, ["14"], "Calvados bis")
    task = own["tasks"]["14"][0]
    transmitted(camp_app, task.id)
    page = client.get(f"/campagnes/tache/{task.id}/").get_data(as_text=True)
    assert f"/campagnes/tache/{task.id}/section" in page
    assert post(client, f"/campagnes/tache/{task.id}/section", section="places",
                decision="valide").status_code == 302
    from models.campagne import Tache

    with camp_app.app_context():
        assert _db(camp_app).get(Tache, task.id).places.value == "valide"


# --- roles: an opérateur does not review, a reader does nothing ------------------------------

def test_an_operateur_reviews_nothing_closes_nothing_opens_nothing(camp_app):
    from models import BhasileUser

    with camp_app.app_context():
        own = _db(camp_app).scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    mixed = campaign(camp_app, ["14", "75"], "Opérateur")
    task = next(t for tasks in mixed["tasks"].values() for t in tasks if t.operateur_id == own)
    transmitted(camp_app, task.id)
    client = client_for(camp_app, "operateur")
    page = client.get(f"/campagnes/tache/{task.id}/").get_data(as_text=True)
    assert f"/campagnes/tache/{task.id}/section" not in page
    before = snapshot(camp_app)
    for path, data in ((f"/campagnes/tache/{task.id}/section", {"section": "places", "decision": "valide"}),
                       (f"/campagnes/{mixed['id']}/cloturer", {}),
                       ("/campagnes/ouvrir", {"nom": "X", "annees": "2025", "feuille": ["Places"],
                                              "departement": [str(dep_id(camp_app, "14"))]})):
        answer = post(client, path, **data)
        assert answer.status_code == 403, path
        assert "droits" in answer.get_data(as_text=True)
    assert snapshot(camp_app) == before


def test_the_gate_refuses_an_operateurs_review_even_with_the_permission(camp_app):
    from app.campagnes import review
    from app.gate import WriteRefused
    from app.scope import scope_of
    from models import BhasileUser
    from models.campagne import Tache

    with camp_app.app_context():
        own = _db(camp_app).scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    mixed = campaign(camp_app, ["14", "75"], "Opérateur bis")
    task = next(t for tasks in mixed["tasks"].values() for t in tasks if t.operateur_id == own)
    transmitted(camp_app, task.id)
    before = snapshot(camp_app)
    with camp_app.test_request_context():
        session = _db(camp_app)
        user = session.scalar(select(BhasileUser).where(BhasileUser.username == "operateur"))
        with pytest.raises(WriteRefused) as refused:
            review(session, scope_of(user), session.get(Tache, task.id), "places", "valide", "", "operateur")
        assert refused.value.status == 403 and "rôle" in str(refused.value)
        session.rollback()
    assert snapshot(camp_app) == before


def test_a_reader_does_nothing(camp_app):
    own = campaign(camp_app, ["14"], "Lecteur")
    task = own["tasks"]["14"][0]
    transmitted(camp_app, task.id)
    client = client_for(camp_app, "lecteur")
    assert client.get(f"/campagnes/{own['id']}/").status_code == 200
    before = snapshot(camp_app)
    for path, data in (("/campagnes/ouvrir", {"nom": "X", "annees": "2025", "feuille": ["Places"],
                                              "departement": [str(dep_id(camp_app, "14"))]}),
                       (f"/campagnes/{own['id']}/cloturer", {}),
                       (f"/campagnes/tache/{task.id}/section", {"section": "places", "decision": "valide"}),
                       (f"/campagnes/saisie/tache/{task.id}/transmettre", {})):
        answer = post(client, path, **data)
        assert answer.status_code == 403, path
        assert "droits" in answer.get_data(as_text=True)
    assert snapshot(camp_app) == before


# --- CSRF, malformed bodies ------------------------------------------------------------------

def test_every_campaign_post_without_its_token_is_refused(camp_app):
    own = campaign(camp_app, ["14"], "Jeton")
    task = own["tasks"]["14"][0]
    transmitted(camp_app, task.id)
    agent = client_for(camp_app, "calvados")
    operateur = client_for(camp_app, "operateur")
    before = snapshot(camp_app)
    for client, path, data in (
            (agent, "/campagnes/ouvrir", {"nom": "X", "annees": "2025", "feuille": ["Places"],
                                          "departement": [str(dep_id(camp_app, "14"))]}),
            (agent, f"/campagnes/{own['id']}/cloturer", {}),
            (agent, f"/campagnes/tache/{task.id}/section", {"section": "places", "decision": "valide"}),
            (agent, f"/campagnes/saisie/tache/{task.id}/transmettre", {}),
            (operateur, f"/campagnes/saisie/tache/{task.id}/transmettre", {})):
        client.environ_base.pop("HTTP_X_CSRFTOKEN", None)
        for sent in (data, {**data, "csrf_token": "faux"}):
            answer = client.post(path, data=sent)
            assert answer.status_code == 400, path
            assert "jeton de sécurité" in answer.get_data(as_text=True)
    assert snapshot(camp_app) == before


HUGE = "x" * 200_000


@pytest.mark.parametrize("login, fields, message", [
    ("centrale", {"departement": ["abc"]}, "inconnu"),
    ("centrale", {"departement": ["99999999999999999999999999"]}, "inconnu"),
    ("centrale", {"departement": ["-1", "²"]}, "inconnu"),
    ("centrale", {"region": ["999999"]}, "inconnu"),
    ("calvados", {"departement": ["{14}", "1e3"]}, "hors de votre périmètre"),
    ("calvados", {"annees": HUGE}, "Année invalide"),
    ("calvados", {"annees": "2025-" + "9" * 5000}, "Année invalide"),
    ("calvados", {"echeance": HUGE}, "Échéance invalide"),
    ("calvados", {"feuille": [HUGE]}, "Choisissez les feuilles"),
    ("calvados", {"nom": " " * 5000}, "Donnez un nom"),
], ids=["text", "huge-id", "signs", "region", "garbage-mixed", "years", "years-range", "deadline",
        "sheet", "blank-name"])
def test_a_malformed_opening_is_refused_in_french(camp_app, login, fields, message):
    client = client_for(camp_app, login)
    before = snapshot(camp_app)
    data = {"nom": "Malformée", "annees": "2025", "feuille": ["Places"], "departement": [], **fields}
    if not data["departement"] and "region" not in data:
        data["departement"] = [str(dep_id(camp_app, "14"))]
    answer = post(client, "/campagnes/ouvrir", **data)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and message in body
    # the message quotes the start of a bad value; only the form's own field gives it back whole
    for value in fields.values():
        assert all(body.count(text) <= 1 for text in ([value] if isinstance(value, str) else value)
                   if len(text) > 100)
    assert snapshot(camp_app) == before


def test_malformed_reviews_and_ids_are_refused_in_french(camp_app):
    own = campaign(camp_app, ["14"], "Malformés")
    task = own["tasks"]["14"][0]
    transmitted(camp_app, task.id)
    agent = client_for(camp_app, "calvados")
    operateur = client_for(camp_app, "operateur")
    before = snapshot(camp_app)
    page = f"/campagnes/tache/{task.id}/"
    for data, message in (({"section": HUGE, "decision": "valide"}, "Section inconnue"),
                          ({"section": "places", "decision": HUGE}, "Décision inconnue"),
                          ({"section": "places", "decision": "a_corriger", "commentaire": " " * 9000},
                           "commentaire est obligatoire"),
                          ({}, "Section inconnue")):
        answer = agent.post(f"{page}section", data={"csrf_token": token(agent), **data},
                            follow_redirects=True)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200 and message in body
        assert "x" * 100 not in body
    huge = "9" * 30
    for client, path in ((agent, f"/campagnes/{huge}/cloturer"), (agent, f"/campagnes/tache/{huge}/section"),
                         (operateur, f"/campagnes/saisie/tache/{huge}/transmettre"),
                         (agent, "/campagnes/abc/cloturer"), (agent, "/campagnes/-1/cloturer")):
        answer = post(client, path, section="places", decision="valide")
        assert answer.status_code in (404, 405), path
        assert "Page introuvable" in answer.get_data(as_text=True) or answer.status_code == 405
    assert snapshot(camp_app) == before


# --- an opérateur's edits reopen its tasks, with its scope given outside a request ----------

def test_reopening_tasks_outside_a_request_needs_the_writers_scope(camp_app):
    from app.campagnes import reopen_tasks
    from app.scope import scope_of
    from models import BhasileUser
    from models.campagne import Tache

    with camp_app.app_context():
        own = _db(camp_app).scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    opened = campaign(camp_app, ["14", "75"], "Réouverture")
    task = next(t for tasks in opened["tasks"].values() for t in tasks if t.operateur_id == own)
    transmitted(camp_app, task.id)
    with camp_app.app_context():
        session = _db(camp_app)
        structure = session.get(Tache, task.id).structure_id
        reopen_tasks(session, {structure: {"places"}})  # nobody outside a request: nothing
        assert session.get(Tache, task.id).statut.value == "transmis"
        user = session.scalar(select(BhasileUser).where(BhasileUser.username == "operateur"))
        reopen_tasks(session, {structure: {"places"}}, scope_of(user))
        session.commit()
        assert session.get(Tache, task.id).statut.value == "en_cours"
