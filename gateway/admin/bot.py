"""The bot settings as an admin saves them (the settings page, the admin API,
`handoff settings set`): merged into the current document or replacing it,
validated whole, and audited with the top-level keys that changed."""

from __future__ import annotations

from marshmallow import ValidationError

from gateway.admin.audit import changed_keys, record_change
from gateway.bot.settings import load_bot_settings, save_bot_settings
from gateway.errors import ApiError


def save_settings(conn, document: dict, *, merge: bool, agent_id: int | None) -> tuple[dict, list[str]]:
    """(the stored document, the top-level keys that changed). merge: the
    document's top-level keys replace the current ones, the others stay;
    otherwise the document replaces everything (what it leaves out takes the
    defaults)."""
    if not isinstance(document, dict):
        raise ApiError(400, "invalid bot settings", {"_schema": ["the bot settings are a JSON object"]})
    # Serializes concurrent edits, so that a merge never undoes another one.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('handoff:bot-settings'))")
    current = load_bot_settings(conn)
    try:
        saved = save_bot_settings(conn, {**current, **document} if merge else document)
    except ValidationError as error:
        raise ApiError(400, "invalid bot settings", error.messages) from None
    changed = changed_keys(current, saved)
    if changed:
        record_change(conn, agent_id, {"settings": "bot", "changed": changed})
    return saved, changed
