"""The write gate as agents meet it in the browser: two agents on the same fiche, the second
save is refused with what the first one changed, nothing is overwritten; an opérateur forging a
State decision (the field is shown locked) is told on the field, and nothing is written."""
from __future__ import annotations

from sqlalchemy import select

from models import BhasileUser, BudgetAnnee, Structure


def _value(live_server, stmt):
    with live_server.app.app_context():
        from app.extensions import db

        value = db.session.scalar(stmt)
        db.session.remove()
        return value


def test_two_agents_on_one_fiche_the_second_save_is_refused_and_says_why(open_page, live_server):
    from playwright.sync_api import expect

    sid = live_server.ids["structure"]
    calvados, normandie = open_page("calvados"), open_page("normandie")
    calvados.goto(f"/structureview/edit/{sid}")
    normandie.goto(f"/structureview/edit/{sid}")
    normandie.fill('input[name="nom"]', "Nom choisi par la région")
    with normandie.expect_navigation():
        normandie.locator("main form [type=submit]").first.click()
    calvados.fill('input[name="nom"]', "Nom de l'ancienne saisie")
    with calvados.expect_navigation():
        calvados.locator("main form [type=submit]").first.click()
    alert = calvados.locator(".fr-alert--error, .fr-alert--danger, [role=alert]").first
    expect(alert).to_contain_text("modifiée par quelqu'un d'autre")
    expect(alert).to_contain_text("Nom choisi par la région")
    expect(alert).to_contain_text("normandie")
    assert _value(live_server, select(Structure.nom).where(Structure.id == sid)) == "Nom choisi par la région"
    assert calvados.problems == [] and normandie.problems == []


def test_an_operateur_typing_the_granted_dotation_is_refused_on_the_field(open_page, live_server):
    from playwright.sync_api import expect

    op = _value(live_server, select(BhasileUser.operateur_id).where(BhasileUser.username == "operateur"))
    bid = _value(live_server, select(BudgetAnnee.id).join(Structure).where(Structure.operateur_id == op)
                 .order_by(BudgetAnnee.id))
    before = _value(live_server, select(BudgetAnnee.dotation_accordee).where(BudgetAnnee.id == bid))
    page = open_page("operateur")
    page.goto(f"/budgetanneeview/edit/{bid}")
    # the field is shown locked; a forged form (the lock removed in the page) is still refused
    page.locator('input[name="dotation_accordee"]').evaluate("input => { input.disabled = false; }")
    page.fill('input[name="dotation_accordee"]', "1")
    with page.expect_navigation():
        page.locator("main form [type=submit]").first.click()
    expect(page.locator("#dotation_accordee-desc-error, .fr-error-text").first).to_contain_text(
        "réservé aux services de l'État")
    assert _value(live_server, select(BudgetAnnee.dotation_accordee).where(BudgetAnnee.id == bid)) == before
