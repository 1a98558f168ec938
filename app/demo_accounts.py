"""The demo accounts' file: ``instance/comptes-demo.txt``, readable by its owner only (0600).

``flask bhasile demo-users`` writes it and reuses its passwords at the next run, so that an
account keeps its password from one ``make run`` to the next (``--regenerate`` draws new ones);
``python run.py`` prints it once the server listens. It lives in the instance folder, which is
never in the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask_babel import gettext as _

FILENAME = "comptes-demo.txt"


def accounts_path(app: Flask) -> Path:
    return Path(app.instance_path) / FILENAME


def read_passwords(path: Path) -> dict[str, str]:
    """login → password of the accounts the file holds (empty when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    passwords = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            passwords[parts[0]] = parts[1]
    return passwords


def lines(accounts: list[tuple[str, str, str, str | None]]) -> list[str]:
    """One line per account: login, password, label (and opérateur)."""
    return [f"  {login:<10} {password:<14} {label}" + (f" — {operateur}" if operateur else "")
            for login, password, label, operateur in accounts]


def write(path: Path, accounts: list[tuple[str, str, str, str | None]]) -> None:
    """Write the file, created 0600 (never readable by others, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [_("# Comptes de démonstration de BHasile (identifiant, mot de passe, rôle)."),
              _("# Nouveaux mots de passe : flask bhasile demo-users --regenerate")]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(header + lines(accounts)) + "\n")
    os.chmod(path, 0o600)  # an older file may have had wider rights


def announcement(app: Flask) -> str:
    """What ``python run.py`` prints last: the accounts and where they are kept."""
    path = accounts_path(app)
    try:
        body = [line for line in path.read_text(encoding="utf-8").splitlines()
                if not line.startswith("#")]
    except FileNotFoundError:
        return ""
    return "\n".join([_("Comptes de démonstration (conservés dans %(path)s) :", path=path), *body])
