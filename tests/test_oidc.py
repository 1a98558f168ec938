"""ProConnect sign-in against a real OpenID Connect provider running locally (oidc-provider-mock).

The whole flow goes through FAB's OAuth routes: /login/proconnect → the provider's authorize
page → /oauth-authorized/proconnect (code exchange, ID token and signature checks, userinfo).
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from tests import dbutil
from tests.conftest import make_app

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")


@pytest.fixture(scope="module")
def provider():
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture()
def oidc_app(provider, template_db, tmp_path, monkeypatch):
    monkeypatch.setenv("BHASILE_OIDC_ISSUER", provider)
    monkeypatch.setenv("BHASILE_OIDC_CLIENT_ID", "bhasile-test")
    monkeypatch.setenv("BHASILE_OIDC_CLIENT_SECRET", "secret-de-test-du-client")
    url, tmp = template_db
    application = make_app(dbutil.clone(url, tmp), tmp_path)
    yield application
    with application.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


def _sign_in(client, provider: str, sub: str, claims: dict):
    """Play the agent: click ProConnect, pick the identity at the provider, come back."""
    assert requests.put(f"{provider}/users/{sub}", json=claims, timeout=5).status_code == 204
    start = client.get("/login/proconnect")
    assert start.status_code == 302
    authorize = start.headers["Location"]
    assert authorize.startswith(provider)
    back = requests.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    assert callback.path == "/oauth-authorized/proconnect"
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=True)


def _user_count(application) -> int:
    with application.app_context():
        from app.extensions import db
        from models import BhasileUser

        count = db.session.scalar(select(func.count()).select_from(BhasileUser))
        db.session.remove()
        return count


def test_login_page_offers_proconnect_only(oidc_app):
    client = oidc_app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    assert "btn-signin-proconnect" in page
    assert 'name="password"' not in page


def test_agent_with_account_is_matched_by_email(oidc_app, provider):
    client = oidc_app.test_client()
    page = _sign_in(client, provider, "agent-calvados-1",
                    {"email": "Calvados@BHasile.invalid", "given_name": "Camille",
                     "usual_name": "Martin"})
    assert page.status_code == 200
    listing = client.get("/structureview/list/")
    assert listing.status_code == 200  # signed in as the Calvados agent
    with oidc_app.app_context():
        from app.extensions import db
        from models import BhasileUser

        user = db.session.scalars(select(BhasileUser).where(BhasileUser.username == "calvados")).one()
        assert user.login_count and user.last_login is not None
        assert [d.code for d in user.departements] == ["14"]  # scope unchanged by ProConnect
        db.session.remove()


def test_agent_without_account_is_asked_to_request_access(oidc_app, provider):
    before = _user_count(oidc_app)
    client = oidc_app.test_client()
    page = _sign_in(client, provider, "agent-inconnu",
                    {"email": "nouvel.agent@interieur.gouv.fr", "given_name": "Nina",
                     "usual_name": "Durand"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Demandez l&#39;accès à votre administrateur" in text or \
        "Demandez l'accès à votre administrateur" in text
    assert "nouvel.agent@interieur.gouv.fr" in text
    assert _user_count(oidc_app) == before  # no account, no role granted by signing in
    assert client.get("/structureview/list/").status_code != 200
    assert client.get("/api/v1/structure/").status_code == 401


def test_denied_consent_leaves_the_agent_signed_out(oidc_app, provider):
    client = oidc_app.test_client()
    authorize = client.get("/login/proconnect").headers["Location"]
    back = requests.post(authorize, data={"action": "deny"}, allow_redirects=False, timeout=5)
    callback = urlsplit(back.headers["Location"])
    page = client.get(f"{callback.path}?{callback.query}", follow_redirects=True)
    assert page.status_code == 200
    assert "La connexion ProConnect a été refusée" in page.get_data(as_text=True)
    assert client.get("/structureview/list/").status_code != 200


def test_without_issuer_database_login_stays(app):
    page = app.test_client().get("/login/").get_data(as_text=True)
    assert 'name="password"' in page and "proconnect" not in page


def test_settings_come_from_the_environment():
    from app.web.oidc import oidc_settings

    assert oidc_settings({}) == {}
    settings = oidc_settings({"BHASILE_OIDC_ISSUER": "https://idp.example/api/v2/",
                              "BHASILE_OIDC_CLIENT_ID": "id", "BHASILE_OIDC_CLIENT_SECRET": "s",
                              "BHASILE_OIDC_SCOPES": "openid email"})
    remote = settings["OAUTH_PROVIDERS"][0]["remote_app"]
    assert remote["server_metadata_url"] == "https://idp.example/api/v2/.well-known/openid-configuration"
    assert remote["client_kwargs"]["scope"] == "openid email"
    assert settings["AUTH_USER_REGISTRATION"] is False


def test_proconnect_agent_signs_out_by_post_and_the_old_cookie_is_dead(oidc_app, provider):
    from tests.conftest import Auth

    client = oidc_app.test_client()
    _sign_in(client, provider, "agent-calvados-2", {"email": "calvados@bhasile.invalid"})
    assert client.get("/structureview/list/").status_code == 200
    kept = client.get_cookie("session").value
    assert client.get("/logout/").status_code == 200  # a GET only asks
    assert client.get("/structureview/list/").status_code == 200
    page = client.post("/logout/", data={"csrf_token": Auth(client).csrf("/logout/")},
                       follow_redirects=True).get_data(as_text=True)
    assert "Vous êtes déconnecté de BHasile" in page and "btn-signin-proconnect" in page
    thief = oidc_app.test_client()
    thief.set_cookie("session", kept)
    assert thief.get("/structureview/list/").status_code != 200


def test_with_proconnect_accounts_keep_their_territory_and_their_own_page(oidc_app, provider):
    from tests.conftest import run_cli

    assert run_cli(oidc_app, "bhasile", "init").exit_code == 0  # what `make serve` runs
    admin = oidc_app.test_client()
    _sign_in(admin, provider, "agent-admin", {"email": "admin@bhasile.invalid"})
    form = admin.get("/users/add").get_data(as_text=True)
    assert "Départements" in form and "Opérateur" in form and 'name="password"' not in form
    agent = oidc_app.test_client()
    _sign_in(agent, provider, "agent-operateur", {"email": "operateur@bhasile.invalid"})
    mine = agent.get("/users/userinfo/")
    assert mine.status_code == 200 and "operateur@bhasile.invalid" in mine.get_data(as_text=True)


def test_with_proconnect_the_api_refuses_password_logins_in_french(oidc_app):
    response = oidc_app.test_client().post("/api/v1/security/login", json={
        "username": "calvados", "password": dbutil.PASSWORD, "provider": "db"})
    assert response.status_code == 400 and "ProConnect" in response.get_json()["message"]
