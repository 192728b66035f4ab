"""The audit row of an admin's change: which keys changed, never their values
(credentials, secrets and URLs with tokens must not end up in the audit trail)."""

from __future__ import annotations

from gateway.events import emit


def changed_keys(before: dict, after: dict) -> list[str]:
    return sorted(key for key in after.keys() | before.keys() if before.get(key) != after.get(key))


def record_change(conn, agent_id: int | None, detail: dict) -> None:
    """agent_id: the admin who did it (None: the command line)."""
    emit(conn, None, "settings.changed", agent_id=agent_id, detail=detail)
