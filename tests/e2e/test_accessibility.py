"""RGAA through axe-core: every main page, as the agent who uses it, has no serious or critical
WCAG 2.1 A/AA violation, logs no console error (CSP included) and wears the DSFR; a full-page
screenshot of each is saved (build/screenshots/ or $BHASILE_SCREENSHOTS)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pytest

from tests.conftest import SAMPLES
from tests.e2e import axe
from tests.e2e.conftest import ROOT, screenshot


def upload_sample(page, ids) -> None:
    """The Calvados follow-up workbook sent through the Imports page: its preview opens."""
    page.goto("/imports/")
    page.set_input_files("input[type=file][name=fichier]", str(SAMPLES / "suivi-ddets-calvados.xlsx"))
    page.locator("form:has(input[name=fichier]) [type=submit]").click()
    page.wait_for_url("**/imports/*/")


def charts_drawn(page) -> None:
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length > 0 && "
                           "Array.from(document.querySelectorAll('canvas[data-chart]'))"
                           ".every(c => window.Chart && Chart.getChart(c))")


@dataclass
class Page:
    user: str | None
    url: str = ""
    ready: str | Callable | None = None  # a selector to wait for, or a function(page)
    setup: Callable | None = None  # function(page, ids) that navigates instead of url

    def open(self, page, ids: dict[str, int]) -> None:
        if self.setup:
            self.setup(page, ids)
        else:
            page.goto(self.url.format(**ids))
        if isinstance(self.ready, str):
            page.wait_for_selector(self.ready)
        elif self.ready:
            self.ready(page)
        page.wait_for_load_state("load")


PAGES = {
    "connexion": Page(None, "/login/"),
    "accessibilite": Page(None, "/accessibilite"),
    "accueil": Page("calvados", "/"),
    "mon-compte": Page("operateur", "/users/userinfo/"),
    "se-deconnecter": Page("calvados", "/logout/"),
    "mon-mot-de-passe": Page("lecteur", "/resetmypassword/form"),
    "structures": Page("calvados", "/structureview/list/"),
    "structures-filtre": Page("calvados", "/structureview/list/?q=CADA&type=CADA"),
    "fiche": Page("calvados", "/structureview/show/{structure}"),
    "fiche-description-modifier": Page("calvados", "/structureview/edit/{structure}"),
    "fiche-calendrier-modifier": Page("calvados", "/structure/calendrier/edit/{structure}"),
    "controle-modifier": Page("calvados", "/controleview/edit/{controle}"),
    "operateur": Page("calvados", "/operateurview/show/{operateur}"),
    "operateur-modifier": Page("calvados", "/operateurview/edit/{operateur}"),
    "operateurs": Page("calvados", "/operateurview/list/"),
    "grille": Page("calvados", "/grille/activite/", ready=".tabulator-row .tabulator-cell"),
    "import-apercu": Page("calvados", setup=upload_sample),
    "tableau-departement": Page("calvados", "/tableaux/departement/14/", ready=charts_drawn),
    "tableau-national": Page("centrale", "/tableaux/national/FR/", ready=charts_drawn),
    "carte": Page("calvados", "/carte/", ready=".marker-cluster, path.bh-marker"),
    "a-traiter": Page("calvados", "/a-traiter/"),
    "a-traiter-rubrique": Page("calvados", "/a-traiter/documents/"),
    "tarification": Page("calvados", "/tarification/structure/{structure}"),
    "imports": Page("calvados", "/imports/"),
    "documents": Page("calvados", "/documents/checklist/"),
    "campagnes": Page("centrale", "/campagnes/"),
    "journal": Page("centrale", "/journal/list/"),
}


#: Elements that make the page itself wider than the window: outside any scrolling box, or
#: positioned against an ancestor outside the box that should have clipped them.
OVERFLOWING = """() => {
  const clip = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
                        if (getComputedStyle(p).overflowX !== 'visible') return p; return null; };
  const escapes = e => { const box = clip(e); if (!box) return true;
    if (!['absolute', 'fixed'].includes(getComputedStyle(e).position)) return false;
    return !e.offsetParent || (e.offsetParent !== box && !box.contains(e.offsetParent)); };
  return Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && escapes(e)).slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${String(e.className).trim().split(/ +/).join('.')} dans ${e.parentElement.tagName.toLowerCase()}.${e.parentElement.className}`);
}"""


def keep(name: str, found: list[dict]) -> None:
    """Every violation (any impact) in build/axe/<page>.json, for the team's follow-up list."""
    folder = ROOT / "build" / "axe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible(open_page, live_server, name):
    page = open_page(PAGES[name].user)
    PAGES[name].open(page, live_server.ids)
    screenshot(page, name)
    found = axe.violations(page)
    keep(name, found)
    serious = axe.blocking(found)
    assert not serious, axe.report(serious, f"la page « {name} » ({page.url})")
    assert page.problems == [], f"la page « {name} » signale des erreurs : {page.problems}"
    structure = axe.structure_problems(page)
    assert not structure, f"la page « {name} » : " + " ; ".join(structure)
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Marianne" in font, f"la page « {name} » n'a pas la police du DSFR (Marianne) : {font}"
    assert page.locator("header.fr-header").count() == 1, f"la page « {name} » n'a pas l'en-tête du DSFR"


def test_form_errors_are_tied_to_their_fields(open_page, live_server):
    """A refused form names each error on its field: aria-invalid, the message in the field's
    aria-describedby, and the page with its errors still passes axe."""
    page = open_page("calvados")
    page.goto(f"/structureview/edit/{live_server.ids['structure']}")
    page.fill("#code_postal", "75001")  # Paris: not in the Calvados
    page.fill("#code_finess", "123")  # 9 characters expected
    with page.expect_navigation():
        page.locator("main form [type=submit]").first.click()
    for field, message in (("code_postal", "75001"), ("code_finess", "9 caractères")):
        control = page.locator(f"#{field}")
        assert control.get_attribute("aria-invalid") == "true", f"{field} n'est pas marqué invalide"
        described = (control.get_attribute("aria-describedby") or "").split()
        messages = " ".join(page.locator(f"#{i}").inner_text() for i in described if page.locator(f"#{i}").count())
        assert message in messages, f"le message d'erreur de {field} n'est pas relié au champ (aria-describedby)"
    # the focus lands on the error summary; each of its links leads to its field
    assert page.evaluate("document.activeElement.matches('[role=alert], .fr-alert')"), \
        "le focus n'est pas sur le récapitulatif des erreurs"
    page.keyboard.press("Tab")
    target = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    assert target and page.evaluate("document.activeElement.id") == target.lstrip("#"), \
        "le lien du récapitulatif ne mène pas au champ en erreur"
    screenshot(page, "formulaire-erreurs")
    serious = axe.blocking(axe.violations(page))
    assert not serious, axe.report(serious, "le formulaire refusé")
    assert page.problems == [], page.problems


@pytest.mark.parametrize("name", ["connexion", "structures", "fiche", "fiche-description-modifier", "operateurs",
                                  "import-apercu", "tableau-departement", "carte"])
def test_page_reflows_in_a_320_pixel_wide_window(open_page, live_server, name):
    """RGAA 10.11 (WCAG 1.4.10): at 320 CSS pixels the page scrolls only downwards; a wide data
    table may scroll sideways inside its own box, never the whole page."""
    page = open_page(PAGES[name].user)
    page.set_viewport_size({"width": 320, "height": 640})
    PAGES[name].open(page, live_server.ids)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(OVERFLOWING)
    assert width <= 321, f"la page « {name} » défile horizontalement à 320 px ({width} px) : {wide}"
