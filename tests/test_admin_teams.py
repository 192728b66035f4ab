"""The admin API of teams and agents: for admins only, validated with messages by
field, computed opening times, members, and every change audited."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from gateway.handoff.hours import DAYS
from gateway.store.agents import set_presence
from tests.conftest import ADMIN_EMAIL
from tests.helpers import (
    add_agent,
    add_web_channel,
    fetch_all,
    fetch_one,
    seed_conversation,
)

PARIS_OFFICE = {"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:30"]], "tue": [["09:00", "17:30"]]},
                "holidays": ["2026-12-25"]}


@pytest.fixture
def maya(db):
    return add_agent(db, email="maya@example.com", name="Maya Lopez")


@pytest.fixture
def bob(db):
    return add_agent(db, email="bob@example.com", name="Bob Stone")


def create(client, auth, **body) -> dict:
    response = client.post("/api/admin/teams", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def audit(db) -> list[dict]:
    return [row["detail"] for row in fetch_all(db, "SELECT detail FROM events WHERE kind = 'settings.changed' "
                                                   "ORDER BY id")]


# --- who may ----------------------------------------------------------------------------------

# --- creating teams ---------------------------------------------------------------------------


def test_a_new_team_is_always_open_and_auto_assigns(client, db, admin, auth):
    response = client.post("/api/admin/teams", json={"name": "  Billing "}, headers=auth)
    assert response.status_code == 201
    team = response.get_json()
    assert response.headers["Location"].endswith(f"/api/admin/teams/{team['id']}")
    assert {key: team[key] for key in ("name", "hours", "auto_assign", "email", "open_now", "always_open",
                                       "next_opening", "next_closing", "online", "available", "members")} == {
        "name": "Billing", "hours": {}, "auto_assign": True, "email": None, "open_now": True, "always_open": True,
        "next_opening": None, "next_closing": None, "online": 0, "available": False, "members": []}
    assert client.get(f"/api/admin/teams/{team['id']}", headers=auth).get_json() == team
    assert fetch_all(db, "SELECT agent_id, detail FROM events WHERE kind = 'settings.changed'") == [
        {"agent_id": admin["id"], "detail": {"team_id": team["id"], "action": "created"}}]


def test_a_team_is_created_with_normalized_hours_email_and_queue_assignment(client, db, auth):
    team = create(client, auth, name="Sales", hours=PARIS_OFFICE, auto_assign=False, email="sales@example.com")
    expected_hours = {"timezone": "Europe/Paris", "holidays": ["2026-12-25"],
                      "weekly": {day: [["09:00", "17:30"]] if day in ("mon", "tue") else [] for day in DAYS}}
    assert (team["hours"], team["auto_assign"], team["email"]) == (expected_hours, False, "sales@example.com")
    assert fetch_one(db, "SELECT hours, auto_assign, email FROM teams WHERE id = %s", team["id"]) == {
        "hours": expected_hours, "auto_assign": False, "email": "sales@example.com"}


def test_a_taken_name_in_any_case_is_409(client, db, auth):
    create(client, auth, name="Billing")
    response = client.post("/api/admin/teams", json={"name": "BILLING"}, headers=auth)
    assert response.status_code == 409
    assert "a team named 'BILLING' already exists" in response.get_json()["error"]
    assert [row["name"] for row in fetch_all(db, "SELECT name FROM teams")] == ["Billing"]


BAD_TEAMS = [
    ({"name": "X", "hours": {"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "25:00"]]}}},
     {"hours": {"weekly": {"mon[0]": ["'25:00' is not a time HH:MM"]}}}),
    ({"name": "X", "hours": {"timezone": "Europe/Paris", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}},
     {"hours": {"weekly": {"mon[1]": ["11:00-13:00 overlaps mon[0] 09:00-12:00"]}}}),
    ({"name": "X", "hours": {"timezone": "Europe/Pariss"}},
     {"hours": {"timezone": ["'Europe/Pariss' is not an IANA time zone name like 'Europe/Paris' or "
                             "'America/New_York'"]}}),
    ({"name": "X", "hours": {"weekly": {"mon": [["09:00", "17:00"]]}}},
     {"hours": {"timezone": ["required with weekly hours or holidays, which are local times: e.g. 'Europe/Paris'"]}}),
    ({"name": "X", "hours": {"timezone": "UTC", "holidays": ["2026-02-30"]}},
     {"hours": {"holidays": {"0": ["not a date YYYY-MM-DD"]}}}),
    ({"name": "X", "hours": {"timezone": "UTC", "weekly": {"monday": []}}},
     {"hours": {"weekly": {"monday": ["not a day; the days are mon, tue, wed, thu, fri, sat, sun"]}}}),
    ({"name": "X", "hours": "9 to 5"}, {"hours": {"_schema": ["business hours are a JSON object ({} for always open)"]}}),
    ({"name": "   "}, {"name": ["a team name of 1 to 100 characters"]}),
    ({"name": "x" * 101}, {"name": ["a team name of 1 to 100 characters"]}),
    ({}, {"name": ["Missing data for required field."]}),
    ({"name": "X", "email": "not an email"}, {"email": ["not an email address"]}),
    ({"name": "X", "auto_assign": "sometimes"}, {"auto_assign": ["Not a valid boolean."]}),
    ({"name": "X", "colour": "red"}, {"colour": ["Unknown field."]}),
]


@pytest.mark.parametrize("body, details", BAD_TEAMS)
def test_invalid_teams_are_400_with_messages_by_field(client, db, auth, body, details):
    response = client.post("/api/admin/teams", json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid team", "details": details}
    assert fetch_all(db, "SELECT id FROM teams") == []


def test_a_body_that_is_not_an_object_is_400(client, auth):
    response = client.post("/api/admin/teams", json=["Billing"], headers=auth)
    assert (response.status_code, response.get_json()) == (400, {"error": "the request body must be a JSON object"})


# --- open now, next opening, who is online ----------------------------------------------------


def test_a_closed_team_says_when_it_opens(client, auth):
    # Open only on the weekday two days from now, 10:00-11:00 UTC: the next opening is that day,
    # even if midnight passes during the test.
    opening_day = datetime.now(UTC).date() + timedelta(days=2)
    team = create(client, auth, name="Weekly", hours={"timezone": "UTC", "weekly": {
        DAYS[opening_day.weekday()]: [["10:00", "11:00"]]}})
    assert (team["open_now"], team["always_open"], team["available"]) == (False, False, False)
    assert team["next_opening"] == datetime.combine(opening_day, time(10), UTC).isoformat()
    assert team["next_opening_text"].endswith(" at 10:00 AM (UTC)")
    assert team["next_closing"] is None


def test_a_team_closed_every_day_has_no_next_opening(client, auth):
    team = create(client, auth, name="Closed", hours={"timezone": "Europe/Paris", "weekly": {}})
    assert (team["open_now"], team["next_opening"], team["next_opening_text"]) == (False, None, None)


def test_teams_list_members_with_presence_and_load_and_count_who_is_online(client, db, auth, maya, bob):
    channel = add_web_channel(db)
    billing = create(client, auth, name="Billing", hours={"timezone": "Europe/Paris",
                                                          "weekly": {day: [["00:00", "24:00"]] for day in DAYS}})
    create(client, auth, name="Alpha")
    client.put(f"/api/admin/teams/{billing['id']}/members", json={"agent_ids": [maya["id"], bob["id"]]}, headers=auth)
    with db() as conn:
        set_presence(conn, maya["id"], "online", ttl_seconds=600)
        set_presence(conn, bob["id"], "online", ttl_seconds=-1)       # expired: offline
    seed_conversation(db, channel, "visitor-1", [("customer", "hi")], status="assigned", assignee_id=maya["id"],
                      team_id=billing["id"])

    listed = client.get("/api/admin/teams", headers=auth).get_json()["teams"]
    assert [team["name"] for team in listed] == ["Alpha", "Billing"]
    shown = listed[1]
    assert (shown["open_now"], shown["always_open"], shown["online"], shown["available"]) == (True, True, 1, True)
    assert shown["members"] == [
        {"id": maya["id"], "name": "Maya Lopez", "email": "maya@example.com", "presence": "online", "capacity": 5,
         "open_conversations": 1},
        {"id": bob["id"], "name": "Bob Stone", "email": "bob@example.com", "presence": "offline", "capacity": 5,
         "open_conversations": 0}]


def test_an_unknown_team_is_404(client, auth):
    for method in ("GET", "PATCH"):
        response = client.open("/api/admin/teams/99", method=method, json={"auto_assign": False}, headers=auth)
        assert (response.status_code, response.get_json()) == (404, {"error": "no team 99"})


# --- changing teams ---------------------------------------------------------------------------


def test_patch_changes_what_is_given_and_audits_the_keys(client, db, auth):
    team = create(client, auth, name="Sales", email="sales@example.com")
    response = client.patch(f"/api/admin/teams/{team['id']}", headers=auth,
                            json={"hours": PARIS_OFFICE, "auto_assign": False, "email": "sales@example.com"})
    assert response.status_code == 200
    changed = response.get_json()
    assert (changed["hours"]["weekly"]["mon"], changed["auto_assign"], changed["email"], changed["warnings"]) == (
        [["09:00", "17:30"]], False, "sales@example.com", [])
    cleared = client.patch(f"/api/admin/teams/{team['id']}", json={"email": None}, headers=auth).get_json()
    assert (cleared["email"], cleared["auto_assign"], cleared["hours"]) == (None, False, changed["hours"])
    client.patch(f"/api/admin/teams/{team['id']}", json={"auto_assign": False}, headers=auth)   # no change
    assert audit(db)[1:] == [{"team_id": team["id"], "changed": ["auto_assign", "hours"]},
                             {"team_id": team["id"], "changed": ["email"]}]


def test_patch_validates_hours_by_field(client, db, auth):
    team = create(client, auth, name="Sales")
    response = client.patch(f"/api/admin/teams/{team['id']}", headers=auth, json={"hours": {
        "timezone": "Mars/Olympus", "weekly": {"sat": [["10:00", "10:00"]]}}})
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid team change", "details": {"hours": {
        "timezone": ["'Mars/Olympus' is not an IANA time zone name like 'Europe/Paris' or 'America/New_York'"],
        "weekly": {"sat[0]": ['10:00-10:00 is empty; the whole day is ["00:00", "24:00"]']}}}}
    assert fetch_one(db, "SELECT hours FROM teams")["hours"] == {}


def test_renaming_a_team_the_routing_rules_name_warns(client, db, auth):
    billing, general = create(client, auth, name="Billing"), create(client, auth, name="General")
    response = client.patch(f"/api/admin/teams/{billing['id']}", json={"name": "Payments"}, headers=auth)
    assert response.status_code == 200
    renamed = response.get_json()
    assert renamed["name"] == "Payments"
    # The default bot settings route to "Billing" by a routing rule and three urgent topics.
    assert renamed["warnings"] == [
        "routing rules name teams by name: routing_rules[0], urgent_topics 'chargeback', urgent_topics 'refund', "
        "urgent_topics 'billing_error' of the bot settings still name 'Billing'; until they name 'Payments' "
        "(PATCH /api/admin/bot-settings), the conversations they route go to a new, empty team 'Billing'"]
    default = client.patch(f"/api/admin/teams/{general['id']}", json={"name": "Front desk"}, headers=auth)
    assert "default_team of the bot settings still name 'General'" in default.get_json()["warnings"][0]
    quiet = client.patch(f"/api/admin/teams/{general['id']}", json={"name": "Reception"}, headers=auth)
    assert quiet.get_json()["warnings"] == []
    assert audit(db)[2:] == [{"team_id": billing["id"], "changed": ["name"]},
                             {"team_id": general["id"], "changed": ["name"]},
                             {"team_id": general["id"], "changed": ["name"]}]


def test_renaming_to_another_teams_name_is_409_but_a_change_of_case_is_not(client, db, auth):
    billing, sales = create(client, auth, name="billing"), create(client, auth, name="Sales")
    taken = client.patch(f"/api/admin/teams/{sales['id']}", json={"name": "BILLING"}, headers=auth)
    assert taken.status_code == 409
    assert "another team is already named 'BILLING'" in taken.get_json()["error"]
    recased = client.patch(f"/api/admin/teams/{billing['id']}", json={"name": "Billing"}, headers=auth)
    assert recased.status_code == 200
    # The rules say "Billing": they name it now.
    assert recased.get_json()["warnings"] == []
    assert sorted(row["name"] for row in fetch_all(db, "SELECT name FROM teams")) == ["Billing", "Sales"]


# --- members ----------------------------------------------------------------------------------


def member_ids(team: dict) -> list[int]:
    return [member["id"] for member in team["members"]]


def test_put_members_replaces_them(client, db, admin, auth, maya, bob):
    team = create(client, auth, name="Billing")
    path = f"/api/admin/teams/{team['id']}/members"
    first = client.put(path, json={"agent_ids": [maya["id"], bob["id"], maya["id"]]}, headers=auth)
    assert first.status_code == 200
    assert member_ids(first.get_json()) == [maya["id"], bob["id"]]
    second = client.put(path, json={"agent_ids": [bob["id"], admin["id"]]}, headers=auth).get_json()
    assert member_ids(second) == [admin["id"], bob["id"]]
    client.put(path, json={"agent_ids": [admin["id"], bob["id"]]}, headers=auth)     # no change
    assert audit(db)[1:] == [
        {"team_id": team["id"], "changed": ["members"], "added": [maya["id"], bob["id"]], "removed": []},
        {"team_id": team["id"], "changed": ["members"], "added": [admin["id"]], "removed": [maya["id"]]}]


def test_put_members_names_unknown_agents_and_changes_nothing(client, db, auth, maya):
    team = create(client, auth, name="Billing")
    response = client.put(f"/api/admin/teams/{team['id']}/members", json={"agent_ids": [maya["id"], 99, "x"]},
                          headers=auth)
    assert response.status_code == 400
    assert response.get_json()["details"] == {"agent_ids": {"2": ["Not a valid integer."]}}
    response = client.put(f"/api/admin/teams/{team['id']}/members", json={"agent_ids": [maya["id"], 99]},
                          headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"error": "unknown agent", "details": {"agent_ids": {"1": ["no agent 99"]}}}
    assert fetch_all(db, "SELECT * FROM agent_teams") == []


def test_post_and_delete_one_member(client, db, auth, maya):
    team = create(client, auth, name="Billing")
    path = f"/api/admin/teams/{team['id']}/members/{maya['id']}"
    added = client.post(path, headers=auth)
    assert added.status_code == 200
    assert member_ids(added.get_json()) == [maya["id"]]
    assert client.post(path, headers=auth).status_code == 200          # already a member: no change
    removed = client.delete(path, headers=auth)
    assert removed.status_code == 200
    assert removed.get_json()["members"] == []
    again = client.delete(path, headers=auth)
    assert (again.status_code, again.get_json()) == (404, {
        "error": f"agent {maya['id']} is not a member of team {team['id']}"})
    assert audit(db)[1:] == [
        {"team_id": team["id"], "changed": ["members"], "added": [maya["id"]], "removed": []},
        {"team_id": team["id"], "changed": ["members"], "added": [], "removed": [maya["id"]]}]


def test_members_of_unknown_teams_or_agents_are_404(client, auth, maya):
    team = create(client, auth, name="Billing")
    assert client.post(f"/api/admin/teams/{team['id']}/members/99", headers=auth).get_json() == {
        "error": "no agent 99"}
    for method in ("POST", "DELETE"):
        response = client.open(f"/api/admin/teams/98/members/{maya['id']}", method=method, headers=auth)
        assert (response.status_code, response.get_json()) == (404, {"error": "no team 98"})
    assert client.put("/api/admin/teams/98/members", json={"agent_ids": []}, headers=auth).status_code == 404


# --- agents -----------------------------------------------------------------------------------


def test_agents_are_listed_with_presence_load_and_teams(client, db, auth, admin, maya):
    team = create(client, auth, name="Billing")
    client.post(f"/api/admin/teams/{team['id']}/members/{maya['id']}", headers=auth)
    with db() as conn:
        until = set_presence(conn, maya["id"], "away", ttl_seconds=3600)["presence_expires_at"]
    listed = client.get("/api/admin/agents", headers=auth).get_json()["agents"]
    assert listed == [
        {"id": admin["id"], "email": ADMIN_EMAIL, "name": "Ada Admin", "is_admin": True, "presence": "offline",
         "presence_expires_at": None, "capacity": 5, "open_conversations": 0, "teams": []},
        {"id": maya["id"], "email": "maya@example.com", "name": "Maya Lopez", "is_admin": False, "presence": "away",
         "presence_expires_at": until.isoformat(), "capacity": 5, "open_conversations": 0,
         "teams": [{"id": team["id"], "name": "Billing"}]}]


def test_patch_agent_sets_capacity_name_admin_and_teams_by_id_or_name(client, db, auth, maya):
    billing, sales = create(client, auth, name="Billing"), create(client, auth, name="Sales")
    client.post(f"/api/admin/teams/{billing['id']}/members/{maya['id']}", headers=auth)
    response = client.patch(f"/api/admin/agents/{maya['id']}", headers=auth, json={
        "capacity": 2, "name": " Maya L. ", "is_admin": True, "teams": [sales["id"], "sales", "BILLING"]})
    assert response.status_code == 200
    changed = response.get_json()
    assert (changed["capacity"], changed["name"], changed["is_admin"]) == (2, "Maya L.", True)
    assert changed["teams"] == [{"id": billing["id"], "name": "Billing"}, {"id": sales["id"], "name": "Sales"}]
    client.patch(f"/api/admin/agents/{maya['id']}", json={"teams": [], "capacity": 2}, headers=auth)
    assert fetch_all(db, "SELECT * FROM agent_teams") == []
    assert audit(db)[-2:] == [{"agent_id": maya["id"], "changed": ["capacity", "is_admin", "name", "teams"]},
                              {"agent_id": maya["id"], "changed": ["teams"]}]


BAD_AGENT_CHANGES = [
    ({"capacity": -1}, {"capacity": ["a whole number from 0 to 100"]}),
    ({"capacity": 101}, {"capacity": ["a whole number from 0 to 100"]}),
    ({"capacity": "3"}, {"capacity": ["Not a valid integer."]}),
    ({"name": ""}, {"name": ["a name of 1 to 100 characters"]}),
    ({"teams": [True, " "]}, {"teams": {"0": ["a team id or name"], "1": ["a team id or name"]}}),
    ({"presence": "online"}, {"presence": ["Unknown field."]}),
]


@pytest.mark.parametrize("body, details", BAD_AGENT_CHANGES)
def test_invalid_agent_changes_are_400(client, db, auth, maya, body, details):
    response = client.patch(f"/api/admin/agents/{maya['id']}", json=body, headers=auth)
    assert (response.status_code, response.get_json()) == (400, {"error": "invalid agent change", "details": details})
    assert fetch_one(db, "SELECT name, capacity FROM agents WHERE id = %s", maya["id"]) == {
        "name": "Maya Lopez", "capacity": 5}


def test_unknown_teams_in_an_agent_change_are_named(client, db, auth, maya):
    create(client, auth, name="Billing")
    response = client.patch(f"/api/admin/agents/{maya['id']}", json={"teams": ["Billing", "Nope", 42],
                                                                      "capacity": 1}, headers=auth)
    assert response.status_code == 400
    assert response.get_json() == {"error": "unknown team", "details": {
        "teams": {"1": ["no team 'Nope'"], "2": ["no team 42"]}}}
    assert fetch_one(db, "SELECT capacity FROM agents WHERE id = %s", maya["id"])["capacity"] == 5


def test_an_admin_cannot_remove_their_own_admin_flag_but_can_another_admins(client, db, admin, auth, maya):
    own = client.patch(f"/api/admin/agents/{admin['id']}", json={"is_admin": False}, headers=auth)
    assert own.status_code == 409
    assert own.get_json() == {"error": "you cannot remove your own admin flag: another admin can"}
    assert client.patch(f"/api/admin/agents/{admin['id']}", json={"capacity": 3}, headers=auth).status_code == 200
    client.patch(f"/api/admin/agents/{maya['id']}", json={"is_admin": True}, headers=auth)
    demoted = client.patch(f"/api/admin/agents/{maya['id']}", json={"is_admin": False}, headers=auth)
    assert (demoted.status_code, demoted.get_json()["is_admin"]) == (200, False)
    assert fetch_one(db, "SELECT is_admin FROM agents WHERE id = %s", admin["id"])["is_admin"] is True


def test_an_unknown_agent_is_404(client, auth):
    response = client.patch("/api/admin/agents/99", json={"capacity": 1}, headers=auth)
    assert (response.status_code, response.get_json()) == (404, {"error": "no agent 99"})
