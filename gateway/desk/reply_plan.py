"""How an agent's reply will reach the customer, decided before it is sent.

The agent API shows the plan with each conversation ("reply_options") and
refuses a reply the plan cannot carry (409 with plan.error), so the agent
learns which way a reply will go, or why it cannot, before sending it:

- web chat: always in the chat;
- inside the channel's window: on the channel (WhatsApp: a template too, if
  the agent picks one);
- WhatsApp after 24 hours: only an approved template; free text is refused
  with the template(s) to use, and email is offered when the customer's
  address is known;
- Messenger from 24 hours to 7 days: on Messenger with the HUMAN_AGENT tag;
- a channel that can carry nothing (Messenger after 7 days, WhatsApp after 24
  hours with no template configured): by email when the address is known,
  otherwise not at all until the customer writes again.

The agent may also choose email (`by_email`) whenever an address is known.
Pure: the caller passes the window (channels.windows), the channel's
templates (channels.templates) and the customer's email.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from channels.base import Capabilities
from channels.registry import KINDS, capabilities
from channels.templates import Template, find_template
from channels.windows import HUMAN_AGENT_ONLY, OPEN, Window

VIA_CHANNEL = "channel"
VIA_TEMPLATE = "template"
VIA_EMAIL = "email"
VIA_NONE = "none"

TEMPLATE_CHANNELS = " and ".join(capabilities(kind).label for kind in KINDS if capabilities(kind).templates)
ADD_TEMPLATE_HINT = ("an admin can add an approved template with `handoff channel template add` or "
                     "PUT /api/admin/channels/<id>/templates")


@dataclass(frozen=True)
class ReplyPlan:
    via: str                           # channel | template | email | none
    messenger_tag: str | None          # HUMAN_AGENT when a Messenger reply needs it
    template: Template | None          # the template that will go (via template), or the one to use
    explanation: str                   # one sentence for the agent
    error: str | None                  # None when the reply can go as asked; else why not (HTTP 409)
    email: str | None = None           # where an email reply goes, or the address offered instead
    templates: tuple[Template, ...] = ()  # the templates the agent may send now (WhatsApp)

    def as_json(self) -> dict:
        return {"via": self.via, "messenger_tag": self.messenger_tag,
                "template": self.template.as_json() if self.template else None,
                "explanation": self.explanation, "error": self.error, "email": self.email,
                "templates": [template.as_json() for template in self.templates]}


def plan_reply(*, channel_kind: str, window: Window, templates: Iterable[Template], contact_email: str | None,
               template_name: str | None = None, by_email: bool = False) -> ReplyPlan:
    """How a reply will go: free text (no template_name), the named template, or
    (by_email) an email to contact_email."""
    channel = capabilities(channel_kind)
    usable = tuple(templates) if channel.templates else ()
    free_text = _free_text_plan(channel, window, usable, contact_email)
    if by_email and template_name is not None:
        return _refused(free_text, "Choose either a template or an email reply, not both.")
    if by_email:
        if not contact_email:
            return _refused(free_text, "No email address is known for this customer: reply on "
                                       f"{channel.in_sentence} instead.")
        return ReplyPlan(VIA_EMAIL, None, None, f"Your reply will be sent by email to {contact_email}.", None,
                         contact_email, usable)
    if template_name is None:
        return free_text
    if not channel.templates:
        return _refused(free_text, f"Templates are only for {TEMPLATE_CHANNELS}: send your reply as text.")
    template = find_template(usable, template_name)
    if template is None:
        configured = (f"use {_names(usable)}" if usable else f"none is configured ({ADD_TEMPLATE_HINT})")
        return _refused(free_text, f"This channel has no template named {template_name}: {configured}.")
    when = ("Within 24 hours of the customer's last message" if window.state == OPEN
            else f"Outside {channel.label}'s 24-hour window")
    return ReplyPlan(VIA_TEMPLATE, None, template, f"{when}: the template {template.name} will be sent.", None,
                     contact_email, usable)


def _free_text_plan(channel: Capabilities, window: Window, templates: tuple[Template, ...],
                    contact_email: str | None) -> ReplyPlan:
    if channel.window is None:
        return ReplyPlan(VIA_CHANNEL, None, None, f"Your reply appears in the customer's {channel.label.lower()}.",
                         None, contact_email)
    if window.state == OPEN:
        return ReplyPlan(VIA_CHANNEL, None, None, "Within 24 hours of the customer's last message: your reply "
                         f"goes out on {channel.in_sentence}.", None, contact_email, templates)
    if window.state == HUMAN_AGENT_ONLY:
        return ReplyPlan(VIA_CHANNEL, window.messenger_tag, None, "Between 24 hours and 7 days since the "
                         f"customer's last message: your reply goes out on {channel.in_sentence} with the "
                         "HUMAN_AGENT tag.", None, contact_email)
    if templates:
        what_to_send = f"send {_names(templates)}" + (f" (or reply by email to {contact_email})"
                                                       if contact_email else "")
        return ReplyPlan(VIA_TEMPLATE, None, templates[0],
                         f"Outside {channel.label}'s 24-hour window: {what_to_send}.",
                         f"Free text cannot reach the customer on {channel.in_sentence} more than 24 hours after "
                         f"their last message: {what_to_send}.", contact_email, templates)
    closed = (f"Outside {channel.label}'s 24-hour window and no template is configured" if channel.templates
              else f"{channel.label}'s window is closed (no message from the customer in the last 7 days)")
    if contact_email:
        return ReplyPlan(VIA_EMAIL, None, None, f"{closed}: your reply will be sent by email to {contact_email}.",
                         None, contact_email)
    hint = f"; {ADD_TEMPLATE_HINT}" if channel.templates else ""
    sentence = (f"{closed}, and no email address is known: the customer cannot be reached until they write "
                f"again{hint}.")
    return ReplyPlan(VIA_NONE, None, None, sentence, sentence)


def _refused(plan: ReplyPlan, error: str) -> ReplyPlan:
    """The plan for what can be done, with why the reply asked for cannot."""
    return replace(plan, error=error)


def _names(templates: tuple[Template, ...]) -> str:
    if len(templates) == 1:
        return f"the template {templates[0].name}"
    return "one of the templates " + ", ".join(template.name for template in templates)
