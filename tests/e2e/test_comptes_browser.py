"""Accounts in a real browser: the administrator cannot make an « Agent régional » without a
région (French refusal on the field), gives a région to two agents at once on « Droits par
territoire », and finds the change in the history."""
from __future__ import annotations

from sqlalchemy import select

from tests import dbutil
from tests.e2e.conftest import screenshot


def _two_agents(live_server) -> list[str]:
    """Two regional agents of Bretagne (53), not yet in Normandie."""
    from app.cli import create_or_update_user
    from app.extensions import db
    from models import BhasileUser
    from models.enums import Role

    logins = ["e2e.regional.a", "e2e.regional.b"]
    with live_server.app.app_context():
        for login in logins:
            if db.session.scalar(select(BhasileUser.id).where(BhasileUser.username == login)) is None:
                create_or_update_user(login, Role.REGIONAL, dbutil.PASSWORD, regions=("53",))
        db.session.remove()
    return logins


def test_an_agent_regional_needs_a_region_and_droits_par_territoire_adds_two_at_once(open_page, live_server):
    page = open_page("admin")
    page.goto("/users/add")
    page.fill("#first_name", "Agnès")
    page.fill("#last_name", "Martin")
    page.fill("#username", "agnes.martin.e2e")
    page.fill("#email", "agnes.martin@interieur.gouv.fr")
    page.fill("#password", dbutil.PASSWORD)
    page.fill("#conf_password", dbutil.PASSWORD)
    page.select_option("#roles", label="Agent régional")
    page.locator("main form [type=submit]").first.click()
    page.wait_for_load_state()
    error = page.locator("#regions-error")
    assert "Un agent régional doit avoir au moins une région." in error.inner_text()
    assert "/users/add" in page.url
    screenshot(page, "utilisateur-agent-regional-sans-region")

    first, second = _two_agents(live_server)
    page.goto("/droits/region/28/")
    assert "Droits : Normandie" in page.inner_text("main h1")
    for login in (first, second):
        page.locator("#ajouter label", has_text=f"({login})").click()
    page.locator("main form [type=submit]").first.click()
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "2 agent(s) ajouté(s)" in main
    table = page.inner_text("main table")
    assert first in table and second in table
    screenshot(page, "droits-par-territoire")

    page.goto("/journal/list/?entity=ab_user&origin=droits")
    entry = page.locator("details", has_text=f"Compte {first}").first
    entry.locator("summary").click()
    assert "Régions : Bretagne → Bretagne, Normandie" in entry.inner_text()
    assert "droits par territoire" in page.inner_text("main table")
    assert "heures de Paris" in page.inner_text("main")
    screenshot(page, "historique")
    assert page.problems == []
