"""Fuzz the REST API from its own OpenAPI document with schemathesis: every operation, signed
in as the administrator (session cookie + CSRF header), valid and invalid inputs; counts the
answers that are server errors (5xx, or an exception escaping the app).

    python benchmarks/schemathesis_run.py [--examples 25] [--postgresql]

Runs in-process (WSGI, no network) on a throwaway copy of the demo park.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hypothesis  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PASSWORD = "fuzz-mot-de-passe-2026"


def build_demo_base(url: str, instance: Path, users: dict[str, list[str]]) -> None:
    """Schema, reference data and the ×1 demo park at ``url``, plus accounts (PASSWORD)."""
    env = {"DATABASE_URL": url, "BHASILE_INSTANCE_DIR": str(instance), "BHASILE_LOG_FORMAT": "text",
           "SECRET_KEY": "f" * 40, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    flask = [sys.executable, "-m", "flask"]
    for args in (["bhasile", "init"], ["bhasile", "demo"]):
        subprocess.run(flask + args, cwd=ROOT, env=env, check=True, capture_output=True)
    for login, options in users.items():
        subprocess.run(flask + ["bhasile", "create-user", login, *options, "--password-stdin"],
                       cwd=ROOT, env=env, check=True, capture_output=True, input=f"{PASSWORD}\n".encode())


def signed_in_client(app, username: str = "admin"):
    """A test client signed in through the login form, sending the CSRF header on writes."""
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login/", data={"username": username, "password": PASSWORD, "csrf_token": token})
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


def _send(client, case):
    kwargs = {"method": case.method, "query_string": case.query or None,
              "headers": {k: str(v) for k, v in (case.headers or {}).items()}}
    if isinstance(case.body, (bytes, bytearray)):
        kwargs["data"] = bytes(case.body)
        kwargs["content_type"] = case.media_type or "application/octet-stream"
    elif not isinstance(case.body, schemathesis.core.NotSet):
        kwargs["json"] = case.body
    return client.open(case.formatted_path, **kwargs)


def fuzz(app, client, examples: int = 25) -> dict:
    """Run every operation of the app's OpenAPI document; return counts and the failures."""
    spec = client.get("/api/v1/_openapi").get_json()
    schema = schemathesis.openapi.from_dict(spec)
    statuses: Counter = Counter()
    failures: list[str] = []
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if type(r).__name__ == "Ok"]
    failures += [f"schéma illisible : {r}" for r in results if type(r).__name__ != "Ok"]
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            @hypothesis.given(operation.as_strategy(generation_mode=mode))
            def run(case):
                body = ""
                try:
                    response = _send(client, case)
                    status, body = response.status_code, response.get_data(as_text=True)[:160]
                except Exception as exc:  # an exception escaping the app is a 500
                    status = 599
                    failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: "
                                    f"{str(exc)[:200]}")
                statuses[status // 100 * 100] += 1
                if 500 <= status < 599:
                    failures.append(f"{case.method} {case.formatted_path} → {status} {body}")
            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue
    return {"operations": len(operations), "calls": sum(statuses.values()),
            "statuses": dict(sorted(statuses.items())), "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=25, help="cas générés par opération et mode")
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    from app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        name = f"bh_fuzz_{uuid.uuid4().hex[:8]}"
        url = f"{PG}/{name}" if args.postgresql else f"sqlite:///{tmp}/fuzz.db"
        if args.postgresql:
            import sqlalchemy as sa

            admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        started = time.perf_counter()
        build_demo_base(url, Path(tmp), {"admin": ["--role", "Administrateur"]})
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "f" * 40,
                          "INSTANCE_DIR": tmp, "TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": {}})
        report = fuzz(app, signed_in_client(app), args.examples)
        elapsed = time.perf_counter() - started
        if args.postgresql:
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    print(f"schemathesis {schemathesis.__version__} — base {'PostgreSQL' if args.postgresql else 'SQLite'}")
    print(f"opérations : {report['operations']}  appels : {report['calls']}  "
          f"statuts : {report['statuses']}  durée : {elapsed:.0f} s")
    print(f"erreurs serveur (5xx) : {len(report['failures'])}")
    for line in sorted(set(report["failures"]))[:50]:
        print("  ", line)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
