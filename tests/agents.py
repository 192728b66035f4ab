"""Agents for agent API tests: each with their own test client, signed in by
a personal API token (or by the login form, with the session's CSRF token),
member of some teams, online or not; and conversations waiting in a queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.store import agents as agents_store
from gateway.store import teams as teams_store
from tests.helpers import bearer, fetch_all, fetch_one, log_in, seed_conversation

PASSWORD = "correct horse battery"


@dataclass
class Agent:
    id: int
    name: str
    email: str
    client: object
    headers: dict = field(default_factory=dict)

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, body: dict | None = None, **kwargs):
        return self.client.post(path, json=body if body is not None else {}, headers=self.headers, **kwargs)

    def act(self, conversation_id: int, action: str, body: dict | None = None):
        """POST /api/agent/conversations/<id>/<action>."""
        return self.post(f"/api/agent/conversations/{conversation_id}/{action}", body)


def team(db, name: str, *, auto_assign: bool = False) -> int:
    with db() as conn:
        team_id = teams_store.ensure_team(conn, name)
        teams_store.update_team(conn, team_id, auto_assign=auto_assign)
    return team_id


def make_agent(app, db, name: str, *, teams: tuple[int, ...] = (), admin: bool = False, online: bool = True,
               capacity: int = 5, session: bool = False) -> Agent:
    """An agent in `teams`, online for an hour (or offline), with a client of
    their own: bearer-token requests, or (session=True) the login cookie and
    the session's X-CSRF-Token header."""
    email = name.lower().replace(" ", ".") + "@example.com"
    with db() as conn:
        row = agents_store.create_agent(conn, email=email, name=name, password=PASSWORD, is_admin=admin)
        agents_store.set_capacity(conn, row["id"], capacity)
        for team_id in teams:
            teams_store.add_member(conn, team_id, row["id"])
        if online:
            agents_store.set_presence(conn, row["id"], "online", ttl_seconds=3600)
        token = agents_store.issue_api_token(conn, row["id"])
    client = app.test_client()
    if not session:
        return Agent(row["id"], name, email, client, bearer(token))
    assert log_in(client, email, PASSWORD).status_code == 303
    with client.session_transaction() as cookie_session:
        csrf = cookie_session["csrf_token"]
    return Agent(row["id"], name, email, client, {"X-CSRF-Token": csrf})


def waiting_conversation(db, channel, address: str, team_id: int, *, text: str = "I need a person, please",
                         waited_seconds: int = 60, priority: str = "normal", status: str = "queued",
                         **columns) -> int:
    """A conversation escalated `waited_seconds` ago to the team's queue."""
    conversation_id = seed_conversation(db, channel, address, [("customer", text)], status=status, team_id=team_id,
                                        priority=priority, escalation_reason="human_request", **columns)
    with db() as conn:
        conn.execute("UPDATE conversations SET escalated_at = now() - make_interval(secs => %s) WHERE id = %s",
                     (waited_seconds, conversation_id))
    return conversation_id


def conversation_row(db, conversation_id: int) -> dict:
    return fetch_one(db, "SELECT * FROM conversations WHERE id = %s", conversation_id)


def customer_silence(db, conversation_id: int, hours: float) -> None:
    """The customer last wrote `hours` ago (the messaging window's clock)."""
    with db() as conn:
        conn.execute("UPDATE conversations SET last_customer_message_at = now() - make_interval(secs => %s) "
                     "WHERE id = %s", (hours * 3600, conversation_id))


def joined_lines(db, conversation_id: int) -> list[str]:
    """The "<Name> from <Team> joined" lines stored for the customer (sent or not)."""
    return [row["text"] for row in fetch_all(
        db, "SELECT text FROM messages WHERE conversation_id = %s AND metadata ? 'agent_joined' ORDER BY id",
        conversation_id)]
