"""Step 5 of the budget dialogue: after the decision, the opérateur files the year's compte
administratif (realised charges and produits, the result computed, a proposed affectation du
résultat) and the agent, seeing it beside the budget and the dotation accordée, accepts or
amends the affectation with a reason. Through the write gate: the opérateur never settles, a
structure out of scope is not found, a stale version or a malformed amount is refused in
French and writes nothing, never a 500."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from tests.conftest import client_for
from tests.test_dialogue import YEAR, dialogue, dlg_app, park, post, session  # noqa: F401
from tests.test_dialogue import test_a_full_year_of_dialogue as full_year
from tests.test_dialogue_gate import snapshot, text

REALISE = {"charges_1": "160 000", "charges_2": "600 000", "charges_3": "235 000",
           "produits_1": "945 000", "produits_2": "80 000", "produits_3": "5 000"}


def compte(application, pk: int) -> dict:
    from models.dialogue import DialogueBudgetaire

    with application.app_context():
        s = session(application)
        s.expire_all()
        d = s.get(DialogueBudgetaire, pk)
        return {"version": d.version, "resultat": d.resultat, "proposee": d.affectation_proposee,
                "retenue": d.affectation_retenue, "motif": d.motif_affectation, "echeance": d.echeance_ca,
                "depose_par": d.ca_depose_par, "arrete_par": d.ca_arrete_par, "arrete_le": d.ca_arrete_le,
                "realise": {x.code: x.realise for x in d.lignes}}


def decided(application, pk: int, filed: bool = False, echeance_ca=None) -> None:
    """A dialogue placed after the decision, as if the users had got there (no PDF);
    ``filed``: with its compte administratif filed (an excédent, « investissement »)."""
    from models.dialogue import DialogueBudgetaire, DialogueLigne, StatutDialogue

    with application.app_context():
        s = session(application)
        d = s.get(DialogueBudgetaire, pk)
        amounts = (("charges_1", "500000"), ("charges_2", "0"), ("charges_3", "0"),
                   ("produits_1", "490000"), ("produits_2", "10000"), ("produits_3", "0"))
        d.lignes = []
        s.flush()  # the former lines go before the new ones come
        d.lignes = [DialogueLigne(code=c, rang=r, demande=Decimal(v), retenu=Decimal(v),
                                  realise=(Decimal(v) + (1000 if c == "produits_2" else 0)) if filed else None)
                    for r, (c, v) in enumerate(amounts)]
        d.statut, d.decide_le, d.decide_par = StatutDialogue.DECIDE, dt.datetime(YEAR - 1, 12, 1), "test"
        d.dotation_accordee = Decimal("490000")
        if echeance_ca:
            d.echeance_ca = echeance_ca
        if filed:
            d.resultat, d.affectation_proposee = Decimal("1000"), "investissement"
            d.ca_depose_le, d.ca_depose_par = dt.datetime(YEAR + 1, 4, 1), "test"
        s.commit()


def test_the_compte_administratif_closes_the_year(dlg_app, park):
    from models import BudgetAnnee, Changement

    full_year(dlg_app, park)  # budget filed, proposed, answered, decided: dotation 945 000
    pk, code = park["mine"].id, park["mine"].code_dna
    operateur, agent = client_for(dlg_app, "operateur"), client_for(dlg_app, "calvados")
    assert compte(dlg_app, pk)["echeance"] == dt.date(YEAR + 1, 4, 30)  # the default
    todo = text(operateur.get("/a-traiter/"))
    assert code in todo and f"déposer le compte administratif {YEAR} avant le 30/04/{YEAR + 1}" in todo
    page = text(operateur.get(f"/dialogue/{pk}/"))
    assert "Déposer le compte administratif" in page and "Réserve de compensation des déficits" in page

    # malformed bodies: French messages, nothing written, never a 500
    version = compte(dlg_app, pk)["version"]
    good = {f"realise_{k}": v for k, v in REALISE.items()}
    before = snapshot(dlg_app)
    cases = [
        ({**good, "realise_charges_1": "douze mille", "affectation": "investissement"}, "n'est pas un nombre"),
        ({**good, "realise_charges_2": "-5", "affectation": "investissement"}, "positif"),
        ({**good, "realise_produits_2": "9" * 400, "affectation": "investissement"}, "raisonnable"),
        ({"realise_charges_1": "1", "affectation": "investissement"}, "montant obligatoire"),
        ({**good}, "Choisissez l'affectation du résultat"),
        ({**good, "affectation": "<script>x</script>"}, "Affectation du résultat inconnue"),
        ({**good, "affectation": "report_deficit"}, "ne convient pas à un excédent"),
    ]
    for data, message in cases:
        answer = post(operateur, f"/dialogue/{pk}/compte", {"version": str(version), **data}, follow_redirects=True)
        assert answer.status_code == 200 and message in text(answer), message
        assert "<script>x" not in answer.get_data(as_text=True)
        assert snapshot(dlg_app) == before
    for data, status in (({"version": str(version - 1), **good, "affectation": "investissement"}, (400, 409)),
                         ({**good, "affectation": "investissement"}, (400,)),
                         ({"version": str(version), **good, "affectation": "investissement",
                           "affectation_retenue": "reserve_tresorerie"}, (403,))):
        answer = post(operateur, f"/dialogue/{pk}/compte", data)
        assert answer.status_code in status, data
        assert snapshot(dlg_app) == before
    # the agent can't settle a compte not yet filed
    answer = post(agent, f"/dialogue/{pk}/affectation", {"version": str(version), "affectation": "investissement"},
                  follow_redirects=True)
    assert "pas encore déposé son compte administratif" in text(answer)
    assert snapshot(dlg_app) == before

    # the opérateur files: charges 995 000, produits 1 030 000 → an excédent of 35 000
    filed = post(operateur, f"/dialogue/{pk}/compte", {"version": str(version), **good,
                                                         "affectation": "investissement",
                                                         "ca_commentaire": "Travaux de mise aux normes"})
    assert filed.status_code == 302
    state = compte(dlg_app, pk)
    assert state["resultat"] == Decimal("35000") and state["proposee"] == "investissement"
    assert state["depose_par"] == "operateur" and state["realise"]["charges_1"] == Decimal("160000")

    # the opérateur never settles the affectation (nor files again over a stale version)
    before = snapshot(dlg_app)
    refused = post(operateur, f"/dialogue/{pk}/affectation", {"version": str(state["version"]),
                                                               "affectation": "investissement"})
    assert refused.status_code == 403 and ("État" in text(refused) or "rôle" in text(refused))
    assert post(operateur, f"/dialogue/{pk}/compte", {"version": str(version), **good,
                                                       "affectation": "investissement"}).status_code in (400, 409)
    assert snapshot(dlg_app) == before

    # the agent sees it beside the budget and the dotation accordée: the gap per line
    assert code in text(agent.get("/a-traiter/"))
    screen = text(agent.get(f"/dialogue/{pk}/"))
    assert "Compte administratif" in screen and "Écart réalisé − accordé" in screen
    assert "Excédent affecté au financement de mesures d'investissement" in screen
    assert "Travaux de mise aux normes" in screen and "Arrêter l'affectation du résultat" in screen
    # amending without a reason, or with a déficit's affectation, or stale: refused
    for data, message in (({"affectation": "reserve_compensation"}, "Motivez la modification"),
                          ({"affectation": "reprise_reserve", "motif_affectation": "x"}, "ne convient pas")):
        answer = post(agent, f"/dialogue/{pk}/affectation", {"version": str(state["version"]), **data},
                      follow_redirects=True)
        assert answer.status_code == 200 and message in text(answer), message
    assert post(agent, f"/dialogue/{pk}/affectation", {"version": str(state["version"] - 1),
                                                        "affectation": "investissement"}).status_code in (400, 409)
    assert snapshot(dlg_app) == before

    # the agent amends: the excédent goes to the réserve de compensation, with its reason
    settled = post(agent, f"/dialogue/{pk}/affectation", {
        "version": str(state["version"]), "affectation": "reserve_compensation",
        "motif_affectation": "Déficits antérieurs à couvrir"})
    assert settled.status_code == 302
    state = compte(dlg_app, pk)
    assert state["retenue"] == "reserve_compensation" and state["arrete_par"] == "calvados"
    assert state["motif"] == "Déficits antérieurs à couvrir" and state["arrete_le"] is not None
    with dlg_app.app_context():
        s = session(dlg_app)
        budget = s.scalar(select(BudgetAnnee).where(
            BudgetAnnee.structure_id == dialogue(dlg_app, pk)["structure_id"], BudgetAnnee.annee == YEAR))
        assert budget.reserve_compensation_deficits == Decimal("35000")
        assert budget.dotation_accordee == Decimal("945000")  # what was granted stays
        history = s.execute(select(Changement.username, Changement.new_value).where(
            Changement.entity == "budget_annee", Changement.entity_id == budget.id,
            Changement.field == "reserve_compensation_deficits")).all()
        assert history == [("calvados", "35000")]
        steps = {r.field: (r.username, r.new_value) for r in s.execute(select(Changement).where(
            Changement.entity == "dialogue_budgetaire", Changement.entity_id == pk,
            Changement.field.in_(["ca_depose_par", "affectation_proposee", "affectation_retenue", "ca_arrete_par"])
        )).scalars()}
        assert steps == {"ca_depose_par": ("operateur", "operateur"),
                         "affectation_proposee": ("operateur", "investissement"),
                         "affectation_retenue": ("calvados", "reserve_compensation"),
                         "ca_arrete_par": ("calvados", "calvados")}
        realise = s.execute(select(Changement.username).where(
            Changement.entity == "dialogue_ligne", Changement.field == "realise")).scalars().all()
        assert realise and set(realise) == {"operateur"}
    page = text(operateur.get(f"/dialogue/{pk}/"))
    assert "Affectation arrêtée" in page and "Réserve de compensation des déficits" in page
    assert "Déposer le compte administratif" not in page
    # settled: nothing more to file nor settle
    before = snapshot(dlg_app)
    answer = post(agent, f"/dialogue/{pk}/affectation", {"version": str(state["version"]),
                                                          "affectation": "investissement"}, follow_redirects=True)
    assert "déjà arrêté" in text(answer)
    assert snapshot(dlg_app) == before


def test_scope_of_the_compte_administratif(dlg_app, park):
    other, paris = park["other"].id, park["paris"].id
    decided(dlg_app, other, filed=True)
    decided(dlg_app, paris, filed=True)
    operateur, agent = client_for(dlg_app, "operateur"), client_for(dlg_app, "calvados")
    before = snapshot(dlg_app)
    good = {f"realise_{k}": v for k, v in REALISE.items()}
    # another opérateur's structure: not found
    for path in (f"/dialogue/{other}/compte", f"/dialogue/{other}/affectation"):
        answer = post(operateur, path, {"version": str(compte(dlg_app, other)["version"]), **good,
                                        "affectation": "investissement"})
        assert answer.status_code == 404, path
    # a département agent outside its département: not found
    answer = post(agent, f"/dialogue/{paris}/affectation", {"version": str(compte(dlg_app, paris)["version"]),
                                                            "affectation": "investissement"})
    assert answer.status_code == 404 and park["paris"].code_dna not in text(answer)
    assert snapshot(dlg_app) == before
    # inside its territory, accepting the proposal needs no reason
    assert post(agent, f"/dialogue/{other}/affectation", {"version": str(compte(dlg_app, other)["version"]),
                                                          "affectation": ""}).status_code == 302
    state = compte(dlg_app, other)
    assert state["retenue"] == "investissement" and state["motif"] is None


def test_a_late_compte_administratif_is_flagged(dlg_app, park):
    paris = park["paris"].id
    decided(dlg_app, paris, echeance_ca=dt.date.today() - dt.timedelta(days=3))
    with dlg_app.app_context():
        from models.dialogue import DialogueBudgetaire

        d = session(dlg_app).get(DialogueBudgetaire, paris)
        d.ca_depose_le = d.ca_arrete_le = None
        session(dlg_app).commit()
    centrale = client_for(dlg_app, "centrale")
    todo = text(centrale.get("/a-traiter/"))
    assert park["paris"].code_dna in todo and "compte administratif non déposé" in todo
    # the deadline is configurable at the opening; a deadline of another year is refused
    before = snapshot(dlg_app)
    page = post(centrale, "/dialogue/ouvrir", {"annee": str(YEAR + 1), "echeance_ca": "2000-01-01",
                                               "departement": ["1"]}, follow_redirects=True)
    assert page.status_code == 200 and "L'échéance du compte administratif doit tomber" in text(page)
    assert snapshot(dlg_app) == before
