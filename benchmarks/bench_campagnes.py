"""Campaign costs on the demo park (Flask test client, SQLite), national campaign on every
département (~1,000 structures):

- opening (one task per structure, history rows included);
- the dashboard page and its Excel export, for the national agent;
- "Mes tâches" and the pre-filled workbook for the biggest opérateur (~60 structures).

    python benchmarks/bench_campagnes.py [--runs 10] [--db /tmp/existing-demo.db]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402

PASSWORD = "banc-de-mesure-2026"


def build(tmp: Path, existing: str | None):
    path = tmp / "bench.db"
    if existing:
        shutil.copy(existing, path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "b" * 40,
                      "INSTANCE_DIR": str(tmp), "SQLALCHEMY_ENGINE_OPTIONS": {},
                      "SESSION_COOKIE_SECURE": False, "TESTING": True})
    runner = app.test_cli_runner()
    if not existing:
        assert runner.invoke(args=["bhasile", "init"]).exit_code == 0
        assert runner.invoke(args=["bhasile", "demo"]).exit_code == 0
    else:
        assert runner.invoke(args=["bhasile", "init"]).exit_code == 0  # migrations + roles
    with app.app_context():
        from sqlalchemy import func, select

        from app.cli import create_or_update_user
        from app.extensions import db
        from models import Operateur, Structure
        from models.enums import Role

        biggest = db.session.execute(select(Operateur.nom).join(Structure).group_by(Operateur.id)
                                     .order_by(func.count(Structure.id).desc()).limit(1)).scalar()
        create_or_update_user("centrale", Role.CENTRAL, PASSWORD)
        create_or_update_user("op", Role.OPERATEUR, PASSWORD, operateur=biggest)
    return app


def login(app, user: str):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login/", data={"username": user, "password": PASSWORD, "csrf_token": token})
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client, token


def timed(fn, runs: int) -> float:
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * 1000)
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--db", help="copy of an existing demo database (skips the demo build)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Path(tmp), args.db)
        agent, token = login(app, "centrale")
        with app.app_context():
            from sqlalchemy import func, select

            from app.extensions import db
            from models import Departement, Structure

            deps = [str(d) for d in db.session.scalars(select(Departement.id).where(
                Departement.id.in_(select(Structure.departement_id))))]
        start = time.perf_counter()
        response = agent.post("/campagnes/ouvrir", data={
            "csrf_token": token, "nom": "Nationale", "annees": "2022-2026", "departement": deps,
            "feuille": ["Structures", "Places", "Budgets", "Activité"]})
        opening = (time.perf_counter() - start) * 1000
        assert response.status_code == 302, (response.status_code, response.headers.get("Location"), re.findall(r"alert-(?:danger|warning)[^<]*<[^<]*", response.get_data(as_text=True)))
        cid = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        with app.app_context():
            from models.campagne import Tache

            n_tasks = db.session.scalar(select(func.count(Tache.id)))
        print(f"opening a national campaign: {opening:.0f} ms for {n_tasks} tasks")
        print(f"dashboard (national):        {timed(lambda: agent.get(f'/campagnes/{cid}/'), args.runs):.0f} ms median")
        print(f"dashboard Excel export:      {timed(lambda: agent.get(f'/campagnes/{cid}/export.xlsx'), args.runs):.0f} ms median")
        op, _token = login(app, "op")
        print(f"Mes tâches (opérateur):      {timed(lambda: op.get('/campagnes/saisie/'), args.runs):.0f} ms median")
        size = len(op.get(f"/campagnes/saisie/{cid}/classeur.xlsx").data)
        print(f"pre-filled workbook:         {timed(lambda: op.get(f'/campagnes/saisie/{cid}/classeur.xlsx'), args.runs):.0f} ms median ({size // 1024} KiB)")

if __name__ == "__main__":
    main()
