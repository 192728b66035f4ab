"""An agent's reply: how it will reach the customer (reply_plan.py decides
from the channel, its messaging window, the templates and the customer's
email), and sending it, which takes the conversation (a claim, or a hybrid
takeover) and silences the bot from the first human word.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from channels.registry import capabilities
from channels.templates import Template, TemplateError, load_templates, message_metadata, render
from channels.windows import Window, window_state
from gateway.desk import access
from gateway.desk.actions import announce_if_reachable, held_by_other, now_utc, resolved_refusal, take
from gateway.desk.reply_plan import VIA_EMAIL, VIA_TEMPLATE, ReplyPlan, plan_reply
from gateway.effects import Effects
from gateway.errors import ApiError
from gateway.events import emit
from gateway.handoff import wording
from gateway.store import contacts, conversations, messages, teams, tickets
from gateway.store.channels import ChannelRow, get_channel

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ReplyContext:
    """What decides how a reply reaches the customer."""

    channel: ChannelRow
    window: Window
    templates: tuple[Template, ...]
    email: str | None
    ticket: dict | None  # the conversation's ticket that is not closed


def reply_context(conn, conversation: dict, now: datetime) -> ReplyContext:
    channel = get_channel(conn, conversation["channel_id"])
    ticket = tickets.ticket_of_conversation(conn, conversation["id"])
    if ticket is not None and ticket["status"] == "closed":
        ticket = None
    contact = contacts.get_contact(conn, conversation["contact_id"])
    collected = (conversation["collected"] or {}).get("emails") or []
    email = (ticket and ticket["reply_email"]) or contact["email"] or (collected[-1] if collected else None)
    return ReplyContext(
        channel=channel,
        window=window_state(channel.kind, conversation["last_customer_message_at"], now),
        templates=tuple(load_templates(channel.settings)) if capabilities(channel.kind).templates else (),
        email=email, ticket=ticket)


def plan_for(context: ReplyContext, *, template_name: str | None = None, by_email: bool = False) -> ReplyPlan:
    return plan_reply(channel_kind=context.channel.kind, window=context.window, templates=context.templates,
                      contact_email=context.email, template_name=template_name, by_email=by_email)


def reply(conn, agent: dict, conversation_id: int, *, text: str | None = None, template_name: str | None = None,
          variables: dict | None = None, by_email: bool = False,
          email_configured: bool = True) -> tuple[int, ReplyPlan, Effects]:
    """The agent's reply (free text, a WhatsApp template, or an email), sent
    the way plan_reply decides; returns (message id, plan, effects)."""
    conversation = access.seen_conversation(conn, agent, conversation_id, lock=True)
    effects = Effects(conversation_id)
    refusal = reply_refusal(conn, conversation, agent)
    if refusal is not None:
        raise refusal
    context = reply_context(conn, conversation, now_utc())
    plan = plan_for(context, template_name=template_name, by_email=by_email)
    if plan.error:
        raise ApiError(409, plan.error, {"reply_options": plan.as_json()})
    if plan.via == VIA_EMAIL and not by_email:
        raise ApiError(409, f"{plan.explanation} Send it again with by_email: true to confirm.",
                          {"reply_options": plan.as_json()})
    if plan.via == VIA_EMAIL and not email_configured:
        raise ApiError(409, "email cannot be sent: SMTP_URL is not configured", {"reply_options": plan.as_json()})
    text, metadata = _reply_content(conn, conversation, context, plan, text, variables or {})

    if conversation["status"] != "assigned":
        reason = "took_over" if conversation["status"] == "bot" else "claimed_by_reply"
        conversation = take(conn, conversation, agent, effects, reason=reason)
    if plan.via != VIA_EMAIL:
        announce_if_reachable(conn, conversation, agent, effects)
    message_id = messages.insert_outbound(conn, conversation_id=conversation_id, channel_id=conversation["channel_id"],
                                          sender="agent", agent_id=agent["id"], text=text, metadata=metadata)
    conversations.record_agent_reply(conn, conversation_id)
    if context.ticket is not None:
        tickets.record_ticket_reply(conn, context.ticket["id"], agent["id"])
    detail = {"via": plan.via, "template": plan.template.name if plan.via == VIA_TEMPLATE else None,
              "messenger_tag": plan.messenger_tag, "email": plan.email if plan.via == VIA_EMAIL else None}
    emit(conn, effects, "agent.replied", conversation_id=conversation_id, message_id=message_id,
         agent_id=agent["id"], detail=detail)
    effects.send(message_id)
    emit(conn, effects, "message.created", conversation_id=conversation_id, message_id=message_id,
         team_id=conversation["team_id"],
         data={"message_id": message_id, "conversation_id": conversation_id, "sender": "agent",
               "agent_id": agent["id"], "agent": agent["name"], "text": text, "via": plan.via,
               "created_at": now_utc()})
    log.info("conversation %s: agent %s replied (via %s)", conversation_id, agent["id"], plan.via)
    return message_id, plan, effects


def reply_refusal(conn, conversation: dict, agent: dict) -> ApiError | None:
    """Why the agent may not reply to the conversation as it is, or None."""
    if conversation["status"] == "resolved":
        return resolved_refusal(conversation, "reply")
    if conversation["status"] == "assigned" and conversation["assignee_id"] != agent["id"]:
        return held_by_other(conn, conversation)
    if conversation["status"] == "bot" and conversation["mode"] != "hybrid":
        return ApiError(409, f"conversation {conversation['id']} is on a {conversation['mode']} channel: the bot "
                                "answers it until it is escalated (people may take over a bot conversation only "
                                "on hybrid channels)", {"mode": conversation["mode"]})
    return None


def _reply_content(conn, conversation: dict, context: ReplyContext, plan: ReplyPlan, text: str | None,
                   variables: dict) -> tuple[str, dict]:
    """The message's text and the metadata the send job acts on."""
    if plan.via == VIA_TEMPLATE:
        try:
            rendered, content_variables = render(plan.template, variables)
        except TemplateError as error:
            raise ApiError(400, "invalid reply", {"variables": [str(error)]}) from None
        return rendered, message_metadata(plan.template, content_variables)
    if plan.via == VIA_EMAIL:
        return text, {"via": "email", "to": plan.email, "subject": _email_subject(conn, conversation, context)}
    limit = capabilities(context.channel.kind).text_limit
    if len(text) > limit:
        raise ApiError(400, "invalid reply", {"text": [f"at most {limit} characters on {context.channel.kind}"]})
    return text, {}


def _email_subject(conn, conversation: dict, context: ReplyContext) -> str:
    team = teams.get_team(conn, conversation["team_id"]) if conversation["team_id"] else None
    return wording.reply_email_subject(ticket=context.ticket, team_name=team and team["name"],
                                       language=wording.language_of(conversation))
