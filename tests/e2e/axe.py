"""axe-core (vendored, tests/e2e/vendor/axe-core) run inside a Playwright page, French messages.

The script is evaluated through the DevTools protocol, which the page's Content-Security-Policy
does not govern: the CSP stays on, so a page's own CSP violations still show as console errors.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

VENDOR = Path(__file__).parent / "vendor" / "axe-core"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("critical", "serious")
IMPACT_FR = {"critical": "critique", "serious": "grave", "moderate": "modéré", "minor": "mineur"}

RUN = """async tags => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t).join(' '),
                              html: n.html.slice(0, 200), summary: n.failureSummary || ''}))}));
}"""


@cache
def _source() -> str:
    return (VENDOR / "axe.min.js").read_text(encoding="utf-8")


@cache
def _locale() -> dict:
    return json.loads((VENDOR / "fr.json").read_text(encoding="utf-8"))


def violations(page, tags: list[str] = TAGS) -> list[dict]:
    """Every axe violation of the page as it is now (WCAG 2.1 A and AA rules and axe's best
    practices by default)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_source())
        page.evaluate("locale => axe.configure({locale})", _locale())
    return page.evaluate(RUN, tags)


#: Rules below "serious" the project still holds to: headings in order, one main, no content
#: outside landmarks, no empty heading or table header (RGAA 9.1, 12.6, 5.6).
ALWAYS = {"heading-order", "page-has-heading-one", "empty-heading", "landmark-one-main", "region",
          "landmark-unique", "empty-table-header"}


def blocking(found: list[dict]) -> list[dict]:
    return [v for v in found if v["impact"] in BLOCKING or v["id"] in ALWAYS]


def report(found: list[dict], where: str) -> str:
    """A readable French list: rule, impact, help, the elements at fault."""
    lines = [f"{len(found)} violation(s) d'accessibilité sur {where} :"]
    for v in found:
        lines.append(f"- [{IMPACT_FR.get(v['impact'], v['impact'])}] {v['id']} : {v['help']} ({v['url']})")
        for node in v["nodes"][:8]:
            lines.append(f"    · {node['target']}  —  {node['html']}")
        if len(v["nodes"]) > 8:
            lines.append(f"    · … et {len(v['nodes']) - 8} autre(s) élément(s)")
    return "\n".join(lines)


#: RGAA 5.4 and 5.7 as the project reads them: every data table has a <caption>, every <th> a
#: scope (or an id its cells point to); RGAA 9.1: one <h1>.
STRUCTURE = """() => {
  const out = [], h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) out.push(`${h1} titre(s) <h1> (un seul attendu)`);
  document.querySelectorAll('table').forEach((t, i) => {
    if (['presentation', 'none'].includes(t.getAttribute('role'))) return;
    const name = t.id ? '#' + t.id : `tableau n°${i + 1}`;
    if (!(t.caption && t.caption.textContent.trim())) out.push(`${name} : pas de <caption>`);
    t.querySelectorAll('th').forEach(th => {
      if (!th.getAttribute('scope') && !th.id)
        out.push(`${name} : en-tête <th> « ${th.textContent.trim().slice(0, 30)} » sans scope`);
    });
  });
  return out;
}"""


def structure_problems(page) -> list[str]:
    """Headings and data tables the screen readers rely on (see ``STRUCTURE``)."""
    return page.evaluate(STRUCTURE)
