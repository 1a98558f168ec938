"""Forms and the REST API in front of the write gate: each rule refused with a French message,
nothing written, no stored value of another territory in the answer, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from models import BudgetAnnee, Convention, ConventionStructure, Departement, Operateur, Structure
from tests.conftest import client_for
from tests.views_util import submit


def _one(app, stmt):
    with app.app_context():
        from app.extensions import db

        value = db.session.execute(stmt).first()
        db.session.rollback()
        return value


def _mine(app, dep="14"):
    return _one(app, select(Structure.id, Structure.version, Structure.nom, Structure.code_postal,
                            Structure.operateur_id)
                .join(Departement).where(Departement.code == dep).order_by(Structure.id))


def _foreign_operateur(app):
    """An opérateur running structures only outside Normandie (not Calvados' to choose)."""
    return _one(app, select(Operateur.id, Operateur.nom).join(Structure, Structure.operateur_id == Operateur.id)
                .join(Departement).where(Departement.region_id != select(Departement.region_id)
                                         .where(Departement.code == "14").scalar_subquery())
                .where(~Operateur.id.in_(select(Structure.operateur_id).join(Departement)
                                         .where(Departement.code.in_(["14", "50", "61", "27", "76"]))
                                         .where(Structure.operateur_id.is_not(None))))
                .order_by(Operateur.id))


def _stored(app, sid):
    return _one(app, select(Structure.nom, Structure.operateur_id, Structure.version)
                .where(Structure.id == sid))


# --- finding: a form posted without its version overwrote a newer change -------------------

@pytest.mark.parametrize("version", [None, "", "abc", "-1"])
def test_a_form_without_a_readable_version_is_refused_and_overwrites_nothing(fresh_app, version):
    sid, _v, nom, _cp, _op = _mine(fresh_app)
    other = client_for(fresh_app, "normandie")
    agent = client_for(fresh_app, "calvados")
    page = agent.get(f"/structureview/edit/{sid}")
    assert page.status_code == 200
    submit(other, f"/structureview/edit/{sid}", {"nom": "Changé par la région"})
    assert _stored(fresh_app, sid).nom == "Changé par la région"
    drop = ("version_chargee",) if version is None else ()
    changes = {"nom": "Ancienne saisie"} | ({} if version is None else {"version_chargee": version})
    _page, answer = submit(agent, f"/structureview/edit/{sid}", changes, drop=drop)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "rechargez la page" in body
    assert _stored(fresh_app, sid).nom == "Changé par la région"


# --- finding: the API handed a structure to an opérateur outside the territory -----------------

def test_api_refuses_an_operateur_of_another_region_and_writes_nothing(fresh_app):
    sid, version, _nom, _cp, operateur_id = _mine(fresh_app)
    foreign_id, foreign_nom = _foreign_operateur(fresh_app)
    client = client_for(fresh_app, "calvados")
    answer = client.put(f"/api/v1/structure/{sid}", json={"operateur": foreign_id, "version": version})
    assert answer.status_code == 422
    assert "opérateur est hors de votre périmètre" in answer.get_json()["message"]["operateur"][0]
    assert foreign_nom not in answer.get_data(as_text=True)
    assert _stored(fresh_app, sid).operateur_id == operateur_id
    # and the agent still cannot read that opérateur
    assert client.get(f"/api/v1/operateur/{foreign_id}").status_code == 404


def test_form_refuses_an_operateur_of_another_region(fresh_app):
    sid, _v, _nom, _cp, operateur_id = _mine(fresh_app)
    foreign_id, _nom2 = _foreign_operateur(fresh_app)
    client = client_for(fresh_app, "calvados")
    _page, answer = submit(client, f"/structureview/edit/{sid}", {"operateur": str(foreign_id)})
    assert answer.status_code == 200
    assert _stored(fresh_app, sid).operateur_id == operateur_id


# --- rules × the API ---------------------------------------------------------------------

def test_api_row_of_another_territory_is_not_found_and_not_described(fresh_app):
    paris, version, nom, code_postal, _op = _mine(fresh_app, "75")
    client = client_for(fresh_app, "calvados")
    answer = client.put(f"/api/v1/structure/{paris}", json={"nom": "RENOMMEE", "version": version})
    assert answer.status_code == 404
    assert nom not in answer.get_data(as_text=True) and code_postal not in answer.get_data(as_text=True)
    assert _stored(fresh_app, paris).nom == nom


def test_api_moving_a_structure_into_the_territory_is_refused(fresh_app):
    paris, version, nom, _cp, _op = _mine(fresh_app, "75")
    calvados = _one(fresh_app, select(Departement.id).where(Departement.code == "14"))[0]
    client = client_for(fresh_app, "calvados")
    answer = client.put(f"/api/v1/structure/{paris}", json={"departement": calvados, "version": version})
    assert answer.status_code == 404 and nom not in answer.get_data(as_text=True)


@pytest.mark.parametrize("version", [None, "", "abc", [1], {"v": 1}])
def test_api_put_without_a_readable_version_is_refused(fresh_app, version):
    sid, _v, nom, _cp, _op = _mine(fresh_app)
    client = client_for(fresh_app, "calvados")
    body = {"nom": "Sans version"} | ({} if version is None else {"version": version})
    answer = client.put(f"/api/v1/structure/{sid}", json=body)
    assert answer.status_code == 428 and "Version" in answer.get_json()["message"]
    assert _stored(fresh_app, sid).nom == nom


@pytest.mark.parametrize("body", ['[{"nom": "x"}]', '"nom"', "12", "null", "{nom: x}", ""])
@pytest.mark.parametrize("method", ["post", "put"])
def test_api_malformed_bodies_are_refused_in_french(fresh_app, body, method):
    sid, _v, nom, _cp, _op = _mine(fresh_app)
    client = client_for(fresh_app, "calvados")
    url = "/api/v1/structure/" + (f"{sid}" if method == "put" else "")
    answer = getattr(client, method)(url, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert "objet JSON" in answer.get_json()["message"]
    assert _stored(fresh_app, sid).nom == nom


def test_an_operateur_may_not_set_the_states_decisions_by_api(fresh_app):
    client = client_for(fresh_app, "operateur")
    with fresh_app.app_context():
        from app.extensions import db
        from models import BhasileUser

        op = db.session.scalar(select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    budget = _one(fresh_app, select(BudgetAnnee.id, BudgetAnnee.version, BudgetAnnee.dotation_accordee)
                  .join(Structure).where(Structure.operateur_id == op).order_by(BudgetAnnee.id))
    answer = client.put(f"/api/v1/budget/{budget.id}", json={"dotation_accordee": 1, "version": budget.version})
    assert answer.status_code == 403
    assert "réservé aux services de l'État" in answer.get_json()["message"]["dotation_accordee"][0]
    after = _one(fresh_app, select(BudgetAnnee.dotation_accordee).where(BudgetAnnee.id == budget.id))
    assert after[0] == budget.dotation_accordee


def test_racing_api_puts_one_wins_the_other_gets_409(fresh_app, monkeypatch):
    """Both load version N; the second's write finds the row moved on: 409, not 500."""
    sid, version, _nom, _cp, _op = _mine(fresh_app)
    client = client_for(fresh_app, "calvados")
    from app import gate as gate_module

    original = gate_module.Gate.check

    def check_then_race(self, *args, **kwargs):
        errors = original(self, *args, **kwargs)
        with _engine(fresh_app).begin() as conn:
            conn.execute(text("UPDATE structure SET nom = 'Gagnant', version = version + 1 WHERE id = :i"),
                         {"i": sid})
        return errors

    monkeypatch.setattr(gate_module.Gate, "check", check_then_race)
    answer = client.put(f"/api/v1/structure/{sid}", json={"nom": "Perdant", "version": version})
    monkeypatch.undo()
    assert answer.status_code == 409 and "modifiée par quelqu'un d'autre" in answer.get_json()["message"]
    assert _stored(fresh_app, sid).nom == "Gagnant"


def _engine(app):
    with app.app_context():
        from app.extensions import db

        return db.engine


def test_agent_may_not_delete_a_cpom_covering_another_territory(fresh_app):
    with fresh_app.app_context():
        from app.extensions import db

        calvados = db.session.scalar(select(Structure.id).join(Departement).where(Departement.code == "14"))
        paris = db.session.scalar(select(Structure.id).join(Departement).where(Departement.code == "75"))
        cpom = Convention(reference="CPOM-MIXTE", type="CPOM", statut="BROUILLON")
        cpom.structures = [ConventionStructure(structure_id=calvados), ConventionStructure(structure_id=paris)]
        db.session.add(cpom)
        db.session.commit()
        cid = cpom.id
    client = client_for(fresh_app, "calvados")
    assert client.get(f"/conventionview/show/{cid}").status_code == 200
    assert client.delete(f"/api/v1/convention/{cid}").status_code in (400, 404)
    assert _one(fresh_app, select(Convention.id).where(Convention.id == cid)) is not None


def test_api_a_value_the_database_cannot_hold_is_a_422_not_a_503(fresh_app):
    """Found by the API fuzzer on PostgreSQL: a 201-character opérateur name answered 503."""
    client = client_for(fresh_app, "calvados")
    answer = client.post("/api/v1/operateur/", json={"nom": "x" * 5000})
    assert answer.status_code in (400, 422), answer.get_data(as_text=True)[:300]
    assert _one(fresh_app, select(Operateur.id).where(Operateur.nom == "x" * 5000)) is None


def test_api_creating_a_duplicate_is_a_409_and_writes_nothing(fresh_app):
    """Found by the API fuzzer (K5): a duplicate code DNA answered 422 with no word of why."""
    sid, _v, _nom, _cp, _op = _mine(fresh_app)
    code = _one(fresh_app, select(Structure.code_dna).where(Structure.id == sid))[0]
    calvados = _one(fresh_app, select(Departement.id).where(Departement.code == "14"))[0]
    client = client_for(fresh_app, "calvados")
    answer = client.post("/api/v1/structure/", json={"code_dna": code, "nom": "Doublon", "type": "HUDA",
                                                     "departement": calvados})
    message = answer.get_json()["message"]
    assert answer.status_code == 409 and "déjà utilisé" in message and code in message  # names the value
    assert _one(fresh_app, select(Structure.id).where(Structure.nom == "Doublon")) is None
