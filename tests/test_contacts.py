"""Contacts across channels: one person per phone number, one identity per
channel address, one open conversation per identity."""

import threading
import time

import psycopg
from psycopg.rows import dict_row

from gateway.store.contacts import ensure_identity
from tests.helpers import (
    add_twilio_channel,
    add_whatsapp_channel,
    count,
    fetch_all,
    fetch_one,
    post_twilio,
    whatsapp_form,
)

WEBHOOK = "/webhooks/twilio/whatsapp"
SUPPORT, SALES = "whatsapp:+14155238886", "whatsapp:+14155550100"
SALES_TOKEN = "sales-auth-token"


def add_two_numbers(db):
    support = add_whatsapp_channel(db, SUPPORT, name="Support")
    sales = add_twilio_channel(db, SALES, account_sid="AC" + "2" * 32, token=SALES_TOKEN, name="Sales")
    return support, sales


def test_same_phone_on_two_numbers_is_one_contact_with_two_identities_and_conversations(client, db):
    support, sales = add_two_numbers(db)

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, to=SUPPORT, ProfileName="Ada Lovelace"))
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, to=SALES, ProfileName="Ada Lovelace"),
                token=SALES_TOKEN)

    [contact] = fetch_all(db, "SELECT * FROM contacts")
    assert (contact["name"], contact["phone"]) == ("Ada Lovelace", "+15551230001")
    identities = fetch_all(db, "SELECT * FROM contact_identities ORDER BY id")
    assert [(i["channel_id"], i["address"], i["contact_id"]) for i in identities] == [
        (support.id, "whatsapp:+15551230001", contact["id"]),
        (sales.id, "whatsapp:+15551230001", contact["id"]),
    ]
    conversations = fetch_all(db, "SELECT * FROM conversations ORDER BY id")
    assert [(c["channel_id"], c["identity_id"], c["contact_id"]) for c in conversations] == [
        (support.id, identities[0]["id"], contact["id"]),
        (sales.id, identities[1]["id"], contact["id"]),
    ]


def test_different_phones_are_different_contacts(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, sender="whatsapp:+15551230001",
                                               ProfileName="Ada"))
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, sender="whatsapp:+15551230002",
                                               ProfileName="Grace"))

    rows = fetch_all(db, "SELECT name, phone FROM contacts ORDER BY id")
    assert [(r["name"], r["phone"]) for r in rows] == [("Ada", "+15551230001"), ("Grace", "+15551230002")]
    assert count(db, "conversations") == 2


def test_new_profile_name_updates_the_identity_but_keeps_the_contact_name(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32, ProfileName="Ada Lovelace"))
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, ProfileName="Ada 🌙"))

    assert fetch_one(db, "SELECT profile_name FROM contact_identities")["profile_name"] == "Ada 🌙"
    assert fetch_one(db, "SELECT name FROM contacts")["name"] == "Ada Lovelace"


def test_contact_without_a_name_gets_the_first_profile_name_seen(client, db):
    add_whatsapp_channel(db)

    post_twilio(client, WEBHOOK, {k: v for k, v in whatsapp_form(sid="SM" + "1" * 32).items()
                                  if k != "ProfileName"})
    assert fetch_one(db, "SELECT name FROM contacts")["name"] is None
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32, ProfileName="Ada Lovelace"))

    assert fetch_one(db, "SELECT name FROM contacts")["name"] == "Ada Lovelace"
    assert count(db, "contacts") == 1


def test_message_after_a_resolved_conversation_opens_a_new_one(client, db):
    add_whatsapp_channel(db)
    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "1" * 32))
    with db() as conn:
        conn.execute("UPDATE conversations SET status = 'resolved', resolved_at = now()")

    post_twilio(client, WEBHOOK, whatsapp_form(sid="SM" + "2" * 32))

    conversations = fetch_all(db, "SELECT * FROM conversations ORDER BY id")
    assert [c["status"] for c in conversations] == ["resolved", "bot"]
    assert conversations[0]["identity_id"] == conversations[1]["identity_id"]
    latest = fetch_one(db, "SELECT conversation_id FROM messages WHERE provider_message_id = %s", "SM" + "2" * 32)
    assert latest["conversation_id"] == conversations[1]["id"]


def wait_until_blocked(database_url: str, backend_pid: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    with psycopg.connect(database_url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                      (backend_pid,)).fetchone()
            if waiting and waiting[0] == "Lock":
                return
    raise AssertionError(f"backend {backend_pid} never waited for a lock")


def test_first_messages_on_two_numbers_at_once_end_on_one_contact(db, database_url):
    support, sales = add_two_numbers(db)
    with psycopg.connect(database_url, row_factory=dict_row) as first, \
            psycopg.connect(database_url, row_factory=dict_row) as second:
        on_support = ensure_identity(first, support.id, "whatsapp:+15551230001", profile_name="Ada",
                                     phone="+15551230001")  # not committed yet
        results = {}
        racing = threading.Thread(target=lambda: results.update(sales=ensure_identity(
            second, sales.id, "whatsapp:+15551230001", profile_name="Ada", phone="+15551230001")))
        racing.start()
        wait_until_blocked(database_url, second.info.backend_pid)  # on the phone's unique index
        first.commit()
        racing.join(timeout=10)
        second.commit()

    assert not racing.is_alive()
    assert results["sales"]["contact_id"] == on_support["contact_id"]
    assert count(db, "contacts") == 1
    assert count(db, "contact_identities") == 2
