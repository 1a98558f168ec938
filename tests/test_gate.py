"""The write gate on its own: each rule, in its order, for each kind of user."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.gate import UNCHECKED, Gate, status_of
from app.scope import NATIONAL, NOWHERE, current_scope, scope_of
from models import (BhasileUser, BudgetAnnee, Departement, Operateur, PlacesAnnee, Structure)
from models.campagne import Campagne


@pytest.fixture()
def ctx(app):
    with app.test_request_context():
        from app.extensions import db

        yield db.session
        db.session.rollback()


def _scope(session, login):
    return scope_of(session.scalar(select(BhasileUser).where(BhasileUser.username == login)))


def _structure(session, dep):
    return session.scalar(select(Structure).join(Departement).where(Departement.code == dep)
                          .order_by(Structure.id))


def _dep_id(session, code):
    return session.scalar(select(Departement.id).where(Departement.code == code))


def test_outside_a_request_there_is_no_silent_national_scope(app):
    with app.app_context():
        assert current_scope() == NOWHERE


def test_a_reader_writes_nothing(ctx):
    s = _structure(ctx, "14")
    errors = Gate(_scope(ctx, "lecteur"), ctx).check(Structure, s, {"nom": "X"}, s.version)
    assert status_of(errors) == 403 and "rôle" in errors[0].message


def test_a_row_of_another_territory_is_not_found_and_nothing_else_is_said(ctx):
    paris = _structure(ctx, "75")
    errors = Gate(_scope(ctx, "calvados"), ctx).check(Structure, paris, {"nom": "RENOMMEE"}, None)
    assert [e.status for e in errors] == [404]
    assert paris.nom not in errors[0].message


def test_moving_a_row_in_or_out_of_the_territory_is_refused(ctx):
    gate = Gate(_scope(ctx, "calvados"), ctx)
    mine, paris = _structure(ctx, "14"), _structure(ctx, "75")
    out = gate.check(Structure, mine, {"departement_id": _dep_id(ctx, "75"), "code_postal": "75001"},
                     mine.version)
    assert out and "sortirait" in out[0].message and out[0].field == "departement_id"
    into = gate.check(Structure, paris, {"departement": _dep_id(ctx, "14")}, paris.version)
    assert status_of(into) == 404
    year = ctx.scalar(select(PlacesAnnee).where(PlacesAnnee.structure_id == mine.id))
    moved = gate.check(PlacesAnnee, year, {"structure": paris.id}, year.version)
    assert "sortirait" in moved[0].message
    created = gate.check(PlacesAnnee, None, {"structure_id": paris.id, "annee": 2031})
    assert "sortirait" in created[0].message


def test_a_relation_outside_the_territory_is_refused(ctx):
    gate = Gate(_scope(ctx, "calvados"), ctx)
    mine = _structure(ctx, "14")
    candidates = ctx.scalars(select(Structure.operateur_id).join(Departement)
                             .where(Departement.code == "75", Structure.operateur_id.is_not(None)))
    other = next(op for op in candidates if not gate.inside(Operateur, op, "choose"))
    errors = gate.check(Structure, mine, {"operateur": other}, mine.version)
    assert [(e.field, e.status) for e in errors] == [("operateur", 422)]
    assert "opérateur" in errors[0].message.lower()


def test_an_operateur_never_changes_the_states_decisions(ctx):
    scope = _scope(ctx, "operateur")
    gate = Gate(scope, ctx)
    budget = ctx.scalar(select(BudgetAnnee).join(Structure)
                        .where(Structure.operateur_id == scope.operateur_id).order_by(BudgetAnnee.id))
    errors = gate.check(BudgetAnnee, budget, {"dotation_accordee": 1, "commentaire": "ok"},
                        budget.version)
    assert [(e.field, e.status) for e in errors] == [("dotation_accordee", 403)]
    assert gate.check(BudgetAnnee, budget, {"dotation_accordee": budget.dotation_accordee,
                                            "commentaire": "ok"}, budget.version) == []
    places = ctx.scalar(select(PlacesAnnee).where(PlacesAnnee.structure_id == budget.structure_id))
    assert gate.check(PlacesAnnee, places, {"places_autorisees": 999}, places.version)[0].status == 403


def test_versions_missing_garbage_or_stale_are_refused(ctx):
    gate = Gate(_scope(ctx, "calvados"), ctx)
    mine = _structure(ctx, "14")
    assert [e.status for e in gate.check(Structure, mine, {"nom": "X"}, None)] == [428]
    assert [e.status for e in gate.check(Structure, mine, {"nom": "X"}, "abc")] == [428]
    assert [e.status for e in gate.check(Structure, mine, {"nom": "X"}, mine.version - 1 or 99)] == [409]
    assert gate.check(Structure, mine, {"nom": "X"}, mine.version) == []
    assert gate.check(Structure, mine, {"nom": "X"}, UNCHECKED) == []


def test_a_departement_agent_does_not_change_a_national_campaign(fresh_app):
    from app.campagnes import CAMPAIGN_SHEETS, open_campagne
    from app.extensions import db

    with fresh_app.test_request_context():
        ctx = db.session
        deps = [_dep_id(ctx, "14"), _dep_id(ctx, "50")]
        campagne = open_campagne(ctx, NATIONAL, "Nationale", deps, [2025], list(CAMPAIGN_SHEETS),
                                 None, "admin")
        _check_campaign(ctx, campagne)


def _check_campaign(ctx, campagne):
    assert Gate(_scope(ctx, "calvados"), ctx).check(Campagne, campagne, {"statut": "cloturee"})[0].status == 404
    assert Gate(_scope(ctx, "normandie"), ctx).check(Campagne, campagne, {"statut": "cloturee"}) == []


def test_the_rules_come_last_with_every_error(ctx):
    gate = Gate(_scope(ctx, "calvados"), ctx)
    mine = _structure(ctx, "14")
    errors = gate.check(Structure, mine, {"code_postal": "75001", "code_finess": "12"}, mine.version - 1)
    assert {e.field for e in errors} >= {"code_postal", "code_finess"}
    assert errors[-1].status == 409


def test_ids_that_name_no_record_are_outside_not_a_crash(ctx):
    gate = Gate(_scope(ctx, "calvados"), ctx)
    mine = _structure(ctx, "14")
    for ident in (2**63, -1, 0, "abc", True):
        errors = gate.check(Structure, mine, {"operateur": ident}, mine.version)
        assert errors and errors[0].status == 422, ident
