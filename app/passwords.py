"""The password policy of database accounts: one rule for every path that sets a password.

FAB's add-user and reset forms, the self-service reset and ``flask bhasile create-user`` all
call ``password_policy(password, login)``. A password is refused when it is shorter than
12 characters, made of fewer than 4 different characters, contains the account's login, or
is a common password: one of the 20,000 most common (``app/data/common-passwords.txt.gz``,
see ``app/data/README.md``) or a French or BHasile word of ``common-passwords-fr.txt``, also
behind digits and symbols (``Password1234!``), in simple leetspeak (``P@ssw0rd``), repeated
(``azertyazerty``) or as a run of keyboard or alphabet keys (``123456789012``).
"""
from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Callable
from pathlib import Path

from flask import current_app, g, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _
from wtforms import Field, Form, ValidationError

MIN_PASSWORD_LENGTH = 12
_DATA = Path(__file__).resolve().parent / "data"
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "3": "e", "1": "i", "!": "i", "$": "s",
                       "5": "s", "7": "t"})
_RUNS = ("01234567890123456789", "98765432109876543210", "abcdefghijklmnopqrstuvwxyz",
         "azertyuiopqsdfghjklmwxcvbn", "qwertyuiopasdfghjklzxcvbnm", "&é\"'(-è_çà)=")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The common passwords, lowercased (read once per process)."""
    with gzip.open(_DATA / "common-passwords.txt.gz", "rt", encoding="utf-8") as handle:
        words = {line.strip() for line in handle}
    extra = (_DATA / "common-passwords-fr.txt").read_text(encoding="utf-8").splitlines()
    words.update(line.strip().lower() for line in extra if line.strip() and not line.startswith("#"))
    words.discard("")
    return frozenset(words)


def _is_common(password: str) -> bool:
    lowered = password.lower()
    stem = _EDGES.sub("", lowered)  # « Password1234! » → « password »
    repeated = re.fullmatch(r"(.+?)\1+", lowered)  # « azertyazerty »
    words = set(re.split(r"[\W\d_]+", lowered)) - {""}  # « soleil-soleil », « soleil2024soleil »
    candidates = {lowered, stem, stem.translate(_LEET), lowered.translate(_LEET),
                  _EDGES.sub("", lowered.translate(_LEET))}
    if repeated:
        candidates.add(repeated.group(1))
    if len(words) == 1:
        candidates.update(words)
    known = common_passwords()
    if any(word in known for word in candidates if word):
        return True
    return any(lowered in run for run in _RUNS)


def password_policy(password: str | None, login: str | None = None) -> None:
    """Raise ``PasswordComplexityValidationError`` (a French sentence) for a weak password."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordComplexityValidationError(
            _("Le mot de passe doit comporter au moins %(n)d caractères.", n=MIN_PASSWORD_LENGTH))
    if len(set(password)) < 4:
        raise PasswordComplexityValidationError(
            _("Le mot de passe est trop répétitif : mélangez davantage de caractères."))
    login = (login or "").strip().lower()
    if len(login) >= 3 and login in password.lower():
        raise PasswordComplexityValidationError(
            _("Le mot de passe ne doit pas contenir l'identifiant du compte."))
    if _is_common(password):
        raise PasswordComplexityValidationError(
            _("Ce mot de passe fait partie des plus courants, donc des premiers essayés par un "
              "attaquant : choisissez-en un autre, par exemple une phrase de plusieurs mots."))


class PasswordPolicy:
    """WTForms validator applying ``password_policy`` for the account ``login_of(form)``."""

    def __init__(self, login_of: Callable[[Form], str | None]):
        self.login_of = login_of

    def __call__(self, form: Form, field: Field) -> None:
        try:
            password_policy(field.data, self.login_of(form))
        except PasswordComplexityValidationError as exc:
            raise ValidationError(str(exc)) from None


def login_in_form(form: Form) -> str | None:
    """The login typed in the same form (adding a user)."""
    field = getattr(form, "username", None)
    return field.data if field is not None else None


def own_login(form: Form) -> str | None:
    """The signed-in user's login (resetting one's own password)."""
    user = g.get("user")
    return getattr(user, "username", None)


def account_of_request():
    """The account ``?pk=`` of the request (an administrator resetting someone's password)."""
    pk = request.args.get("pk", "")
    return current_app.appbuilder.sm.get_user_by_id(int(pk)) if pk.isdigit() and len(pk) < 10 else None


def login_of_pk(form: Form) -> str | None:
    """The login of the account ``?pk=`` (an administrator resetting someone's password)."""
    user = account_of_request()
    return user.username if user is not None else None
