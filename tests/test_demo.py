"""The demo park is plausible, national and deterministic."""
from __future__ import annotations

import statistics
from collections import Counter

from sqlalchemy import func, select

from tests import dbutil
from tests.conftest import make_app, run_cli


def test_demo_park_is_national_and_plausible(app):
    with app.app_context():
        from app.extensions import db
        from models import (ActiviteMensuelle, BudgetAnnee, Convention, Departement, Operateur,
                            PlacesAnnee, Structure)

        structures = db.session.scalars(select(Structure)).all()
        assert 950 <= len(structures) <= 1100
        assert len({s.departement_id for s in structures}) == db.session.query(Departement).count() == 101
        types = Counter(s.type.value for s in structures)
        assert types["CADA"] + types["HUDA"] > 0.7 * len(structures)
        assert all(s.code_dna[0] == {"CADA": "C", "HUDA": "H", "CAES": "K", "CPH": "R",
                                     "PRAHDA": "P"}[s.type.value] for s in structures)
        assert all(len(s.code_dna) == 5 and s.code_dna[1:].isdigit() for s in structures)
        assert all(s.code_finess and len(s.code_finess) == 9 for s in structures if s.type.autorisee)
        year = db.session.scalar(select(func.max(PlacesAnnee.annee)))
        places = db.session.scalar(select(func.sum(PlacesAnnee.places_autorisees))
                                   .where(PlacesAnnee.annee == year))
        assert 95_000 <= places <= 125_000
        assert 200 <= db.session.query(Operateur).count() <= 300
        # every structure has its conventions (renewed one after the other), ~40 CPOMs on top
        assert len(structures) < db.session.query(Convention).count() <= 3 * len(structures)
        assert all(s.fin_convention for s in structures)
        years = db.session.scalars(select(PlacesAnnee.annee).distinct()).all()
        assert len(years) == 5
        months = db.session.scalar(select(func.count(func.distinct(ActiviteMensuelle.mois))))
        assert months == 24
        costs = []
        for budget in db.session.scalars(select(BudgetAnnee).where(BudgetAnnee.annee == year - 1)):
            pl = next(p.places_autorisees for p in budget.structure.places if p.annee == year - 1)
            costs.append(float(budget.dotation_accordee) / (pl * 365))
        inside = sum(15 <= c <= 25 for c in costs) / len(costs)
        assert 0.85 <= inside < 1.0, "mostly 15–25 €, with a few outliers"
        rates = [a.taux_occupation for a in db.session.scalars(select(ActiviteMensuelle))
                 if a.taux_occupation is not None]
        assert 0.85 <= statistics.median(rates) <= 1.0
        assert any(r < 0.85 for r in rates)


def test_demo_is_deterministic_and_refuses_a_non_empty_base(template_db, tmp_path, monkeypatch):
    """The same park twice — the suite's template (``bhasile demo``) and one written every 300
    structures, as ×30 and ×100 stream theirs (app.demo.STREAM), which changes nothing of what
    is written."""
    from app import demo

    def signature(app):
        with app.app_context():
            from app.extensions import db
            from models import ActiviteMensuelle, AdresseAnnee, BudgetAnnee, ConventionStructure, Structure

            found = (
                db.session.scalars(select(Structure.code_dna).order_by(Structure.id)).all(),
                db.session.scalar(select(func.sum(BudgetAnnee.dotation_accordee))),
                [db.session.scalar(select(func.count(m.id)))
                 for m in (ActiviteMensuelle, AdresseAnnee, ConventionStructure)],
                db.session.scalar(select(func.sum(ActiviteMensuelle.places_occupees))),
            )
            db.session.remove()
            db.engine.dispose()
        return found

    url, tmp = template_db
    template = make_app(dbutil.clone(url, tmp), tmp_path / "template")
    monkeypatch.setattr(demo, "STREAM", 300)
    streamed = make_app(dbutil.create_empty(tmp_path, "det_b"), tmp_path)
    assert run_cli(streamed, "bhasile", "init").exit_code == 0
    assert run_cli(streamed, "bhasile", "demo").exit_code == 0
    again = streamed.test_cli_runner().invoke(args=["bhasile", "demo"])
    assert again.exit_code != 0 and "déjà" in again.output
    assert signature(streamed) == signature(template)


def test_operateur_names_stay_distinct_and_finite_at_large_scales():
    """``demo --scale 12`` used to draw names forever: 7 × 14 national combinations run out."""
    import random
    from types import SimpleNamespace

    from app.demo import _operateur_names

    deps = [SimpleNamespace(nom=n) for n in ("Calvados", "Manche", "Orne")]
    names = _operateur_names(random.Random(1), deps, 250 * 30, 12 * 30)
    assert len(names) == len(set(names)) == 7500
    assert not any(" " + deps[0].nom in n for n in names[:360])   # the national ones come first


def test_dna_codes_stay_distinct_and_finite_past_ten_thousand_per_type():
    """×100 makes 39,000 CADA: the random four-digit codes (10,000) used to run out and the
    drawing never ended; past them a code takes the département's next number."""
    import random

    from app.demo import _code_dna

    rng, seq, used = random.Random(3), {}, set()
    codes = [_code_dna(rng, "C", dep, seq, used) for dep in ("75", "13", "59") for _ in range(14_000)]
    assert len(set(codes)) == len(codes) == 42_000
    assert all(c[0] == "C" and c[1:].isdigit() and 5 <= len(c) <= 10 for c in codes)


ALERTS = ("ecart", "occupation", "bpi", "deboutes", "indues", "vacantes", "indisponibles", "cout",
          "encadrement")


def test_each_alert_singles_out_a_minority_of_the_demo_park(template_db, tmp_path):
    """Vacancy, costs, staffing and presences spread around the thresholds (app/pilotage/seuils.py): each
    alert is raised by 5–25 % of the structures, so that an alert says something."""
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path)
    with application.app_context():
        from app.pilotage.aggregates import rebuild
        from app.extensions import db
        from models import AggStructure

        rebuild(db.engine)
        total = db.session.scalar(select(func.count()).select_from(AggStructure))
        shares = {name: db.session.scalar(select(func.count()).where(
            getattr(AggStructure, f"alerte_{name}").is_(True))) / total for name in ALERTS}
        db.session.remove()
        db.engine.dispose()
    assert total > 900
    outside = {name: round(share, 3) for name, share in shares.items() if not 0.05 <= share <= 0.25}
    assert not outside, f"alerts raised by too few or too many structures: {outside}"
