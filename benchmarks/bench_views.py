"""Latency of the agents' daily pages on the demo park (Flask test client, SQLite):

- the structure list: a page of 50 out of ~1,000 structures, filtered on a région;
- the fiche of a structure with 5 years of places, budgets and 24 months of activity.

Targets: list ≤ 60 ms, fiche ≤ 120 ms (median).

    python benchmarks/bench_views.py [--runs 30]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402

PASSWORD = "banc-de-mesure-2026"
TARGETS = {"list": 60.0, "fiche": 120.0}


def build(tmp: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
                      "SECRET_KEY": "b" * 40, "INSTANCE_DIR": str(tmp),
                      "SQLALCHEMY_ENGINE_OPTIONS": {}})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
    result = runner.invoke(args=["bhasile", "demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from app.cli import create_or_update_user
        from models.enums import Role

        create_or_update_user("centrale", Role.CENTRAL, PASSWORD)
    return app


def login(app):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login/", data={"username": "centrale", "password": PASSWORD, "csrf_token": token})
    return client


def targets(app) -> tuple[str, str]:
    """The list URL (région with the most structures) and the fiche of a structure with 5 years."""
    from sqlalchemy import func, select

    from app.extensions import db
    from models import BudgetAnnee, Departement, PlacesAnnee, Structure

    with app.app_context():
        region = db.session.execute(
            select(Departement.region_id, func.count()).join(Structure)
            .group_by(Departement.region_id).order_by(func.count().desc())).first()[0]
        full = db.session.scalar(
            select(Structure.id).join(PlacesAnnee).join(BudgetAnnee, BudgetAnnee.structure_id == Structure.id)
            .group_by(Structure.id).having(func.count(func.distinct(PlacesAnnee.annee)) >= 5)
            .having(func.count(func.distinct(BudgetAnnee.annee)) >= 5).limit(1))
    return f"/structureview/list/?region={region}&psize=50", f"/structureview/show/{full}"


def median_ms(client, url: str, runs: int) -> tuple[float, float]:
    for _ in range(3):  # warm-up: templates compiled, caches filled
        assert client.get(url).status_code == 200
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Path(tmp))
        client = login(app)
        list_url, fiche_url = targets(app)
        print(f"Demo park ×1 on SQLite, {args.runs} runs each (test client)")
        for name, url in (("list", list_url), ("fiche", fiche_url)):
            median, worst = median_ms(client, url, args.runs)
            verdict = "OK" if median <= TARGETS[name] else "ABOVE TARGET"
            print(f"  {name:<6} {url:<45} median {median:6.1f} ms  max {worst:6.1f} ms  "
                  f"(target ≤ {TARGETS[name]:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
