"""What an agent may see: one rule for the inbox pages and their fragments,
the agent API and the live streams.

An admin sees everything. Any other agent sees a conversation of one of
their teams, of no team, or assigned to them; a ticket of one of their
teams or of no team. Lists filter with the same rule in SQL
(store.conversations.VISIBLE_TO), fed by Access.sql_params().
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import ApiError
from gateway.store import conversations, teams, tickets


@dataclass(frozen=True)
class Access:
    agent_id: int
    team_ids: frozenset[int] | None       # None: every team (an admin)

    def sees(self, team_id: int | None, assignee_id: int | None = None) -> bool:
        """Whether the agent sees what belongs to `team_id` (and is assigned to `assignee_id`)."""
        return self.team_ids is None or team_id is None or team_id in self.team_ids \
            or assignee_id == self.agent_id

    def sees_conversation(self, conversation: dict) -> bool:
        return self.sees(conversation["team_id"], conversation["assignee_id"])

    def sql_params(self) -> dict:
        """The parameters of store.conversations.VISIBLE_TO."""
        return {"visible_all": self.team_ids is None, "visible_team_ids": sorted(self.team_ids or ()),
                "visible_agent_id": self.agent_id}


def access_of(conn, agent: dict) -> Access:
    if agent["is_admin"]:
        return Access(agent["id"], None)
    return Access(agent["id"], frozenset(teams.team_ids_of(conn, agent["id"])))


def visible_team_ids(conn, agent: dict) -> list[int]:
    """The teams whose queues the agent sees: all of them for an admin."""
    if agent["is_admin"]:
        return teams.all_team_ids(conn)
    return teams.team_ids_of(conn, agent["id"])


def seen_conversation(conn, agent: dict, conversation_id: int, *, lock: bool = False) -> dict:
    """The conversation (locked until commit if asked), or 404 / 403."""
    if lock:
        conversation = conversations.lock_conversation(conn, conversation_id)
    else:
        conversation = conversations.get_conversation(conn, conversation_id)
    if conversation is None:
        raise ApiError(404, f"no conversation {conversation_id}")
    if not access_of(conn, agent).sees_conversation(conversation):
        raise ApiError(403, f"conversation {conversation_id} belongs to a team you are not in")
    return conversation


def seen_ticket(conn, agent: dict, number: int) -> dict:
    """The ticket, or 404 / 403."""
    ticket = tickets.get_ticket(conn, number)
    if ticket is None:
        raise ApiError(404, f"no ticket #{number}")
    if not access_of(conn, agent).sees(ticket["team_id"]):
        raise ApiError(403, f"ticket #{number} belongs to a team you are not in")
    return ticket
