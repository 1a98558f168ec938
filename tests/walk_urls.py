"""Every GET address of the app, found in its URL map and FAB's view registry (a new view is
walked without touching the test), filled with ids and codes inside and outside a territory;
then the links of the pages reached, so query-string variants (the lists behind a figure, a
filter, a page) are walked too."""
from __future__ import annotations

import html
import itertools
import re
from collections import Counter, deque
from dataclasses import dataclass, field

from flask import url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.pilotage.tableaux import NIVEAUX
from tests.walk_territory import Territory
from views.documents import OWNERS

SKIP = {"static", "appbuilder.static", "AuthDBView.logout", "LocaleView.index", "UtilView.back"}
#: FAB routes that change data when given a real id (its GET delete, its actions).
WRITES_BY_GET = (".delete", ".action")
WORDS = {"kind": list(OWNERS), "niveau": list(NIVEAUX), "version": ["v1"]}
#: Where an id in an address that is not a list view's own record may point.
PROBED = ("structure", "operateur", "convention", "document", "campagne", "tache", "import_batch",
          "export_job")
#: Ids named after what they point at.
ID_ARGS = {"doc_id": "document", "batch_id": "import_batch", "job_id": "export_job"}
MISSING = 999_999
LINK = re.compile(r'(?:href|action|data-url|src)="(/[^"#]*)"')
MAX_PER_ENDPOINT = 2  # links followed per address pattern, beyond the registry's own


@dataclass(frozen=True)
class Visit:
    url: str
    out: bool = False  # built from an id or code outside the territory: 404 (or refused)
    depth: int = 0


@dataclass
class Report:
    leaks: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    not_404: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    allowed_seen: int = 0

    @property
    def urls(self) -> int:
        return sum(self.statuses.values())


def probes(t: Territory) -> list[int]:
    """Ids outside the territory in every table, each naming a real record when possible."""
    chosen = {MISSING}
    for table in PROBED:
        pk = next((pk for pk in sorted(t.existing[table] - t.ids[table])
                   if pk not in chosen and t.universally_out(pk)), None)
        chosen |= {pk} if pk else set()
    return sorted(chosen)


def registry_visits(app, t: Territory) -> list[Visit]:
    views = {v.endpoint: v for v in app.appbuilder.baseviews}
    outside = probes(t)
    visits = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP:
            continue
        view = views.get(rule.endpoint.split(".")[0])
        names = sorted(rule.arguments)
        choices = [_choices(app, rule, name, view, t, outside) for name in names]
        for combo in _combinations(choices):
            with app.test_request_context():
                url = url_for(rule.endpoint, **dict(zip(names, (value for value, _ in combo))))
            writes = rule.endpoint.endswith(WRITES_BY_GET)  # walked, but no read to judge
            visits.append(Visit(url, any(out for _, out in combo) and not writes))
    return sorted(set(visits), key=lambda v: v.url)


def _choices(app, rule, name: str, view, t: Territory, outside: list[int]) -> list[tuple]:
    """(value, is outside) candidates for one argument of an address."""
    table = getattr(getattr(getattr(view, "datamodel", None), "obj", None), "__tablename__", None)
    if name != "pk" or not table:
        table = _table_named(rule.rule, name, t)
    if table and (name == "pk" or name.endswith("_id")):
        inside = t.first_in(table) if table in t.ids and not rule.endpoint.endswith(WRITES_BY_GET) else None
        out = t.first_out(table) if table in t.ids else None
        return [(v, o) for v, o in ((inside, False), (out or MISSING, True)) if v]
    if isinstance(rule._converters.get(name), IntegerConverter) or name.endswith("_id") or name == "pk":
        return [(pk, True) for pk in outside]
    if name == "code":
        return [(c, False) for c in t.codes] + ([(t.out_code, True)] if t.out_code else [])
    if name == "view_name":
        return [(v.__class__.__name__, False) for v in app.appbuilder.baseviews
                if hasattr(v, "datamodel")]
    return [(w, False) for w in WORDS.get(name, ["structure"])]


def _table_named(rule: str, name: str, t: Territory) -> str | None:
    """The table an id of a custom page points at: named by the argument (``doc_id``) or by
    the address word before it (``/campagnes/<pk>``, ``/tarification/structure/<pk>``)."""
    if name in ID_ARGS:
        return ID_ARGS[name]
    before = re.search(rf"/([a-z_]+)/<(?:\w+:)?{name}>", rule)
    word = before.group(1).rstrip("s") if before else ""
    return next((table for table in t.ids if word and table.startswith(word)), None)


def _combinations(choices: list[list[tuple]]):
    """The first combination varied one argument at a time, and every outside value with every
    value of the other arguments (a code outside the territory at each dashboard level)."""
    base = [c[0] for c in choices]
    yield tuple(base)
    for i, options in enumerate(choices):
        for option in options:
            yield tuple(base[:i] + [option] + base[i + 1:])
            if option[1]:
                for others in itertools.product(*(c for j, c in enumerate(choices) if j != i)):
                    yield (*others[:i], option, *others[i:])


def refused(response) -> bool:
    """FAB's answer to a role without the permission (before any territory question)."""
    return response.status_code in (401, 403) or (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def walk(app, client, visits: list[Visit], find, text, max_depth: int = 2) -> Report:
    """GET every visit and the links found on the way, ``max_depth`` links away from the
    registry's addresses; ``find(text) -> (forbidden labels found, allowed values seen)``."""
    adapter = app.url_map.bind("localhost")
    queue, seen, followed, report = deque(visits), set(), Counter(), Report()
    while queue:
        visit = queue.popleft()
        if visit.url in seen:
            continue
        seen.add(visit.url)
        try:
            response = client.get(visit.url)
        except Exception as exc:  # noqa: BLE001 - an exception escaping the app is a 500
            report.errors.append(f"{visit.url}: {exc!r}"[:300])
            continue
        report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            report.errors.append(f"{visit.url} → {response.status_code}")
        labels, allowed = find(text(response))
        report.allowed_seen += allowed
        if labels:
            report.leaks[visit.url] = sorted(labels)[:3]
        if visit.out and response.status_code != 404 and not refused(response):
            report.not_404.append(f"{visit.url} → {response.status_code} "
                                  f"{response.headers.get('Location', '')}")
        for url in _next(response, visit) if visit.depth < max_depth else ():
            endpoint = _endpoint(adapter, url)
            if endpoint and url not in seen and followed[endpoint] < MAX_PER_ENDPOINT:
                followed[endpoint] += 1
                queue.append(Visit(url, False, visit.depth + 1))
    return report


def _next(response, visit: Visit) -> list[str]:
    if response.status_code in (301, 302, 303) and not refused(response):
        return [response.headers["Location"]]
    if response.status_code != 200 or response.mimetype != "text/html":
        return []
    return [html.unescape(u) for u in LINK.findall(response.get_data(as_text=True))]


def _endpoint(adapter, url: str) -> str | None:
    path, _, query = url.partition("?")
    if not path.startswith("/") or path.startswith("//"):
        return None
    try:
        endpoint, _args = adapter.match(path, method="GET", query_args=query)
    except HTTPException:
        return None
    except Exception:  # noqa: BLE001 - a routing redirect (trailing slash): not an address of ours
        return None
    if endpoint in SKIP or endpoint.endswith(WRITES_BY_GET):
        return None
    return endpoint
