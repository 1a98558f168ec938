"""Grid: time of one page of 1,000 rows from the data endpoint, and of a 500-cell save.

Targets: grid data for 1,000 rows ≤ 100 ms median; a 500-cell save ≤ 300 ms median (both
measured as whole HTTP requests through the app, as a national agent, on the demo park).

    python benchmarks/bench_grid.py [--no-postgresql] [--requests 15] [--saves 8]
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_aggregates import PASSWORD, drop_pg, make_app, pg_database, prepare  # noqa: E402

YEAR = dt.date.today().year - 1
LAST_MONTH = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
PAGES = {"structures": {}, "places": {"annee": YEAR}, "budgets": {"annee": YEAR},
         "activite": {"debut": LAST_MONTH, "fin": LAST_MONTH}, "adresses": {"annee": YEAR}}
SAVE_FIELDS = ("etp", "taux_encadrement", "cout_journalier", "dotation_demandee", "total_produits",
               "total_charges", "total_charges_proposees", "excedent_recupere", "fonds_dedies", "autre")


def time_data(client, requests: int, size: int = 1000) -> dict[str, tuple[float, int]]:
    out = {}
    for slug, period in PAGES.items():
        params = {**period, "size": size, "page": 1}
        rows = len(client.get(f"/grille/{slug}/donnees", query_string=params).get_json()["rows"])
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(f"/grille/{slug}/donnees", query_string=params)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        out[slug] = (statistics.median(times), rows)
    return out


def time_saves(client, saves: int) -> tuple[float, int]:
    times, cells = [], 0
    for run in range(saves):
        body = client.get("/grille/budgets/donnees",
                          query_string={"annee": YEAR, "size": 50, "page": run + 1}).get_json()
        data = [dict(zip(body["fields"], values)) for values in body["rows"]]
        rows = [{"k": r["_k"], "v": r["_v"], "values": {f: str(100 + run * 7 + i)
                                                        for i, f in enumerate(SAVE_FIELDS)}}
                for r in data]
        cells = sum(len(r["values"]) for r in rows)
        started = time.perf_counter()
        response = client.post("/grille/budgets/enregistrer", json={"period": {"annee": YEAR}, "rows": rows})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_json()
    return statistics.median(times), cells


def measure(backend: str, requests: int, saves: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        name = "bhasile_bench_grid"
        url = pg_database(name) if backend == "postgresql" else f"sqlite:///{tmp}/bench.db"
        app = make_app(url, tmp)
        prepare(app, 1)
        client = app.test_client()
        client.post("/login/", data={"username": "mesure", "password": PASSWORD})
        base = time_data(client, requests, size=1)["structures"][0]
        print(f"{backend:<10} baseline: one-row grid request median {base * 1000:.0f} ms "
              "(session, permissions, scope: what any request costs on this machine now)")
        for slug, (median, rows) in time_data(client, requests).items():
            print(f"{backend:<10} grid data {slug:<11} {rows:>5} rows: median {median * 1000:.0f} ms "
                  f"(target ≤ 100 ms) {'OK' if median <= 0.1 else 'TOO SLOW'}")
        median, cells = time_saves(client, saves)
        print(f"{backend:<10} grid save  budgets     {cells:>5} cells: median {median * 1000:.0f} ms "
              f"(target ≤ 300 ms) {'OK' if median <= 0.3 else 'TOO SLOW'}")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
        if backend == "postgresql":
            drop_pg(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--saves", type=int, default=8)
    args = parser.parse_args()
    for backend in ["sqlite"] + ([] if args.no_postgresql else ["postgresql"]):
        measure(backend, args.requests, args.saves)


if __name__ == "__main__":
    main()
