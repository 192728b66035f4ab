"""Every agent and admin API route, found in the app's URL map (so a new
route is checked without anyone remembering to): anonymous callers get 401,
agents who are not admins get 403 on admin routes, before any body is read
or any lookup is made."""

from __future__ import annotations

import re

from gateway.store.agents import issue_api_token
from tests.helpers import add_agent, bearer


def api_routes(app, prefix: str) -> list[tuple[str, str]]:
    """(method, path) of every route under prefix, path parameters set to 1."""
    return sorted(
        (method, re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule))
        for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def answers(client, routes: list[tuple[str, str]], headers: dict | None = None) -> dict[tuple[str, str], int]:
    statuses = {}
    for method, path in routes:
        response = client.open(path, method=method, json={}, headers=headers or {})
        assert response.get_json()["error"], (method, path)
        statuses[method, path] = response.status_code
    return statuses


def test_anonymous_callers_get_401_on_every_agent_and_admin_route(app, client):
    routes = api_routes(app, "/api/agent/") + api_routes(app, "/api/admin/")
    assert ("POST", "/api/agent/conversations/1/claim") in routes and len(routes) >= 40
    statuses = answers(client, routes)
    assert {route: status for route, status in statuses.items() if status != 401} == {}


def test_agents_who_are_not_admins_get_403_on_every_admin_route(app, client, db):
    agent = add_agent(db)
    with db() as conn:
        token = issue_api_token(conn, agent["id"])
    routes = api_routes(app, "/api/admin/")
    assert ("PUT", "/api/admin/teams/1/members") in routes
    statuses = answers(client, routes, bearer(token))
    assert {route: status for route, status in statuses.items() if status != 403} == {}
