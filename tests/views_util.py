"""Test helpers for the pages: read a form as a browser would, change fields, submit it."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import sqlalchemy as sa

from tests import dbutil

DNA_RE = re.compile(r"\b[CHKRP][0-9A-Z]{4}\b")


class _FormReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, object] = {}
        self._select = None
        self._textarea = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if "disabled" in a and tag in ("input", "select", "textarea"):
            return   # a browser does not post a disabled control
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value", "y")
            elif kind not in ("submit", "button"):
                self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "" if "multiple" not in a else [])
        elif tag == "option" and self._select and "selected" in a:
            current = self.values.get(self._select)
            if isinstance(current, list):
                current.append(a.get("value", ""))
            else:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] = (self.values[self._textarea] + data).lstrip("\n")


def read_form(html: str) -> dict:
    """The values a browser would post for the page's form (selected options, checked boxes)."""
    reader = _FormReader()
    reader.feed(html)
    return {k: v for k, v in reader.values.items() if k not in ("q",)}


def submit(client, path: str, changes: dict | None = None, drop: tuple = ()):
    """GET the form at ``path``, apply ``changes``, POST it back; returns (GET page, POST response)."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    data = read_form(page.get_data(as_text=True))
    for name in drop:
        data.pop(name, None)
    data.update(changes or {})
    return page, client.post(path, data=data, follow_redirects=True)


def out_of_scope_codes(url: str, dep_code: str = "14") -> set[str]:
    """Codes DNA of every structure outside the département ``dep_code``."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        codes = conn.execute(sa.text(
            "SELECT s.code_dna FROM structure s JOIN departement d ON d.id = s.departement_id "
            "WHERE d.code <> :dep"), {"dep": dep_code}).scalars().all()
    engine.dispose()
    return set(codes)


def leaked(body: str, forbidden: set[str]) -> set[str]:
    """Codes DNA of ``forbidden`` that appear in ``body``."""
    return set(DNA_RE.findall(body)) & forbidden


PASSWORD = dbutil.PASSWORD
