"""Agent login, logout, the session and API-token guards."""

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import jsonify

from gateway.store.agents import issue_api_token
from gateway.web.auth import api_auth, current_agent
from tests.helpers import AGENT_EMAIL, AGENT_PASSWORD, add_agent, csrf_from, log_in


def location(response) -> str:
    """The redirect target as a path with its query."""
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def logged_in_agent_id(client):
    """Who the client's session cookie authenticates, if anyone."""
    response = client.get("/api/agent/me")
    return response.get_json()["id"] if response.status_code == 200 else None


def disable(db, agent_id: int) -> None:
    with db() as conn:
        conn.execute("UPDATE agents SET disabled_at = now() WHERE id = %s", (agent_id,))


# --- Login ------------------------------------------------------------------------------------

def test_anonymous_inbox_redirects_to_login_with_next(client):
    response = client.get("/inbox")
    assert response.status_code == 302
    parts = urlsplit(response.headers["Location"])
    assert parts.path == "/login"
    assert parse_qs(parts.query) == {"next": ["/inbox"]}

    response = client.get("/inbox?status=queued")
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"next": ["/inbox?status=queued"]}


def test_login_page_has_a_form_with_a_csrf_token_and_security_headers(client):
    response = client.get("/login?next=/inbox")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="email"' in html and 'name="password"' in html
    assert len(csrf_from(html)) >= 32
    assert 'name="next" value="/inbox"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_login_with_the_right_password_opens_the_inbox(client, db):
    agent = add_agent(db)
    response = log_in(client, next_url="/inbox?status=queued")
    assert response.status_code == 303
    assert location(response) == "/inbox?status=queued"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_URL is https in the tests
    assert logged_in_agent_id(client) == agent["id"]

    page = client.get("/inbox")
    assert page.status_code == 200
    assert "Ada Agent" in page.get_data(as_text=True)


def test_login_email_is_case_insensitive(client, db):
    add_agent(db)
    assert location(log_in(client, email="  ADA@Example.com ")) == "/inbox"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, db):
    add_agent(db)
    wrong_password = log_in(client, password="not the password")
    unknown_email = log_in(client, email="nobody@example.com")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert "nobody@example.com" in unknown_email.get_data(as_text=True)  # kept in the field
    assert logged_in_agent_id(client) is None


def test_oversized_password_is_refused_without_hashing(client, db):
    add_agent(db)
    response = log_in(client, password="x" * 100_000)
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert logged_in_agent_id(client) is None


def test_login_without_the_right_csrf_token_is_rejected(client, db):
    add_agent(db)
    client.get("/login")
    missing = client.post("/login", data={"email": AGENT_EMAIL, "password": AGENT_PASSWORD})
    wrong = client.post("/login", data={"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "csrf_token": "forged"})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "This form expired" in response.get_data(as_text=True)
    assert logged_in_agent_id(client) is None


def test_csrf_token_of_another_session_is_rejected(app, db):
    add_agent(db)
    attacker, victim = app.test_client(), app.test_client()
    token = csrf_from(attacker.get("/login").get_data(as_text=True))
    victim.get("/login")
    response = victim.post("/login", data={"email": AGENT_EMAIL, "password": AGENT_PASSWORD, "csrf_token": token})
    assert response.status_code == 400


def test_login_starts_a_fresh_session(client, db):
    """Session fixation: nothing planted before the login survives it, and the CSRF token changes."""
    add_agent(db)
    before = csrf_from(client.get("/login").get_data(as_text=True))
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    log_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["csrf_token"] != before


@pytest.mark.parametrize("target", [
    "//evil.com",
    "//evil.com/inbox",
    "https://evil.com/inbox",
    "http:evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/%0a/evil.com\n",
    "javascript:alert(1)",
    "evil.com",
    "/login",
    "",
])
def test_next_never_leaves_the_site(client, db, target):
    add_agent(db)
    response = log_in(client, next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/inbox"


def test_next_inside_the_site_is_followed(client, db):
    add_agent(db)
    assert location(log_in(client, next_url="/inbox/conversations/7")) == "/inbox/conversations/7"


def test_login_page_when_logged_in_goes_to_next(client, db):
    add_agent(db)
    log_in(client)
    assert location(client.get("/login?next=/inbox/conversations/3")) == "/inbox/conversations/3"
    assert location(client.get("/login?next=//evil.com")) == "/inbox"


def test_disabled_agent_cannot_log_in(client, db):
    agent = add_agent(db)
    disable(db, agent["id"])
    response = log_in(client)
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert logged_in_agent_id(client) is None


def test_disabling_an_agent_ends_their_session(client, db):
    agent = add_agent(db)
    log_in(client)
    disable(db, agent["id"])
    assert client.get("/inbox").status_code == 302
    assert logged_in_agent_id(client) is None


def test_an_old_session_must_log_in_again(client, db):
    add_agent(db)
    log_in(client)
    with db() as conn:
        conn.execute("UPDATE agent_sessions SET expires_at = now() - interval '1 second'")
    assert client.get("/inbox").status_code == 302


def test_json_client_gets_401_instead_of_a_redirect(client):
    response = client.get("/inbox", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "log in first"}


# --- Logout -----------------------------------------------------------------------------------

def test_logout_is_a_post_with_csrf(client, db):
    add_agent(db)
    log_in(client)
    assert client.get("/logout").status_code == 405

    forged = client.post("/logout")
    assert forged.status_code == 400
    assert client.get("/inbox").status_code == 200  # still logged in

    token = csrf_from(client.get("/inbox").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert location(response) == "/login"
    assert "You are logged out." in client.get("/login").get_data(as_text=True)
    assert client.get("/inbox").status_code == 302
    assert logged_in_agent_id(client) is None


def test_logout_when_not_logged_in_just_goes_to_login(client):
    response = client.post("/logout")
    assert response.status_code == 303
    assert location(response) == "/login"


# --- api_auth: session cookie or personal API token -------------------------------------------

@pytest.fixture
def api_routes(app):
    """Test-only endpoints guarded by api_auth, registered before the first request."""

    @api_auth
    def echo():
        return jsonify(agent_id=current_agent()["id"])

    @api_auth(admin=True)
    def admin_only():
        return jsonify(ok=True)

    app.add_url_rule("/api/test/echo", "test_echo", echo, methods=["GET", "POST"])
    app.add_url_rule("/api/test/admin", "test_admin", admin_only, methods=["GET"])
    return app


def issue_token(db, agent_id: int) -> str:
    with db() as conn:
        return issue_api_token(conn, agent_id)


def test_api_me_needs_authentication(client):
    response = client.get("/api/agent/me")
    assert response.status_code == 401
    assert "authentication required" in response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_me_with_the_session_cookie(client, db):
    agent = add_agent(db)
    log_in(client)
    body = client.get("/api/agent/me").get_json()
    assert body == {"id": agent["id"], "email": AGENT_EMAIL, "name": "Ada Agent", "is_admin": False,
                    "presence": "offline", "capacity": 5, "auth": "session"}


def test_api_me_with_a_bearer_token(client, db):
    agent = add_agent(db)
    token = issue_token(db, agent["id"])
    response = client.get("/api/agent/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["id"] == agent["id"]
    assert response.get_json()["auth"] == "token"
    assert "Set-Cookie" not in response.headers  # token requests do not start sessions


@pytest.mark.parametrize("header", ["Bearer hat_not-a-real-token", "Bearer ", "Basic YWRhOnB3", "hat_token"])
def test_api_rejects_a_bad_authorization_header_even_with_a_session(client, db, header):
    add_agent(db)
    log_in(client)
    response = client.get("/api/agent/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid API token"}
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_api_token_of_a_disabled_agent_is_refused(client, db):
    agent = add_agent(db)
    token = issue_token(db, agent["id"])
    disable(db, agent["id"])
    assert client.get("/api/agent/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_api_auth_session_writes_need_the_csrf_header(api_routes, db):
    client = api_routes.test_client()
    agent = add_agent(db)
    log_in(client)
    with client.session_transaction() as session:
        token = session["csrf_token"]

    assert client.get("/api/test/echo").get_json() == {"agent_id": agent["id"]}
    refused = client.post("/api/test/echo")
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.get_json()["error"]
    assert client.post("/api/test/echo", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/test/echo", headers={"X-CSRF-Token": token}).status_code == 200


def test_api_auth_token_writes_need_no_csrf(api_routes, db):
    client = api_routes.test_client()
    agent = add_agent(db)
    token = issue_token(db, agent["id"])
    response = client.post("/api/test/echo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"agent_id": agent["id"]}


def test_api_auth_admin_only(api_routes, db):
    client = api_routes.test_client()
    agent = add_agent(db)
    admin = add_agent(db, email="root@example.com", name="Root", is_admin=True)
    agent_token, admin_token = issue_token(db, agent["id"]), issue_token(db, admin["id"])
    assert client.get("/api/test/admin").status_code == 401
    refused = client.get("/api/test/admin", headers={"Authorization": f"Bearer {agent_token}"})
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "this endpoint is for admins"}
    assert client.get("/api/test/admin", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
