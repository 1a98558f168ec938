"""The aggregate tables hold what a plain Python computation over the demo park gives."""
from __future__ import annotations

import calendar
import datetime as dt
import statistics
from collections import defaultdict

import pytest
from sqlalchemy import select

from tests import dbutil
from tests.conftest import make_app

TODAY = dt.date.today()


@pytest.fixture(scope="module")
def built(template_db, tmp_path_factory):
    """A clone of the demo park with its aggregates built once."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path_factory.mktemp("agg"))
    with application.app_context():
        from app.pilotage.aggregates import rebuild
        from app.extensions import db

        rebuild(db.engine, TODAY)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _park(db):
    """Every row the indicators need, loaded with the ORM (no SQL aggregation)."""
    from models import (
        ActiviteMensuelle,
        Adresse,
        AdresseAnnee,
        BudgetAnnee,
        Departement,
        PlacesAnnee,
        Structure,
    )

    park = {"structures": db.session.scalars(select(Structure)).all(),
            "deps": {d.id: d for d in db.session.scalars(select(Departement))}}
    park["places"] = defaultdict(dict)
    for p in db.session.scalars(select(PlacesAnnee)):
        park["places"][p.structure_id][p.annee] = p.places_autorisees
    park["budgets"] = defaultdict(dict)
    for b in db.session.scalars(select(BudgetAnnee)):
        park["budgets"][b.structure_id][b.annee] = b
    addr_owner = {a.id: a.structure_id for a in db.session.scalars(select(Adresse))}
    park["addr"] = defaultdict(dict)
    for aa in db.session.scalars(select(AdresseAnnee)):
        park["addr"][aa.adresse_id][aa.annee] = aa.places_autorisees
    park["addr_owner"] = addr_owner
    park["activity"] = defaultdict(list)
    for a in db.session.scalars(select(ActiviteMensuelle)):
        park["activity"][a.structure_id].append(a)
    return park


def _expected_structure(park, s):
    places = park["places"][s.id]
    latest = places[max(places)] if places else None
    from_addr = sum(years[max(years)] or 0 for aid, years in park["addr"].items()
                    if park["addr_owner"][aid] == s.id and years)
    end = TODAY.replace(day=1)
    start = end.replace(year=end.year - 1)
    months = [a for a in park["activity"][s.id] if start <= a.mois < end]
    aut = sum(a.places_autorisees for a in months)
    dispo = sum(a.places_autorisees - (a.places_indisponibles or 0) for a in months)
    budgets = {y: b for y, b in park["budgets"][s.id].items()
               if y <= TODAY.year and b.dotation_accordee is not None}
    year = max(budgets) if budgets else None
    cout = taux = None
    if year is not None and places.get(year):
        b = budgets[year]
        days = 366 if calendar.isleap(year) else 365
        cout = float(b.dotation_accordee) / (places[year] * days)
        taux = places[year] / float(b.etp) if b.etp else None
    return {"places": latest, "places_adresses": from_addr, "ecart": latest - from_addr,
            "taux_occupation": sum(a.places_occupees for a in months) / dispo,
            "taux_indues": sum(a.presences_indues_bpi + a.presences_indues_deboutes for a in months) / aut,
            "taux_vacance": sum(a.places_vacantes for a in months) / aut,
            "annee_budget": year, "cout_journalier": cout, "taux_encadrement": taux,
            "budget_n1_manquant": (TODAY.year - 1) not in budgets}


def test_each_structure_matches_a_python_computation(built):
    with built.app_context():
        from app.extensions import db
        from models import AggStructure

        park = _park(db)
        aggs = {a.structure_id: a for a in db.session.scalars(select(AggStructure))}
        assert len(aggs) == len(park["structures"]) == 1000
        for s in park["structures"]:
            expected, agg = _expected_structure(park, s), aggs[s.id]
            for key, value in expected.items():
                got = getattr(agg, key)
                assert got == pytest.approx(value, rel=1e-9), (s.code_dna, key)
            assert agg.alerte_ecart == (abs(expected["ecart"]) / expected["places"] > 0.10)
            assert agg.alerte_occupation == (expected["taux_occupation"] < 0.85)
            assert agg.alerte_indues == (expected["taux_indues"] > 0.07)
            assert agg.alerte_cout == (not 15 <= expected["cout_journalier"] <= 25)


def test_national_and_regional_rows_match_the_structures(built):
    with built.app_context():
        from app.extensions import db
        from models import AggTerritoire

        park = _park(db)
        in_normandie = lambda s: park["deps"][s.departement_id].region.code == "28"  # noqa: E731
        for niveau, code, keep in (("national", "FR", lambda s: True), ("region", "28", in_normandie)):
            for year in range(TODAY.year - 4, TODAY.year + 1):
                chosen = [s for s in park["structures"] if keep(s) and year in park["places"][s.id]]
                row = db.session.get(AggTerritoire, (niveau, code, year, "TOUS"))
                assert row.structures == len(chosen)
                assert row.places == sum(park["places"][s.id][year] for s in chosen)
                dotations = [park["budgets"][s.id][year].dotation_accordee for s in chosen
                             if year in park["budgets"][s.id]]
                assert row.dotation_accordee == pytest.approx(float(sum(dotations)))
                days = 366 if calendar.isleap(year) else 365
                couts = [float(park["budgets"][s.id][year].dotation_accordee)
                         / (park["places"][s.id][year] * days)
                         for s in chosen if year in park["budgets"][s.id]]
                q1, med, q3 = statistics.quantiles(couts, n=4, method="inclusive")
                assert (row.cout_q1, row.cout_median, row.cout_q3) == pytest.approx((q1, med, q3))


def test_types_add_up_to_all_types(built):
    with built.app_context():
        from app.extensions import db
        from models import AggTerritoire

        rows = db.session.scalars(select(AggTerritoire).where(AggTerritoire.niveau == "departement",
                                                              AggTerritoire.code == "14")).all()
        by_year = defaultdict(lambda: defaultdict(int))
        for r in rows:
            by_year[r.annee]["TOUS" if r.type == "TOUS" else "types"] += r.places
        for year, sums in by_year.items():
            assert sums["types"] == sums["TOUS"] > 0


def test_operateur_figures_are_weighted_over_its_structures(built):
    with built.app_context():
        from app.extensions import db
        from models import AggOperateur, AggStructure

        biggest = db.session.scalars(select(AggOperateur).order_by(AggOperateur.structures.desc())).first()
        mine = db.session.scalars(select(AggStructure).where(
            AggStructure.operateur_id == biggest.operateur_id)).all()
        assert biggest.structures == len(mine)
        assert biggest.places == sum(a.places for a in mine)
        with_cout = [a for a in mine if a.cout_journalier]
        expected = sum(a.dotation_accordee for a in with_cout) / sum(
            a.dotation_accordee / a.cout_journalier for a in with_cout)
        assert biggest.cout_journalier == pytest.approx(expected)
        assert biggest.taux_occupation == pytest.approx(
            sum(a.act_occupees for a in mine) / sum(a.act_disponibles for a in mine))


def test_thresholds_are_configurable_per_type(built):
    with built.app_context():
        from app.pilotage.aggregates import flag_alerts
        from app.extensions import db
        from models import AggStructure

        with db.engine.begin() as conn:
            flag_alerts(conn, {"CADA": {"cout_min": 0, "cout_max": 1000}})
        cada = db.session.scalars(select(AggStructure).where(AggStructure.type == "CADA")).all()
        huda = db.session.scalars(select(AggStructure).where(AggStructure.type == "HUDA")).all()
        assert not any(a.alerte_cout for a in cada)
        assert any(a.alerte_cout for a in huda)
        with db.engine.begin() as conn:
            flag_alerts(conn, {})
        db.session.expire_all()
        assert any(a.alerte_cout for a in db.session.scalars(
            select(AggStructure).where(AggStructure.type == "CADA")))


def test_rebuild_is_repeatable(built):
    with built.app_context():
        from app.pilotage.aggregates import rebuild
        from app.extensions import db

        first = rebuild(db.engine, TODAY)
        assert first == rebuild(db.engine, TODAY)
        assert first["agg_structure"] == 1000 and first["agg_structure_annee"] == 5000
