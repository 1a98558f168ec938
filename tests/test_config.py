"""Start-up: bad configuration stops with one clear French sentence, never a traceback."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[1]


def test_secret_key_is_generated_once_and_long(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_settings({"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    second = load_settings({"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first.encode()) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_production_refuses_to_start_without_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("BHASILE_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY est obligatoire"):
        load_settings({"INSTANCE_DIR": str(tmp_path)})


def test_production_cookies_are_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("BHASILE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    settings = load_settings({"INSTANCE_DIR": str(tmp_path)})
    assert settings["SESSION_COOKIE_SECURE"] and settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_short_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "court")
    with pytest.raises(ConfigError, match="32 octets"):
        load_settings({"INSTANCE_DIR": str(tmp_path)})


def test_unreachable_database_stops_with_one_sentence(tmp_path):
    with pytest.raises(SystemExit) as exc:
        make_app("postgresql+psycopg://nobody@127.0.0.1:1/nowhere", tmp_path)
    assert "La base de données" in str(exc.value) and "injoignable" in str(exc.value)


def _flask(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_URL"))}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_unwritable_instance_dir_stops_start_up_without_traceback(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "instance"
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits: use a file as the parent
            blocker = tmp_path / "file"
            blocker.write_text("")
            target = blocker / "instance"
        result = _flask({"BHASILE_INSTANCE_DIR": str(target)}, "bhasile", "--help")
    finally:
        locked.chmod(0o700)
    assert result.returncode != 0
    assert "n'est pas accessible en écriture" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_database_url_from_the_command_line(tmp_path):
    result = _flask({"BHASILE_INSTANCE_DIR": str(tmp_path),
                     "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}, "bhasile", "--help")
    assert result.returncode != 0
    assert "injoignable" in result.stderr and "Traceback" not in result.stderr


def test_flask_cli_works_from_the_repository_root_without_environment():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLASK_", "DATABASE_URL", "BHASILE_", "SECRET_KEY"))}
    result = subprocess.run([sys.executable, "-m", "flask", "bhasile", "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "create-user" in result.stdout and "demo" in result.stdout
