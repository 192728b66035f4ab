"""WhatsApp templates: the schema, rendering, explain_error, the admin API
(GET/PUT /api/admin/channels/<id>/templates) and `handoff channel template`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from marshmallow import ValidationError

from channels.templates import (
    Template,
    TemplateError,
    TemplateListSchema,
    TemplateSchema,
    explain_error,
    failure_message,
    find_template,
    load_templates,
    message_metadata,
    render,
)
from gateway.cli.templates import template as template_cli
from gateway.store.agents import issue_api_token
from tests.conftest import ADMIN_EMAIL, PUBLIC_URL
from tests.helpers import (
    add_agent,
    add_messenger_channel,
    add_whatsapp_channel,
    bearer,
    csrf_from,
    fetch_all,
    fetch_one,
    log_in,
)

SID = "HX" + "0123456789abcdef" * 2
OTHER_SID = "HX" + "f" * 32
FOLLOW_UP = {"name": "follow_up", "content_sid": SID, "variables": ["customer_name", "agent_name"],
             "body": "Hi {{1}}, this is {{2}} following up on your request. Reply to continue."}
REMINDER = {"name": "reminder", "content_sid": OTHER_SID, "variables": [],
            "body": "We still have your request open. Reply to continue."}


def load(**changes) -> Template:
    return TemplateSchema().load(dict(FOLLOW_UP, **changes))


def errors_of(**changes) -> dict:
    with pytest.raises(ValidationError) as raised:
        load(**changes)
    return raised.value.messages


# --- the schema -------------------------------------------------------------------------------


def test_a_valid_template_loads_as_a_template():
    assert load() == Template("follow_up", SID, ("customer_name", "agent_name"), FOLLOW_UP["body"])


@pytest.mark.parametrize("changes, field, words", [
    ({"name": "Follow Up"}, "name", "lowercase letters"),
    ({"name": ""}, "name", "1 to 64"),
    ({"content_sid": "HX123"}, "content_sid", "32 hexadecimal digits"),
    ({"content_sid": "MG" + "a" * 32}, "content_sid", "HX followed by"),
    ({"variables": ["Customer Name", "agent_name"]}, "variables", "starting with a letter"),
    ({"body": ""}, "body", "1 to 1024"),
    ({"body": "x" * 1025}, "body", "1 to 1024"),
])
def test_invalid_fields_are_named_with_a_reason(changes, field, words):
    messages = errors_of(**changes)
    assert words in json.dumps(messages[field])


def test_unknown_fields_and_missing_fields_are_refused():
    messages = errors_of(language="en")
    assert messages["language"] == ["Unknown field."]
    with pytest.raises(ValidationError) as raised:
        TemplateSchema().load({"name": "x"})
    assert set(raised.value.messages) == {"content_sid", "body"}


def test_a_placeholder_without_a_variable_is_refused():
    messages = errors_of(variables=["customer_name"])
    assert messages["body"] == ["the body uses {{2}} but only 1 variable(s) are named: name one --variable per "
                                "placeholder, in order"]


def test_a_variable_the_body_never_uses_is_refused():
    messages = errors_of(variables=["customer_name", "agent_name", "order_number"])
    assert "never uses {{3}}" in messages["body"][0]


def test_a_variable_named_twice_is_refused():
    assert errors_of(variables=["customer_name", "customer_name"])["variables"] == ["each variable is named once"]


def test_template_names_are_unique_on_a_channel():
    with pytest.raises(ValidationError) as raised:
        TemplateListSchema().load({"templates": [FOLLOW_UP, REMINDER, dict(FOLLOW_UP, content_sid=OTHER_SID)]})
    assert raised.value.messages == {"templates": ["template names must be unique on a channel: follow_up"]}


def test_load_templates_reads_the_channel_settings():
    templates = load_templates({"templates": [FOLLOW_UP, REMINDER], "other": 1})
    assert [item.name for item in templates] == ["follow_up", "reminder"]
    assert load_templates({}) == []
    assert find_template(templates, "reminder").content_sid == OTHER_SID
    assert find_template(templates, "nope") is None


# --- rendering --------------------------------------------------------------------------------


def test_render_gives_the_text_and_twilio_content_variables():
    text, variables = render(load(), {"customer_name": "Ann", "agent_name": "Maya", "unused": "x"})
    assert text == "Hi Ann, this is Maya following up on your request. Reply to continue."
    assert variables == {"1": "Ann", "2": "Maya"}
    assert message_metadata(load(), variables) == {
        "template": {"name": "follow_up", "content_sid": SID, "variables": {"1": "Ann", "2": "Maya"}}}


def test_render_without_variables():
    assert render(TemplateSchema().load(REMINDER), {}) == (REMINDER["body"], {})


@pytest.mark.parametrize("values", [{"customer_name": "Ann"}, {"customer_name": "Ann", "agent_name": "  "}])
def test_a_missing_value_is_a_clear_error(values):
    with pytest.raises(TemplateError) as raised:
        render(load(), values)
    assert str(raised.value) == "the template follow_up needs a value for agent_name ({{2}})"


def test_whitespace_twilio_refuses_is_collapsed():
    _, variables = render(load(), {"customer_name": "Ann\nMarie", "agent_name": "Maya\t     Lee"})
    assert variables == {"1": "Ann Marie", "2": "Maya Lee"}


def test_a_value_over_twilios_limit_is_refused():
    with pytest.raises(TemplateError, match="longer than 1600"):
        render(load(), {"customer_name": "a" * 1601, "agent_name": "Maya"})


def test_explain_error_for_63016_and_unknown_codes():
    assert explain_error("63016").startswith("Outside WhatsApp's 24-hour window: use an approved template")
    assert explain_error(63016) == explain_error("63016")
    assert explain_error("30008") is None
    assert explain_error(None) is None


# --- admin API --------------------------------------------------------------------------------



def path(channel) -> str:
    return f"/api/admin/channels/{channel.id}/templates"


def stored_templates(db, channel) -> list[dict] | None:
    return fetch_one(db, "SELECT settings FROM channels WHERE id = %s", channel.id)["settings"].get("templates")


def template_events(db) -> list[dict]:
    return fetch_all(db, "SELECT agent_id, detail FROM events WHERE kind = 'settings.changed' ORDER BY id")


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_anonymous_requests_get_401(client, db, method):
    channel = add_whatsapp_channel(db)
    response = client.open(path(channel), method=method, json={"templates": []})
    assert response.status_code == 401
    assert stored_templates(db, channel) is None


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_agents_who_are_not_admins_get_403(client, db, method):
    channel = add_whatsapp_channel(db)
    agent = add_agent(db)
    with db() as conn:
        token = issue_api_token(conn, agent["id"])
    response = client.open(path(channel), method=method, json={"templates": [FOLLOW_UP]}, headers=bearer(token))
    assert response.status_code == 403
    assert stored_templates(db, channel) is None


def test_put_replaces_the_list_and_get_returns_it(client, db, admin, auth):
    channel = add_whatsapp_channel(db, settings={"keep": "me"})
    assert client.get(path(channel), headers=auth).get_json() == {"channel_id": channel.id, "templates": []}

    response = client.put(path(channel), headers=auth, json={"templates": [FOLLOW_UP, REMINDER]})
    assert response.status_code == 200
    assert response.get_json() == {"channel_id": channel.id, "templates": [FOLLOW_UP, REMINDER]}
    assert client.get(path(channel), headers=auth).get_json()["templates"] == [FOLLOW_UP, REMINDER]
    assert fetch_one(db, "SELECT settings FROM channels WHERE id = %s", channel.id)["settings"] == {
        "keep": "me", "templates": [FOLLOW_UP, REMINDER]}
    assert template_events(db) == [{"agent_id": admin["id"], "detail": {
        "channel_id": channel.id, "changed": ["templates"], "added": ["follow_up", "reminder"], "removed": [],
        "updated": []}}]

    changed = dict(FOLLOW_UP, body=FOLLOW_UP["body"].replace("Hi", "Hello"))
    client.put(path(channel), headers=auth, json={"templates": [changed]})
    assert template_events(db)[-1]["detail"] == {"channel_id": channel.id, "changed": ["templates"],
                                                 "added": [], "removed": ["reminder"], "updated": ["follow_up"]}
    assert stored_templates(db, channel) == [changed]


def test_a_put_that_changes_nothing_records_nothing(client, db, auth):
    channel = add_whatsapp_channel(db, settings={"templates": [FOLLOW_UP]})
    assert client.put(path(channel), headers=auth, json={"templates": [FOLLOW_UP]}).status_code == 200
    assert template_events(db) == []


def test_invalid_templates_answer_400_with_details_and_save_nothing(client, db, auth):
    channel = add_whatsapp_channel(db, settings={"templates": [REMINDER]})
    response = client.put(path(channel), headers=auth, json={"templates": [
        dict(FOLLOW_UP, content_sid="HX1"), dict(REMINDER, variables=["order"])]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid templates"
    assert "content_sid" in body["details"]["templates"]["0"]
    assert "never uses {{1}}" in body["details"]["templates"]["1"]["body"][0]
    assert stored_templates(db, channel) == [REMINDER]
    assert template_events(db) == []


@pytest.mark.parametrize("body", [{"templates": "follow_up"}, {}, [FOLLOW_UP]])
def test_a_body_that_is_not_a_template_list_answers_400(client, db, auth, body):
    channel = add_whatsapp_channel(db)
    assert client.put(path(channel), headers=auth, json=body).status_code == 400


def test_templates_are_only_for_whatsapp_channels(client, db, auth):
    channel = add_messenger_channel(db)
    for response in (client.get(path(channel), headers=auth),
                     client.put(path(channel), headers=auth, json={"templates": [FOLLOW_UP]})):
        assert response.status_code == 400
        assert response.get_json()["error"] == (f"channel {channel.id} is a messenger channel: templates are only "
                                                "for WhatsApp")
    assert stored_templates(db, channel) is None


def test_an_unknown_channel_is_404(client, auth):
    assert client.get("/api/admin/channels/999/templates", headers=auth).status_code == 404
    assert client.put("/api/admin/channels/999/templates", headers=auth,
                      json={"templates": []}).status_code == 404


def test_a_logged_in_admin_writes_with_the_csrf_header(client, db, admin):
    channel = add_whatsapp_channel(db)
    log_in(client, email=ADMIN_EMAIL)
    assert client.put(path(channel), json={"templates": [FOLLOW_UP]}).status_code == 403
    token = csrf_from(client.get("/inbox").get_data(as_text=True))
    assert client.put(path(channel), json={"templates": [FOLLOW_UP]},
                      headers={"X-CSRF-Token": token}).status_code == 200
    assert stored_templates(db, channel) == [FOLLOW_UP]


# --- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def handoff_template(database_url, redis_url):
    """`handoff channel template …` (the group as gateway/cli/__init__.py attaches it)."""
    runner = CliRunner()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "PUBLIC_URL": PUBLIC_URL,
           "SECRET_KEY": "test-secret-key"}
    return lambda *args: runner.invoke(template_cli, list(args), env=env)


def add_args(channel, spec: dict) -> list[str]:
    args = ["add", "--channel", str(channel.id), "--name", spec["name"], "--content-sid", spec["content_sid"],
            "--body", spec["body"]]
    for variable in spec["variables"]:
        args += ["--variable", variable]
    return args


def test_cli_add_list_and_remove(handoff_template, db):
    channel = add_whatsapp_channel(db)
    added = handoff_template(*add_args(channel, FOLLOW_UP))
    assert added.exit_code == 0, added.output
    assert added.output == (f"added template follow_up on channel {channel.id} ({SID}; variables: "
                            "{{1}} customer_name, {{2}} agent_name)\n")
    assert handoff_template(*add_args(channel, REMINDER)).exit_code == 0
    assert stored_templates(db, channel) == [FOLLOW_UP, REMINDER]

    listed = handoff_template("list", "--channel", str(channel.id))
    assert listed.exit_code == 0
    assert f"follow_up  {SID}  variables: {{{{1}}}} customer_name, {{{{2}}}} agent_name" in listed.output
    assert f"    {FOLLOW_UP['body']}" in listed.output
    assert "reminder" in listed.output and "variables: none" in listed.output
    as_json = handoff_template("list", "--channel", str(channel.id), "--json")
    assert json.loads(as_json.output) == [FOLLOW_UP, REMINDER]

    removed = handoff_template("remove", "--channel", str(channel.id), "--name", "follow_up")
    assert removed.exit_code == 0 and removed.output == f"removed template follow_up from channel {channel.id}\n"
    assert stored_templates(db, channel) == [REMINDER]


def test_cli_refuses_a_duplicate_name_unless_replacing(handoff_template, db):
    channel = add_whatsapp_channel(db, settings={"templates": [FOLLOW_UP]})
    changed = dict(FOLLOW_UP, content_sid=OTHER_SID)
    refused = handoff_template(*add_args(channel, changed))
    assert refused.exit_code == 1
    assert "already has a template follow_up (--replace replaces it)" in refused.output
    assert stored_templates(db, channel) == [FOLLOW_UP]
    replaced = handoff_template(*add_args(channel, changed), "--replace")
    assert replaced.exit_code == 0 and replaced.output.startswith("replaced template follow_up")
    assert stored_templates(db, channel) == [changed]


def test_cli_validates_like_the_api(handoff_template, db):
    channel = add_whatsapp_channel(db)
    result = handoff_template(*add_args(channel, dict(FOLLOW_UP, variables=["customer_name"])))
    assert result.exit_code == 1
    assert "invalid template: body: the body uses {{2}} but only 1 variable(s) are named" in result.output
    bad_sid = handoff_template(*add_args(channel, dict(FOLLOW_UP, content_sid="HX12")))
    assert "content_sid: a Twilio Content SID" in bad_sid.output
    assert stored_templates(db, channel) is None


def test_cli_refuses_other_channels_and_unknown_names(handoff_template, db):
    messenger = add_messenger_channel(db)
    result = handoff_template("list", "--channel", str(messenger.id))
    assert result.exit_code == 1 and "templates are only for WhatsApp" in result.output
    assert "no channel 999" in handoff_template("list", "--channel", "999").output
    whatsapp = add_whatsapp_channel(db, settings={"templates": [REMINDER]})
    missing = handoff_template("remove", "--channel", str(whatsapp.id), "--name", "follow_up")
    assert missing.exit_code == 1 and "has no template follow_up (it has: reminder)" in missing.output


def test_failure_message_puts_the_explanation_before_twilios_words():
    assert failure_message("63016", "Outside messaging window") == (
        explain_error("63016") + " (Twilio: Outside messaging window)")
    assert failure_message("63016", None) == explain_error("63016")
    assert failure_message("30008", "Unknown error") == "Unknown error"
    assert failure_message(None, None) is None
