"""axe-core (vendored, tests/e2e/vendor/axe-core) run inside a Playwright page, French messages.

The script is evaluated through the DevTools protocol, which the page's Content-Security-Policy
does not govern: the CSP stays on, so a page's own CSP violations still show as console errors.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

VENDOR = Path(__file__).parent / "vendor" / "axe-core"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
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
    """Every axe violation of the page as it is now (WCAG 2.1 A and AA rules by default)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_source())
        page.evaluate("locale => axe.configure({locale})", _locale())
    return page.evaluate(RUN, tags)


def blocking(found: list[dict]) -> list[dict]:
    return [v for v in found if v["impact"] in BLOCKING]


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
