"""The French catalog is complete, compiled, and the UI answers in French by default, English on request."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "_l": None, "lazy_gettext": None, "gettext": None}
METHODS = [("app/templates/**.html", "jinja2"), ("app/**.py", "python"), ("views/**.py", "python"),
           ("models/**.py", "python"), ("imports/**.py", "python"), ("exports/**.py", "python")]


def _catalog(lang: str, kind: str = "po"):
    path = ROOT / "translations" / lang / "LC_MESSAGES" / f"messages.{kind}"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang) if kind == "po" else read_mo(handle)


def test_every_user_facing_string_has_its_french_translation():
    source_ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, METHODS, keywords=KEYWORDS):
        source_ids.add(message if isinstance(message, str) else message[0])
    french = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in _catalog("fr") if m.id}
    missing = sorted(i for i in source_ids if i and not _filled(french.get(i)))
    assert not missing, f"{len(missing)} chaînes sans traduction (lancez make translations) : {missing[:10]}"


def _key(value):
    """read_mo gives a plural entry's msgids and msgstrs as lists, read_po as tuples."""
    return tuple(value) if isinstance(value, list) else value


def _filled(string) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def test_compiled_catalogs_match_their_sources():
    for lang in ("fr", "en"):
        po = {m.id: m.string for m in _catalog(lang) if m.id and _filled(m.string) and not m.fuzzy}
        mo = {_key(m.id): _key(m.string) for m in _catalog(lang, "mo") if m.id}
        assert po == mo, f"translations/{lang} : le .mo n'est pas à jour (make translations)"


def test_pages_are_french_by_default_and_english_on_request(app):
    client = app.test_client()
    assert "Nom d'utilisateur" in client.get("/login/").get_data(as_text=True)
    client.get("/lang/en")
    english = client.get("/login/").get_data(as_text=True)
    assert "Username" in english and "Password" in english and "Mot de passe" not in english
