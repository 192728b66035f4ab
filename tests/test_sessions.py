"""Server-side sessions (issue 13: "sessions outlive logout, password reset
and removal"): logging out, a password reset, deactivating an agent and
changing their role end their sessions and API token at once, even for a
copy of the cookie kept elsewhere."""

from __future__ import annotations

from click.testing import CliRunner

from gateway.cli import main
from gateway.store.agents import issue_api_token
from tests.conftest import PUBLIC_URL
from tests.helpers import AGENT_EMAIL, add_agent, bearer, count, csrf_from, log_in


def logged_in(client) -> bool:
    return client.get("/api/agent/me").status_code == 200


def stolen_copy(app, client):
    """Another client holding the same session cookie (a copied cookie)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


def handoff(database_url: str, redis_url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input,
                              env={"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL})


def agent_with_session_and_token(app, client, db, **kwargs):
    agent = add_agent(db, **kwargs)
    with db() as conn:
        token = issue_api_token(conn, agent["id"])
    assert log_in(client).status_code == 303
    return agent, token, stolen_copy(app, client)


def test_logout_ends_the_session_on_the_server(app, client, db):
    add_agent(db)
    log_in(client)
    copy = stolen_copy(app, client)
    assert logged_in(copy)
    csrf = csrf_from(client.get("/inbox").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert not logged_in(copy)
    assert count(db, "agent_sessions") == 0


def test_a_password_reset_ends_every_session_and_the_api_token(app, client, db, database_url, redis_url):
    _, token, copy = agent_with_session_and_token(app, client, db)
    result = handoff(database_url, redis_url, "agent", "password", "--email", AGENT_EMAIL, "--password-stdin",
                     input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert "1 session ended and the API token revoked" in result.output
    assert not logged_in(client) and not logged_in(copy)
    assert app.test_client().get("/api/agent/me", headers=bearer(token)).status_code == 401


def test_a_deactivation_ends_their_sessions_and_token(app, client, db, auth):
    agent, token, copy = agent_with_session_and_token(app, client, db)
    assert app.test_client().post(f"/api/admin/agents/{agent['id']}/deactivate", headers=auth).status_code == 200
    assert not logged_in(copy)
    assert app.test_client().get("/api/agent/me", headers=bearer(token)).status_code == 401


def test_a_role_change_ends_their_sessions_and_token(app, client, db, auth):
    agent, token, copy = agent_with_session_and_token(app, client, db)
    response = app.test_client().patch(f"/api/admin/agents/{agent['id']}", headers=auth, json={"is_admin": True})
    assert response.status_code == 200
    assert not logged_in(copy)
    assert app.test_client().get("/api/agent/me", headers=bearer(token)).status_code == 401


def test_a_deactivated_agent_cannot_log_in_again(app, client, db, auth):
    agent = add_agent(db)
    assert app.test_client().post(f"/api/admin/agents/{agent['id']}/deactivate", headers=auth).status_code == 200
    assert log_in(client).status_code == 200  # the form again, with its error
    assert not logged_in(client)


def test_deactivating_an_agent_from_the_command_line(app, client, db, database_url, redis_url):
    _, token, copy = agent_with_session_and_token(app, client, db)
    result = handoff(database_url, redis_url, "agent", "deactivate", "--email", AGENT_EMAIL)
    assert result.exit_code == 0, result.output
    assert not logged_in(copy)
    assert app.test_client().get("/api/agent/me", headers=bearer(token)).status_code == 401


def test_other_changes_keep_the_session(app, client, db, auth):
    agent, token, copy = agent_with_session_and_token(app, client, db)
    assert app.test_client().patch(f"/api/admin/agents/{agent['id']}", headers=auth,
                                   json={"capacity": 3}).status_code == 200
    assert logged_in(copy)
    assert app.test_client().get("/api/agent/me", headers=bearer(token)).status_code == 200


def test_an_admin_cannot_deactivate_themselves(client, admin, auth):
    response = client.post(f"/api/admin/agents/{admin['id']}/deactivate", headers=auth)
    assert response.status_code == 409
    assert client.get("/api/agent/me", headers=auth).status_code == 200
