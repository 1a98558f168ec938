"""Fuzz the REST API from its own OpenAPI document with schemathesis: every operation, signed
in as each role asked (session cookie + CSRF header), valid and invalid inputs; counts the
answers that are server errors (5xx, or an exception escaping the app).

    python benchmarks/schemathesis_run.py [--examples 25] [--postgresql] [--roles admin,calvados,operateur]

Runs in-process (WSGI, no network) on a throwaway copy of the demo park; the demo accounts
of ``flask bhasile demo-users`` (admin, centrale, normandie, calvados, lecteur, operateur).
A server error whose input matches a known finding (``KNOWN``) is counted apart.
"""
from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hypothesis  # noqa: E402
import prison  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
PASSWORD = "fuzz-mot-de-passe-2026"
#: Server errors already reported and being fixed: finding → what the input looks like.
#: Remove an entry with the xfail marker of its test in tests/test_api_fuzz.py.
KNOWN = {
    "K1 corps JSON qui n'est pas un objet (POST/PUT)": lambda case, exc: case.method in ("POST", "PUT")
    and not isinstance(case.body, (dict, bytes, bytearray, schemathesis.core.NotSet)),
    "K2 « q » avec un octet NUL ou une pagination négative": lambda case, exc: _nul_or_negative(
        (case.query or {}).get("q")),
    "K4 valeur que la base refuse (CHECK, entier trop grand) : 500 au lieu de 422": lambda case, exc:
        "Query-invoked autoflush" in str(exc) or isinstance(exc, OverflowError)
        or "out of range" in str(exc),
}


def _nul_or_negative(q) -> bool:
    if not isinstance(q, str):
        return False
    if "\x00" in q:
        return True
    try:
        args = prison.loads(q)
    except Exception:  # noqa: BLE001 - refused with a 400 by app/web/api_guard.py
        return False
    return isinstance(args, dict) and any(
        isinstance(args.get(k), (int, float)) and args[k] < 0 for k in ("page", "page_size"))


def known_finding(case, exc: Optional[BaseException]) -> Optional[str]:
    return next((name for name, matches in KNOWN.items() if matches(case, exc)), None)


class _Caught(logging.Handler):
    """The exceptions FAB's API logs before answering 500 (``safe`` in flask_appbuilder.api)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.last: Optional[BaseException] = None

    def emit(self, record):
        if record.exc_info:
            self.last = record.exc_info[1]


def build_demo_base(url: str, instance: Path, users: Optional[dict[str, list[str]]] = None) -> None:
    """Schema, reference data, the ×1 demo park and its aggregates at ``url``, plus ``users`` (login → options
    of ``flask bhasile create-user``, password PASSWORD)."""
    env = {"DATABASE_URL": url, "BHASILE_INSTANCE_DIR": str(instance), "BHASILE_LOG_FORMAT": "text",
           "SECRET_KEY": "f" * 40, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    flask = [sys.executable, "-m", "flask"]
    def run(args: list[str], stdin: bytes | None = None) -> None:
        done = subprocess.run(flask + args, cwd=ROOT, env=env, capture_output=True, input=stdin)
        if done.returncode:   # say why (a shared machine: connections, memory…), not just "1"
            raise SystemExit(f"flask {' '.join(args)} : code {done.returncode}\n"
                             + done.stderr.decode(errors="replace")[-2000:])

    # the aggregates built, as the scheduler keeps them: dashboards, « À traiter » and the
    # map read them (empty, they would answer fast and say nothing)
    for args in (["bhasile", "init"], ["bhasile", "demo"], ["bhasile", "rebuild"]):
        run(args)
    for login, options in (users or {}).items():
        run(["bhasile", "create-user", login, *options, "--password-stdin"], f"{PASSWORD}\n".encode())


def signed_in_client(app, username: str = "admin", password: str = PASSWORD):
    """A test client signed in through the login form, sending the CSRF header on writes."""
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login/", data={"username": username, "password": password, "csrf_token": token})
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


def readable_ids(client, spec: dict) -> dict[str, list[int]]:
    """Per ``…/{pk}`` operation path, ids the signed-in role may read (first page of the list):
    half the GET and PUT cases go to one of them, the rest to the generated ids."""
    found = {}
    for path in spec["paths"]:
        if path.endswith("/{pk}"):
            response = client.get(path[: -len("{pk}")])
            if response.status_code == 200:
                found[path] = (response.get_json() or {}).get("ids", [])[:20]
    return {path: ids for path, ids in found.items() if ids}


def _on_record(pair):
    case, pk = pair
    if pk is not None:
        case.path_parameters = {**(case.path_parameters or {}), "pk": pk}
    return case


def _send(client, case):
    kwargs = {"method": case.method, "query_string": case.query or None,
              "headers": {k: str(v) for k, v in (case.headers or {}).items()}}
    if case.method == "PUT" and isinstance(case.body, dict) and "version" not in case.body \
            and "If-Match" not in kwargs["headers"]:  # the version a client would have read
        current = client.get(case.formatted_path).get_json(silent=True) or {}
        if isinstance(current.get("result"), dict) and current["result"].get("version"):
            kwargs["headers"]["If-Match"] = str(current["result"]["version"])
    if isinstance(case.body, (bytes, bytearray)):
        kwargs["data"] = bytes(case.body)
        kwargs["content_type"] = case.media_type or "application/octet-stream"
    elif not isinstance(case.body, schemathesis.core.NotSet):
        kwargs["json"] = case.body
    return client.open(case.formatted_path, **kwargs)


def openapi(app) -> dict:
    """The app's OpenAPI document (read as the administrator: other roles may not open it)."""
    with app.app_context():
        from app.cli import create_or_update_user
        from models.enums import Role

        create_or_update_user("fuzz-openapi", Role.ADMIN, PASSWORD)
    return signed_in_client(app, "fuzz-openapi").get("/api/v1/_openapi").get_json()


def fuzz(app, client, examples: int = 25, methods: tuple[str, ...] = (),
         spec: Optional[dict] = None) -> dict:
    """Run every operation of the app's OpenAPI document (or those of ``methods``) through
    ``client``; return counts, the server errors and those matching a known finding."""
    spec = spec or openapi(app)
    results = list(schemathesis.openapi.from_dict(spec).get_all_operations())
    operations = [r.ok() for r in results if type(r).__name__ == "Ok"]
    run = _Run(client, readable_ids(client, spec), examples)
    run.failures += [f"schéma illisible : {r}" for r in results if type(r).__name__ != "Ok"]
    logger = logging.getLogger("flask_appbuilder.api")
    # FAB logs the exception behind its 500 here; the app's logging setup turned the logger off
    saved = logger.disabled, logger.propagate
    logger.disabled, logger.propagate = False, False
    logger.addHandler(run.caught)
    try:
        for operation in operations:
            if not methods or operation.method.upper() in methods:
                run.operation(operation)
    finally:
        logger.removeHandler(run.caught)
        logger.disabled, logger.propagate = saved
    return {"operations": len(operations), "calls": sum(run.statuses.values()),
            "statuses": dict(sorted(run.statuses.items())), "failures": run.failures,
            "known": dict(run.known)}


class _Run:
    """One role's fuzzing: answers counted by class, server errors kept with their input."""

    def __init__(self, client, ids: dict[str, list[int]], examples: int):
        self.client, self.ids, self.examples = client, ids, examples
        self.statuses: Counter = Counter()
        self.known: Counter = Counter()
        self.failures: list[str] = []
        self.caught = _Caught()

    def operation(self, operation) -> None:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if operation.path in self.ids and operation.method.upper() in ("GET", "PUT"):
                records = st.sampled_from([None, *self.ids[operation.path]])
                strategy = st.tuples(strategy, records).map(_on_record)
            test = settings(max_examples=self.examples, deadline=None, database=None,
                            derandomize=True, phases=[Phase.generate],
                            suppress_health_check=list(HealthCheck))(hypothesis.given(strategy)(self.case))
            try:
                test()
            except hypothesis.errors.Unsatisfiable:
                continue

    def case(self, case) -> None:
        self.caught.last = None
        try:
            response = _send(self.client, case)
            status, body = response.status_code, response.get_data(as_text=True)[:160]
        except Exception as exc:  # an exception escaping the app is a 500
            self.caught.last = exc
            status, body = 599, f"{type(exc).__name__}: {str(exc)[:200]}"
        self.statuses[status] += 1
        if status < 500:
            return
        finding = known_finding(case, self.caught.last)
        if finding:
            self.known[finding] += 1
        else:
            cause = f" ({type(self.caught.last).__name__}: {str(self.caught.last)[:200]})" \
                if self.caught.last else ""
            self.failures.append(f"{case.method} {case.formatted_path} {case.query or ''} "
                                 f"{str(case.body)[:80]} → {status} {body.strip()}{cause}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=25, help="cas générés par opération et mode")
    parser.add_argument("--postgresql", action="store_true")
    parser.add_argument("--roles", default="admin,calvados,operateur",
                        help="comptes de démonstration, séparés par des virgules")
    args = parser.parse_args()
    from app import create_app
    from app.cli import create_demo_users

    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        name = f"bh_fuzz_{uuid.uuid4().hex[:8]}"
        url = f"{PG}/{name}" if args.postgresql else f"sqlite:///{tmp}/fuzz.db"
        if args.postgresql:
            import sqlalchemy as sa

            admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        build_demo_base(url, Path(tmp))
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "f" * 40,
                          "INSTANCE_DIR": tmp, "TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": {}})
        with app.app_context():
            create_demo_users(lambda: PASSWORD)
        print(f"schemathesis {schemathesis.__version__} — base "
              f"{'PostgreSQL' if args.postgresql else 'SQLite'} — {args.examples} cas par opération et mode")
        spec = openapi(app)
        for role in args.roles.split(","):
            started = time.perf_counter()
            report = fuzz(app, signed_in_client(app, role), args.examples, spec=spec)
            elapsed = time.perf_counter() - started
            print(f"[{role}] opérations : {report['operations']}  appels : {report['calls']}  "
                  f"statuts : {report['statuses']}  durée : {elapsed:.0f} s")
            print(f"[{role}] erreurs serveur (5xx) : {len(report['failures'])}  "
                  f"connues : {sum(report['known'].values())} {report['known'] or ''}")
            for line in sorted(set(report["failures"]))[:30]:
                print("   ", line)
            failed = failed or bool(report["failures"])
        if args.postgresql:
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
