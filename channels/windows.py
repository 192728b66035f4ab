"""Messaging windows: what a business may still send a customer, and how.

- WhatsApp: free text only within 24 hours of the customer's last message;
  after that, only an approved template (a Twilio Content SID).
- Messenger: anything (messaging_type RESPONSE) within 24 hours; from 24 hours
  to 7 days only a human agent, with the HUMAN_AGENT tag; after 7 days nothing.
- Web widget: no window; the visitor reads replies whenever they come back.

Pure: the caller passes the time of the customer's last message and now;
the lengths come from the channels' capabilities (channels/registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from channels.registry import capabilities

OPEN = "open"                            # free text, bot or human
TEMPLATE_REQUIRED = "template_required"  # WhatsApp after 24 h: only an approved template
HUMAN_AGENT_ONLY = "human_agent_only"    # Messenger 24 h - 7 d: a person, with the HUMAN_AGENT tag
CLOSED = "closed"                        # Messenger after 7 d (or never written): the channel cannot reach them


@dataclass(frozen=True)
class Window:
    channel_kind: str
    state: str
    # When the current state ends (the next, stricter state begins); None if it never does.
    closes_at: datetime | None
    explanation: str

    @property
    def bot_may_send(self) -> bool:
        return self.state == OPEN

    @property
    def agent_free_text(self) -> bool:
        """May a person send free text now (with messenger_tag, on Messenger)?"""
        return self.state in (OPEN, HUMAN_AGENT_ONLY)

    @property
    def messenger_tag(self) -> str | None:
        """The tag a person's reply carries now (bot messages never carry one)."""
        return "HUMAN_AGENT" if self.state == HUMAN_AGENT_ONLY else None

    def as_json(self) -> dict:
        return {"channel": self.channel_kind, "state": self.state, "bot_may_send": self.bot_may_send,
                "agent_free_text": self.agent_free_text, "messenger_tag": self.messenger_tag,
                "closes_at": self.closes_at.isoformat() if self.closes_at else None,
                "explanation": self.explanation}


def window_state(channel_kind: str, last_customer_message_at: datetime | None, now: datetime) -> Window:
    channel = capabilities(channel_kind)
    if channel.window is None:
        return Window(channel_kind, OPEN, None, f"The {channel.label.lower()} has no messaging window.")
    if last_customer_message_at is None:
        return Window(channel_kind, TEMPLATE_REQUIRED if channel.templates else CLOSED, None,
                      "The customer has never written on this channel.")
    standard_end = last_customer_message_at + channel.window
    if now < standard_end:
        return Window(channel_kind, OPEN, standard_end, "Within 24 hours of the customer's last message.")
    if channel.templates:
        return Window(channel_kind, TEMPLATE_REQUIRED, None,
                      f"More than 24 hours since the customer's last message: {channel.label} only allows an "
                      "approved template until they write again.")
    human_end = last_customer_message_at + channel.human_agent_window if channel.human_agent_window else None
    if human_end and now < human_end:
        return Window(channel_kind, HUMAN_AGENT_ONLY, human_end,
                      "Between 24 hours and 7 days since the customer's last message: only a person may reply "
                      f"({channel.label}'s HUMAN_AGENT tag).")
    return Window(channel_kind, CLOSED, None,
                  f"More than 7 days since the customer's last message: {channel.label} no longer delivers "
                  "replies until they write again.")
