"""The report's figures against a hand-counted week (Monday 2026-11-02 to
Sunday 2026-11-08, UTC), edge cases included: a conversation reopened and
resolved twice, one escalated twice, a contact escalated again within 7 days,
ratings of conversations outside the window, small talk, a missed chat with
two ladder steps. Checked through `build_report`, `handoff report --json`,
the admin API, the page and its CSV exports.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from gateway.cli import main
from gateway.reporting.figures import Range, build_report
from gateway.store import contacts, conversations
from gateway.store.channels import create_channel
from gateway.store.teams import ensure_team, update_team
from tests.helpers import add_agent, log_in

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
WEEK = Range(date(2026, 11, 2), date(2026, 11, 8))
# Closed every hour of every day: escalations to it are outside business hours.
NEVER_OPEN = {"timezone": "UTC", "weekly": {}}


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Week:
    """Builds the fixture: conversations, messages, events and tickets at given times."""

    def __init__(self, conn):
        self.conn = conn
        self.whatsapp = create_channel(conn, kind="whatsapp", name="WhatsApp", address="whatsapp:+14155238886",
                                       credentials={})
        self.messenger = create_channel(conn, kind="messenger", name="Page", address="1234", credentials={})
        self.billing = ensure_team(conn, "Billing")
        self.night = ensure_team(conn, "Night")
        update_team(conn, self.night, hours=NEVER_OPEN)
        self.agent = add_agent(lambda: _same(conn), email="ada@example.com", name="Ada Agent")

    def conversation(self, channel, contact: str, created: datetime, *, team: int, status: str = "bot",
                     escalated: datetime | None = None, replied: datetime | None = None, csat: int | None = None,
                     resolved: datetime | None = None) -> int:
        identity = contacts.ensure_identity(self.conn, channel.id, contact, profile_name=contact)
        conversation_id = conversations.open_conversation_for(
            self.conn, channel_id=channel.id, contact_id=identity["contact_id"], identity_id=identity["id"],
            mode="bot_only", team_id=team)["id"]
        self.conn.execute(
            "UPDATE conversations SET created_at = %s, status = %s, escalated_at = %s, first_agent_reply_at = %s, "
            "csat = %s, resolved_at = %s, team_id = %s WHERE id = %s",
            (created, status, escalated, replied, csat, resolved, team, conversation_id))
        return conversation_id

    def message(self, conversation_id: int, channel, sender: str, text: str, when: datetime, **columns) -> int:
        row = {"conversation_id": conversation_id, "channel_id": channel.id, "sender": sender, "text": text,
               "created_at": when, "direction": "inbound" if sender == "customer" else "outbound",
               "status": "received" if sender == "customer" else "sent",
               **{key: Jsonb(value) if isinstance(value, (dict, list)) else value for key, value in columns.items()}}
        return self.conn.execute(
            f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))}) RETURNING id",
            list(row.values())).fetchone()["id"]

    def event(self, kind: str, conversation_id: int, when: datetime, message_id: int | None = None,
              agent_id: int | None = None, **detail) -> None:
        self.conn.execute("INSERT INTO events (kind, conversation_id, message_id, agent_id, detail, created_at) "
                          "VALUES (%s, %s, %s, %s, %s, %s)",
                          (kind, conversation_id, message_id, agent_id, Jsonb(detail), when))

    def ticket(self, conversation_id: int, team: int, created: datetime, due: datetime,
               closed: datetime | None = None) -> None:
        contact_id = self.conn.execute("SELECT contact_id FROM conversations WHERE id = %s",
                                       (conversation_id,)).fetchone()["contact_id"]
        self.conn.execute(
            "INSERT INTO tickets (conversation_id, contact_id, team_id, subject, status, created_at, due_at, closed_at) "
            "VALUES (%s, %s, %s, 'help', %s, %s, %s, %s)",
            (conversation_id, contact_id, team, "closed" if closed else "open", created, due, closed))


class _same:
    """A db() stand-in that reuses one open connection (add_agent wants a context manager factory)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        return False


@pytest.fixture
def week(db):
    with db() as conn:
        w = Week(conn)
        ada = w.agent["id"]
        wa, page = w.whatsapp, w.messenger

        # C1: the bot alone (resolved, no rating); small talk is not an unanswered question.
        c1 = w.conversation(wa, "whatsapp:+15550000001", at(2, 10), team=w.billing, status="resolved")
        q = w.message(c1, wa, "customer", "how long does shipping take?", at(2, 10))
        w.message(c1, wa, "bot", "3 to 5 days", at(2, 10, 1), bot_confidence=0.9, reply_to_id=q,
                  metadata={"sources": ["Shipping"]})
        q = w.message(c1, wa, "customer", "thanks!", at(2, 10, 2))
        w.message(c1, wa, "bot", "You're welcome!", at(2, 10, 2), bot_confidence=0.0, reply_to_id=q,
                  metadata={"small_talk": "thanks"})

        # C2: contact B, handed over, answered in 3 minutes, resolved in an hour, rated 5.
        c2 = w.conversation(wa, "whatsapp:+15550000002", at(2, 11), team=w.billing, status="resolved",
                            escalated=at(2, 11, 5), replied=at(2, 11, 8), csat=5)
        q = w.message(c2, wa, "customer", "I want a person", at(2, 11))
        w.event("conversation.escalated", c2, at(2, 11, 5), q, rule="human_request")
        w.message(c2, wa, "agent", "Hi, Ada here", at(2, 11, 8), agent_id=ada)
        w.message(c2, wa, "agent", "a private note", at(2, 11, 6), agent_id=ada, private=True)  # not a reply
        w.event("conversation.resolved", c2, at(2, 12), agent_id=ada)

        # C3 (Messenger): the bot could not answer twice, then low_confidence; answered in 20 minutes;
        # resolved, reopened, resolved again; rated 2.
        c3 = w.conversation(page, "psid-3", at(3, 9), team=w.billing, status="resolved", escalated=at(3, 9, 10),
                            replied=at(3, 9, 30), csat=2)
        q1 = w.message(c3, page, "customer", "where is your shop?", at(3, 9))
        w.message(c3, page, "bot", "Not sure", at(3, 9, 1), bot_confidence=0.2, reply_to_id=q1,
                  metadata={"sources": ["Opening hours"]})  # not the last answer before the handoff
        q2 = w.message(c3, page, "customer", "where is your shop located?", at(3, 9, 5))
        w.message(c3, page, "bot", "Not sure", at(3, 9, 6), bot_confidence=0.1, reply_to_id=q2,
                  metadata={"sources": ["Store locations"]})
        q3 = w.message(c3, page, "customer", "what is the address of your shop?", at(3, 9, 9))
        w.event("conversation.escalated", c3, at(3, 9, 10), q3, rule="low_confidence")
        w.message(c3, page, "agent", "We are at 1 Main Street", at(3, 9, 30), agent_id=ada)
        w.event("conversation.resolved", c3, at(3, 10), agent_id=ada)
        w.event("conversation.reopened", c3, at(3, 11), agent_id=ada)
        w.event("conversation.resolved", c3, at(3, 11, 30), agent_id=ada)

        # C4: contact B again (escalated Monday: a repeat), to a closed team: a ticket, never answered, overdue;
        # a missed chat with two ladder steps.
        c4 = w.conversation(wa, "whatsapp:+15550000002", at(4, 8), team=w.night, status="ticket",
                            escalated=at(4, 8, 1))
        q = w.message(c4, wa, "customer", "my account was hacked", at(4, 8))
        w.event("conversation.escalated", c4, at(4, 8, 1), q, rule="urgent_topic")
        w.ticket(c4, w.night, at(4, 8, 1), due=at(4, 17))
        w.event("conversation.missed", c4, at(4, 8, 4))
        w.event("conversation.missed", c4, at(4, 8, 7))

        # C5: escalated twice (1 minute and 10 minutes to the replies): the second is a repeat too.
        c5 = w.conversation(wa, "whatsapp:+15550000005", at(5, 10), team=w.billing, status="resolved",
                            escalated=at(5, 10, 30), replied=at(5, 10, 2), csat=4)
        q = w.message(c5, wa, "customer", "agent please", at(5, 10))
        w.event("conversation.escalated", c5, at(5, 10, 1), q, rule="human_request")
        w.message(c5, wa, "agent", "Here", at(5, 10, 2), agent_id=ada)
        q = w.message(c5, wa, "customer", "this is ridiculous!!!", at(5, 10, 29))
        w.event("conversation.escalated", c5, at(5, 10, 30), q, rule="frustration")
        w.message(c5, wa, "agent", "Sorry", at(5, 10, 40), agent_id=ada)
        w.ticket(c5, w.billing, at(5, 10, 30), due=at(5, 12), closed=at(5, 11))
        w.event("conversation.resolved", c5, at(5, 11), agent_id=ada)

        # C6: created before the window, rated 1 (not this week's rating), resolved in the window.
        c6 = w.conversation(wa, "whatsapp:+15550000006", at(30, 9, month=10), team=w.billing, status="resolved",
                            csat=1)
        w.message(c6, wa, "customer", "old question", at(30, 9, month=10))
        w.event("conversation.resolved", c6, at(2, 9), agent_id=ada)

        # C7: after the window: counted nowhere.
        c7 = w.conversation(page, "psid-7", at(9, 0, 30), team=w.billing, status="queued", escalated=at(9, 0, 31))
        q = w.message(c7, page, "customer", "human!", at(9, 0, 30))
        w.event("conversation.escalated", c7, at(9, 0, 31), q, rule="human_request")
        return {"c3_questions": [q1, q2, q3], "billing": w.billing, "night": w.night, "messenger": page.id}


EXPECTED = {
    "conversations": 5, "customer_messages": 9,
    "bot_resolution_rate": 0.2, "handoff_rate": 0.8, "handoffs": 5,
    "handoffs_by_rule": {"human_request": 2, "frustration": 1, "low_confidence": 1, "urgent_topic": 1},
    # Waits 60, 180, 600, 1200 s (C4 never answered; the private note is no reply).
    "first_response_seconds_p50": 390.0, "first_response_seconds_p90": 1020.0, "handoffs_answered": 4,
    # Of the 4 escalations while their team was open (C4's team is closed), 2 answered within 5 minutes.
    "first_response_under_5_min_in_hours": 0.5,
    # 1800 (C3 after its reopening), 3600 (C2, C3, C5) and 259200 (C6, created 3 days before).
    "resolutions": 5, "resolution_seconds_p50": 3600.0, "resolution_seconds_p90": 156960.0,
    "missed_chats": 1, "tickets_opened": 2, "tickets_overdue": 1, "tickets_closed": 1,
    "csat_average": 3.67, "csat_responses": 3, "csat_response_rate": 0.75,
    "csat_distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
    "csat_post_handoff": 3.67, "csat_post_handoff_responses": 3,
    "repeat_escalations": 2, "unanswered_questions": 3,
}


def test_every_figure_of_the_week_as_counted_by_hand(db, week):
    with db() as conn:
        report = build_report(conn, WEEK, now=NOW)

    assert {key: report[key] for key in EXPECTED} == EXPECTED
    assert [(row["channel"], row["conversations"], row["customer_messages"], row["handoff_rate"])
            for row in report["by_channel"]] == [("WhatsApp", 4, 6, 0.75), ("Page", 1, 3, 1.0)]
    assert [(day["day"], day["conversations"], day["handoff_rate"]) for day in report["handoff_trend"]] == [
        ("2026-11-02", 2, 0.5), ("2026-11-03", 1, 1.0), ("2026-11-04", 1, 1.0), ("2026-11-05", 1, 1.0),
        ("2026-11-06", 0, None), ("2026-11-07", 0, None), ("2026-11-08", 0, None)]
    cells = {(weekday, hour): count for weekday, row in enumerate(report["heatmap"], start=1)
             for hour, count in enumerate(row) if count}
    assert cells == {(1, 10): 1, (1, 11): 1, (2, 9): 1, (3, 8): 1, (4, 10): 1}
    [ada] = report["agents"]
    assert (ada["name"], ada["replies"], ada["conversations"], ada["resolved"], ada["first_response_seconds_p50"]) == (
        "Ada Agent", 4, 3, 5, 390.0)
    # The learning loop: C3's three questions (not C1's small talk), as one group about the shop.
    assert sum(group["count"] for group in report["unanswered_groups"]) == 3
    biggest = report["unanswered_groups"][0]
    assert biggest["count"] >= 2 and "shop" in biggest["question"]
    assert set(biggest["reasons"]) <= {"low confidence", "low confidence"}
    assert report["articles_before_escalation"] == [{"title": "Store locations", "conversations": 1,
                                                     "article_id": None}]


def test_filters_by_team_and_channel(db, week):
    with db() as conn:
        night = build_report(conn, Range(WEEK.since, WEEK.until, team_id=week["night"]), now=NOW)
        page = build_report(conn, Range(WEEK.since, WEEK.until, channel_id=week["messenger"]), now=NOW)
    assert (night["conversations"], night["handoffs"], night["handoffs_by_rule"], night["tickets_opened"],
            night["missed_chats"], night["first_response_under_5_min_in_hours"]) == (
        1, 1, {"urgent_topic": 1}, 1, 1, None)
    assert (page["conversations"], page["customer_messages"], page["handoffs_by_rule"], page["csat_average"],
            page["unanswered_questions"]) == (1, 3, {"low_confidence": 1}, 2.0, 3)


def test_marking_a_group_handled_takes_it_off_the_list(db, week):
    from gateway.store.reports import mark_handled

    with db() as conn:
        assert mark_handled(conn, week["c3_questions"], None) == 3
        report = build_report(conn, WEEK, now=NOW)
    assert report["unanswered_groups"] == [] and report["unanswered_questions"] == 0


def test_handoff_report_json_prints_one_object(database_url, redis_url, week):
    result = CliRunner().invoke(main, ["report", "--since", "2026-11-02", "--until", "2026-11-08", "--json"],
                                env={"DATABASE_URL": database_url, "REDIS_URL": redis_url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    for key in ("conversations", "handoff_rate", "handoffs_by_rule", "bot_resolution_rate",
                "first_response_seconds_p50", "first_response_seconds_p90", "csat_average", "csat_responses",
                "repeat_escalations", "unanswered_groups"):
        assert key in figures, key
    assert figures["conversations"] == 5 and figures["handoff_rate"] == 0.8
    text = CliRunner().invoke(main, ["report", "--since", "2026-11-02", "--until", "2026-11-08", "--team", "Night"],
                              env={"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    assert "conversations              1" in text.output and "handoffs by urgent_topic" in text.output
    wrong = CliRunner().invoke(main, ["report", "--since", "2026-11-08", "--until", "2026-11-02"],
                               env={"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    assert wrong.exit_code == 2 and "must be on or after --since" in wrong.output


def test_the_page_the_api_and_the_csv_exports_agree(client, db, week, auth):
    api = client.get("/api/admin/reports?since=2026-11-02&until=2026-11-08", headers=auth).get_json()
    assert api["conversations"] == 5 and api["handoffs_by_rule"]["human_request"] == 2
    add_agent(db, email="boss@example.com", password="correct horse battery staple", name="Boss", is_admin=True)
    assert log_in(client, "boss@example.com").status_code == 303
    html = client.get("/reports?since=2026-11-02&until=2026-11-08").get_data(as_text=True)
    assert "80.0 %" in html and "<svg class=\"bar\"" in html and "where is your shop" in html
    figures = list(csv.reader(io.StringIO(client.get(
        "/reports/figures.csv?since=2026-11-02&until=2026-11-08").get_data(as_text=True))))
    assert ["summary", "handoff_rate", "0.8"] in figures and ["handoffs_by_rule", "human_request", "2"] in figures
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/reports/conversations.csv?since=2026-11-02&until=2026-11-08").get_data(as_text=True))))
    assert len(rows) == 5 and {row["channel"] for row in rows} == {"WhatsApp", "Page"}
    assert client.get("/reports?since=2026-11-08&until=2026-11-01").status_code == 400


def test_reports_are_for_admins_only(client, db, auth):
    add_agent(db)  # not an admin
    assert log_in(client).status_code == 303
    assert client.get("/reports").status_code == 403
    assert client.get("/settings/channels").status_code == 403
    assert client.get("/api/admin/reports").status_code == 403


def test_a_week_of_figures_in_the_browser(live_server, browser, db, week):
    add_agent(db, email="boss@example.com", password="correct horse battery staple", name="Boss", is_admin=True)
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        problems = []
        page.on("console", lambda message: message.type == "error" and problems.append(message.text))
        page.goto(f"{live_server.url}/login?next=/reports")
        page.fill("#email", "boss@example.com")
        page.fill("#password", "correct horse battery staple")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/reports")
        page.fill("#since", "2026-11-02")
        page.fill("#until", "2026-11-08")
        page.click("button:has-text('Show')")
        page.wait_for_url("**/reports?since=2026-11-02&until=2026-11-08**")
        assert "80.0 %" in page.locator(".figure", has_text="handed to people").inner_text()
        assert page.locator("svg.bar").count() > 10
        assert "where is your shop" in page.locator("#learning ~ table").first.inner_text()
        page.screenshot(path=f"/tmp/settings-reports-week-{width}.png", full_page=True)
        assert problems == []
        page.close()
