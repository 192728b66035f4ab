"""WhatsApp message templates: what a business may send outside the 24-hour window.

A channel's templates live in its settings (channels.settings["templates"]),
each one a Twilio Content template the business had approved by WhatsApp:

    {"name": "follow_up",                       # how agents and the API call it (unique per channel)
     "content_sid": "HX0123...",                 # Twilio's Content SID: HX + 32 hex digits
     "variables": ["customer_name", "agent_name"],  # what {{1}}, {{2}}... stand for, in order
     "body": "Hi {{1}}, this is {{2}} following up on your request. Reply to continue."}

The body is the approved text: it is what the agent sees and what the
transcript keeps; Twilio sends the approved content itself, given only the
Content SID and the values of the variables (PROTOCOLS.md §1).

Also here: explain_error() and failure_message(), the words an agent reads
for a Twilio error code a WhatsApp send can fail with (63016: outside the
24-hour window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# WhatsApp's limit on a template's body text.
BODY_MAX = 1024
# Twilio refuses (21658) a variable value longer than this.
VALUE_MAX = 1600


class TemplateError(ValueError):
    """A template cannot be rendered with the values given (a value is missing, say)."""


@dataclass(frozen=True)
class Template:
    name: str
    content_sid: str
    variables: tuple[str, ...]
    body: str

    def as_json(self) -> dict:
        return {"name": self.name, "content_sid": self.content_sid, "variables": list(self.variables),
                "body": self.body}


class TemplateSchema(Schema):
    name = fields.String(required=True, validate=[
        validate.Length(min=1, max=64, error="a name of 1 to 64 characters"),
        validate.Regexp(NAME, error="lowercase letters, digits, - and _, like follow_up")])
    content_sid = fields.String(required=True, validate=validate.Regexp(
        CONTENT_SID, error="a Twilio Content SID: HX followed by 32 hexadecimal digits (see Content Template Builder)"))
    variables = fields.List(fields.String(validate=validate.Regexp(
        VARIABLE, error="lowercase letters, digits and _, starting with a letter, like customer_name")),
        load_default=list, validate=validate.Length(max=20, error="at most 20 variables"))
    body = fields.String(required=True, validate=validate.Length(
        min=1, max=BODY_MAX, error=f"the approved text, 1 to {BODY_MAX} characters"))

    @validates_schema
    def placeholders_match_variables(self, data, **kwargs):
        variables = data.get("variables") or []
        if len(set(variables)) != len(variables):
            raise ValidationError("each variable is named once", "variables")
        if "body" not in data:
            return
        used = {int(number) for number in PLACEHOLDER.findall(data["body"])}
        expected = set(range(1, len(variables) + 1))
        if used - expected:
            raise ValidationError(
                f"the body uses {_placeholders(used - expected)} but only {len(variables)} variable(s) are "
                f"named: name one --variable per placeholder, in order", "body")
        if expected - used:
            raise ValidationError(
                f"the body never uses {_placeholders(expected - used)}: every named variable must appear "
                f"in the body", "body")

    @post_load
    def make_template(self, data, **kwargs) -> Template:
        return Template(name=data["name"], content_sid=data["content_sid"], variables=tuple(data["variables"]),
                        body=data["body"])


class TemplateListSchema(Schema):
    """A channel's whole list of templates (the admin API's PUT body)."""

    templates = fields.List(fields.Nested(TemplateSchema), required=True)

    @validates_schema
    def names_are_unique(self, data, **kwargs):
        names = [template.name for template in data.get("templates", [])]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValidationError(f"template names must be unique on a channel: {', '.join(repeated)}", "templates")


def _placeholders(numbers: Iterable[int]) -> str:
    return ", ".join("{{%d}}" % number for number in sorted(numbers))


def load_templates(settings: Mapping) -> list[Template]:
    """The templates of a channel's settings. They were validated when saved
    (admin API, CLI), so a ValidationError here means a hand-edited row."""
    return TemplateListSchema().load({"templates": settings.get("templates") or []})["templates"]


def templates_setting(templates: Iterable[Template]) -> list[dict]:
    """The templates as channels.settings["templates"] stores them."""
    return [template.as_json() for template in templates]


def find_template(templates: Iterable[Template], name: str) -> Template | None:
    return next((template for template in templates if template.name == name), None)


def render(template: Template, values: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The text the customer will read and Twilio's ContentVariables ({"1": ..., "2": ...}).

    Whitespace in a value is collapsed to single spaces: Twilio refuses
    (21656) a value with a newline, a tab or a long run of spaces.
    """
    content_variables = {}
    for number, variable in enumerate(template.variables, start=1):
        value = " ".join(str(values.get(variable) or "").split())
        if not value:
            raise TemplateError(f"the template {template.name} needs a value for {variable} ({{{{{number}}}}})")
        if len(value) > VALUE_MAX:
            raise TemplateError(f"the value of {variable} is longer than {VALUE_MAX} characters")
        content_variables[str(number)] = value
    text = PLACEHOLDER.sub(lambda match: content_variables[str(int(match.group(1)))], template.body)
    return text, content_variables


def message_metadata(template: Template, content_variables: Mapping[str, str]) -> dict:
    """What an outbound message's metadata carries for the send job to send this template."""
    return {"template": {"name": template.name, "content_sid": template.content_sid,
                         "variables": dict(content_variables)}}


# Twilio error codes an agent can act on, in their terms.
ERROR_EXPLANATIONS = {
    "63016": "Outside WhatsApp's 24-hour window: use an approved template (the customer has not written "
             "for more than 24 hours).",
    "63028": "The template's variables do not match the approved template: check the channel's template "
             "(its variables and Content SID) against Twilio's Content Template Builder.",
    "21656": "Twilio refused the template's variable values: a value is empty or malformed.",
    "63015": "This number is Twilio's WhatsApp Sandbox: it only reaches people who joined the sandbox "
             "(in the last 3 days).",
}


def explain_error(code: str | None) -> str | None:
    """What a Twilio error code means for the agent, or None for codes without advice."""
    return ERROR_EXPLANATIONS.get(str(code)) if code is not None else None


def failure_message(code: str | None, provider_message: str | None) -> str | None:
    """What a failed message shows the agent: the explanation of its code, if
    there is one, then the provider's own words."""
    explanation = explain_error(code)
    if explanation and provider_message:
        return f"{explanation} (Twilio: {provider_message})"
    return explanation or provider_message
