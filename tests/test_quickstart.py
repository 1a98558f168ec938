"""`make run`: runtime dependencies only, short logs, and the demo accounts printed last, kept
(0600) in the instance folder with the same passwords from one run to the next."""
from __future__ import annotations

import logging
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

from tests import dbutil
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
TEST_TOOLS = ("pytest", "playwright", "schemathesis", "hypothesis", "oidc-provider-mock", "pytest-xdist")


def _passwords(app) -> dict[str, str]:
    from app.demo_accounts import accounts_path, read_passwords

    return read_passwords(accounts_path(app))


def test_demo_users_keep_their_passwords_until_asked_to_regenerate(fresh_app):
    first = run_cli(fresh_app, "bhasile", "demo-users")
    assert first.exit_code == 0, first.output
    path = Path(fresh_app.instance_path) / "comptes-demo.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = _passwords(fresh_app)
    assert set(kept) == {"admin", "centrale", "normandie", "calvados", "lecteur", "operateur"}
    assert all(password in first.output for password in kept.values())

    assert run_cli(fresh_app, "bhasile", "demo-users").exit_code == 0
    assert _passwords(fresh_app) == kept

    again = run_cli(fresh_app, "bhasile", "demo-users", "--regenerate")
    assert again.exit_code == 0
    fresh = _passwords(fresh_app)
    assert set(fresh) == set(kept) and all(fresh[login] != kept[login] for login in kept)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with fresh_app.app_context():
        from werkzeug.security import check_password_hash

        user = fresh_app.appbuilder.sm.find_user(username="calvados")
        assert check_password_hash(user.password, fresh["calvados"])


def _make_recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert match, target
    return match.group(1).splitlines()


def test_make_run_installs_the_runtime_only_and_make_test_the_test_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert not [tool for tool in TEST_TOOLS if tool in runtime]
    test_extra = " ".join(project["optional-dependencies"]["test"]).lower()
    assert all(tool in test_extra for tool in TEST_TOOLS)

    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: install$", text, re.M)
    assert not any("[test]" in line for line in _make_recipe("$(VENV)/.installed"))
    assert any("[test]" in line for line in _make_recipe("$(VENV)/.installed-test"))
    assert re.search(r"^test: install-test", text, re.M)
    assert re.search(r"^test-postgresql: install-test", text, re.M)


def test_text_logs_drop_the_line_per_static_file_and_the_scheduler_polls(monkeypatch):
    from app.web.logging_setup import TextFormatter, configure_text_logging

    root = logging.getLogger()
    werkzeug = logging.getLogger("werkzeug")
    saved = (root.handlers[:], root.level, logging.getLogger("apscheduler").level)
    # as in a fresh ``make run`` process: the browser tests' live server, in this same test
    # process, quiets werkzeug to WARNING
    monkeypatch.setattr(werkzeug, "level", logging.NOTSET)
    logging.getLogger().manager._clear_cache()
    try:
        configure_text_logging("INFO")
        handler = root.handlers[0]
        assert isinstance(handler.formatter, TextFormatter)

        def shown(name, msg, *args, **extra):
            record = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
            record.__dict__.update(extra)
            # (the logger's level, not its ``disabled`` flag: migrations run in-process in tests)
            enabled = logging.getLogger(name).getEffectiveLevel() <= logging.INFO
            return bool(handler.filter(record)) and enabled, record

        static, _ = shown("werkzeug", '127.0.0.1 - - [03/Dec/2026 12:00:00] "%s" %s %s\n',
                          "GET /static/appbuilder/css/bootstrap.css HTTP/1.1", "200", "-")
        poll, _ = shown("apscheduler.executors.default", 'Job "%s" executed successfully', "_poll")
        start, start_record = shown("werkzeug", " * Running on http://127.0.0.1:5000")
        page, page_record = shown("bhasile.request", "%s %s %s", "GET", "/a-traiter/", 200,
                                  duration_ms=12.5)
        assert not static and not poll and start and page
        assert handler.format(start_record) == " * Running on http://127.0.0.1:5000"
        assert re.fullmatch(r"\d\d:\d\d:\d\d INFO +GET /a-traiter/ 200 \(12.5 ms\)",
                            handler.format(page_record))
    finally:
        root.handlers, level, sched = saved[0], saved[1], saved[2]
        root.setLevel(level)
        logging.getLogger("apscheduler").setLevel(sched)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_py_prints_the_demo_accounts_last_after_the_start_line(fresh_app, tmp_path):
    assert run_cli(fresh_app, "bhasile", "demo-users", "--quiet").exit_code == 0
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": fresh_app.config["SQLALCHEMY_DATABASE_URI"],
           "BHASILE_INSTANCE_DIR": fresh_app.instance_path, "BHASILE_PORT": str(port),
           "BHASILE_SHOW_DEMO_ACCOUNTS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("BHASILE_LOG_FORMAT", None)
    child = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(iter(child.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("lecteur" in line for line in received) and time.monotonic() < deadline \
                and child.poll() is None:
            time.sleep(0.2)
        time.sleep(2)  # nothing comes after the accounts
    finally:
        child.terminate()
        child.wait(timeout=20)
    output = "".join(received)
    lines = [line for line in output.splitlines() if line.strip()]
    assert any("Running on" in line for line in lines), output
    assert not any(line.startswith("{") for line in lines), "no JSON line in development"
    running = max(i for i, line in enumerate(lines) if "Running on" in line)
    accounts = _passwords(fresh_app)
    tail = lines[running + 1:]
    assert tail and "comptes-demo.txt" in tail[0]
    assert all(any(password in line for line in tail) for password in accounts.values())
    assert tail[-1].split()[0] in accounts  # an account is the very last line
    assert dbutil.PASSWORD not in output
