"""/settings: Handoff set up in the browser, for admins (the same rule as the
admin API: gateway/web/auth.py is_admin).

Every page is server-rendered and every action is a form that works without
JavaScript (copy buttons are the only script: static/settings/copy.js). Each
form posts to a route here that turns the form into the same body the admin
API takes and calls the same domain function (gateway/admin/*,
gateway/bot/articles.py), so a page, the API and the CLI accept and refuse
exactly the same things. A refusal re-renders the page with the problems
listed and the values typed kept; a success redirects (303) with a flash.
Secrets are never put in a page: credential fields are empty, with a hint
of the stored value, and leaving one empty keeps it; a webhook's secret is
shown once, on the page that generated it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from redis.exceptions import RedisError

from channels.credentials import ADDRESS_LABELS, CREDENTIAL_FIELDS, credential_hints
from channels.registry import KINDS, capabilities
from channels.templates import TemplateListSchema, load_templates
from gateway import queues
from gateway.admin import bot as bot_admin
from gateway.admin import channels as channel_admin
from gateway.admin import people
from gateway.admin import webhooks as webhook_admin
from gateway.admin.templates import replace_templates
from gateway.bot import articles
from gateway.bot.settings import PRIORITIES, RULES, TOPIC_WHEN, load_bot_settings, validate_bot_settings
from gateway.config import AI_PROVIDERS
from gateway.db import transaction
from gateway.errors import ApiError, describe_details
from gateway.handoff.hours import DAYS
from gateway.handoff.teams import teams_overview
from gateway.handoff.weekly import compact_weekly, parse_weekly
from gateway.services import services
from gateway.store import agents, channels, kb, teams, webhooks
from gateway.web.api.admin import enqueue_sends
from gateway.web.api.admin_webhooks import enqueue_delivery
from gateway.web.auth import add_security_headers, admin_required, check_csrf, current_agent

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.after_request(add_security_headers)

SECTIONS = (("channels", "Channels"), ("bot", "Bot and triggers"), ("teams", "Teams and hours"),
            ("agents", "Agents"), ("kb", "Knowledge base"), ("webhooks", "Webhooks"))
# How long the dry-run box waits for a worker to answer (an LLM may take a while).
DRY_RUN_WAIT_SECONDS = 30
DRY_RUN_MAX_TURNS = 20
KB_PAGE = 200
UPLOAD_MAX_BYTES = 2_000_000


@bp.before_request
def forms_carry_the_csrf_token():
    if request.method == "POST" and not check_csrf():
        abort(400, "This form expired: reload the page and try again.")


@bp.app_context_processor
def settings_helpers():
    def failing_channels() -> list[dict]:
        """Channels whose sends the provider refuses for authentication (banner on the inbox and settings)."""
        with services().pool.connection() as conn:
            return channels.auth_failing_channels(conn)

    return {"failing_channels": failing_channels, "settings_sections": SECTIONS}


def me() -> int:
    return current_agent()["id"]


def problems_of(refusal: ApiError) -> list[str]:
    details = refusal.details
    return [refusal.message + (f": {describe_details(details)}" if details else "")]


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def words(text: str | None) -> list[str]:
    """A comma-separated list, as typed."""
    return [word.strip() for word in (text or "").split(",") if word.strip()]


def done(message: str, endpoint: str, **values):
    flash(message)
    return redirect(url_for(endpoint, **values), code=303)


@bp.get("")
@admin_required
def index():
    return redirect(url_for(".channel_list"))


# --- channels ----------------------------------------------------------------------------------


def _channel_form_body(form, kind: str) -> dict:
    body = {"name": form.get("name", ""), "mode": form.get("mode") or "bot_only"}
    if form.get("team_id"):
        body["team_id"] = form.get("team_id")
    if kind != "web":
        body["address"] = form.get("address", "")
        body["credentials"] = {name: form.get(name, "") for name, _ in CREDENTIAL_FIELDS[kind]}
    return body


def _channel_list_page(problems=(), typed=None, status=200):
    with services().pool.connection() as conn:
        rows = channels.list_channels(conn)
        team_rows = teams.list_teams(conn)
    return render_template("settings/channels.html", channels=rows, teams=team_rows, kinds=KINDS,
                           credential_fields=CREDENTIAL_FIELDS, address_labels=ADDRESS_LABELS,
                           modes=channel_admin.MODE_LABELS, problems=problems, typed=typed or {},
                           capabilities=capabilities), status


@bp.get("/channels")
@admin_required
def channel_list():
    return _channel_list_page()


@bp.post("/channels")
@admin_required
def channel_add():
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        abort(400, "unknown kind of channel")
    try:
        with transaction(services().pool) as conn:
            row = channel_admin.add_channel(conn, {"kind": kind, **_channel_form_body(request.form, kind)},
                                            agent_id=me())
    except ApiError as refusal:
        return _channel_list_page(problems_of(refusal), typed=dict(request.form, kind=kind), status=400)
    return done(f'Added the {capabilities(kind).label} channel "{row.name}". Next: paste its '
                + ("snippet into your pages." if kind == "web" else "webhook URLs into the provider's console."),
                ".channel_page", channel_id=row.id)


def _channel_page(channel_id: int, problems=(), check=None, status=200):
    config = services().config
    with services().pool.connection() as conn:
        channel = channel_admin.channel_or_404(conn, channel_id)
        usage = channels.channel_usage(conn, channel_id)
        team_rows = teams.list_teams(conn)
    return render_template(
        "settings/channel.html", channel=channel, usage=usage, teams=team_rows, problems=problems, check=check,
        modes=channel_admin.MODE_LABELS, label=capabilities(channel.kind).label,
        credential_fields=CREDENTIAL_FIELDS[channel.kind], address_label=ADDRESS_LABELS[channel.kind],
        hints=credential_hints(channel.kind, channel.credentials),
        urls=channel_admin.webhook_urls(channel, config.public_url),
        snippet=channel_admin.embed_snippet(config.public_url, channel.address) if channel.kind == "web" else None,
        templates=load_templates(channel.settings) if capabilities(channel.kind).templates else None,
    ), status


@bp.get("/channels/<int:channel_id>")
@admin_required
def channel_page(channel_id: int):
    try:
        return _channel_page(channel_id)
    except ApiError:
        abort(404)


def _change_channel(channel_id: int, body: dict, success: str):
    try:
        with transaction(services().pool) as conn:
            change = channel_admin.change_channel(conn, channel_id, body, agent_id=me())
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _channel_page(channel_id, problems_of(refusal), status=400)
    enqueue_sends(change.resend)
    message = success if change.changed else "Nothing changed."
    if change.resend:
        message += f" {len(change.resend)} message(s) that failed for authentication are being sent again."
    return done(message, ".channel_page", channel_id=channel_id)


@bp.post("/channels/<int:channel_id>")
@admin_required
def channel_change(channel_id: int):
    body = {"name": request.form.get("name", ""), "mode": request.form.get("mode", "bot_only"),
            "team_id": request.form.get("team_id") or None}
    return _change_channel(channel_id, body, "Saved.")


@bp.post("/channels/<int:channel_id>/credentials")
@admin_required
def channel_credentials(channel_id: int):
    with services().pool.connection() as conn:
        kind = channel_admin.channel_or_404(conn, channel_id).kind
    body = _channel_form_body(request.form, kind)
    return _change_channel(channel_id, {key: body[key] for key in ("address", "credentials") if key in body},
                           "Credentials saved.")


@bp.post("/channels/<int:channel_id>/enabled")
@admin_required
def channel_enabled(channel_id: int):
    disabled = request.form.get("disabled") == "1"
    return _change_channel(channel_id, {"disabled": disabled},
                           "Disabled: it receives and sends nothing." if disabled else "Enabled again.")


@bp.post("/channels/<int:channel_id>/check")
@admin_required
def channel_check(channel_id: int):
    with services().pool.connection() as conn:
        channel = channels.get_channel(conn, channel_id)
    if channel is None:
        abort(404)
    return _channel_page(channel_id, check=channel_admin.check_credentials(channel, services().config))


@bp.post("/channels/<int:channel_id>/delete")
@admin_required
def channel_delete(channel_id: int):
    if request.form.get("confirm") != "yes":
        return _channel_page(channel_id, ["Tick the box to confirm that its conversations go too."], status=400)
    try:
        with transaction(services().pool) as conn:
            usage = channel_admin.remove_channel(conn, channel_id, agent_id=me())
    except ApiError:
        abort(404)
    return done(f"Channel deleted, with {usage['conversations']} conversation(s) and {usage['messages']} "
                "message(s).", ".channel_list")


@bp.post("/channels/<int:channel_id>/templates")
@admin_required
def channel_templates(channel_id: int):
    """Add a template (name, content_sid, variables, body) or remove one (remove=NAME)."""
    with services().pool.connection() as conn:
        channel = channel_admin.channel_or_404(conn, channel_id)
    current = [template.as_json() for template in load_templates(channel.settings)]
    removed = request.form.get("remove")
    if removed:
        wanted = [template for template in current if template["name"] != removed]
    else:
        wanted = current + [{"name": request.form.get("template_name", "").strip(),
                             "content_sid": request.form.get("content_sid", "").strip(),
                             "variables": words(request.form.get("variables")),
                             "body": request.form.get("body", "").strip()}]
    try:
        templates = TemplateListSchema().load({"templates": wanted})["templates"]
        with transaction(services().pool) as conn:
            replace_templates(conn, channel_id, templates, agent_id=me())
    except ValidationError as error:
        return _channel_page(channel_id, [f"invalid template: {describe_details(error.messages)}"], status=400)
    except ApiError as refusal:
        return _channel_page(channel_id, problems_of(refusal), status=400)
    return done(f"Template {removed} removed." if removed else "Template added.", ".channel_page",
                channel_id=channel_id)


# --- bot and triggers ------------------------------------------------------------------------------


def _rows(form, prefix: str, fields_: tuple[str, ...], typed: tuple[str, ...]) -> list[dict]:
    """Repeated form rows (prefix-N-field), in order; rows whose `typed` fields are
    all empty are dropped (a select always has a value: it does not keep a row)."""
    indexes = sorted({int(key.split("-")[1]) for key in form if key.startswith(prefix + "-")
                      and key.split("-")[1].isdigit()})
    rows = [{name: form.get(f"{prefix}-{index}-{name}", "").strip() for name in fields_} for index in indexes]
    return [row for row in rows if any(row[name] for name in typed)]


def settings_from_form(form, current: dict) -> dict:
    """The bot settings document the form describes: the fields it does not show (top-level or in a
    section it shows) keep their current values, so that a field added to the settings is never
    lost by saving this page."""
    document = dict(current)
    number_fields = {"confidence_threshold": float, "low_confidence_streak": int,
                     "missed_chat_timeout_seconds": int, "queue_update_seconds": int,
                     "ticket_due_business_hours": int}
    for name, kind in number_fields.items():
        document[name] = _number(form.get(name), kind)
    document["provider"] = form.get("provider") or None
    document["default_team"] = form.get("default_team", "").strip()
    document["missed_chat_action"] = form.get("missed_chat_action", "ticket")
    document["trigger_phrases"] = lines(form.get("trigger_phrases"))
    document["human_request_phrases"] = lines(form.get("human_request_phrases"))
    document["repeated_question"] = {**current["repeated_question"], "times": _number(form.get("repeat_times"), int),
                                     "similarity": _number(form.get("repeat_similarity"), float)}
    document["frustration"] = {**current["frustration"], "action": form.get("frustration_action", "offer"),
                               "threshold": _number(form.get("frustration_threshold"), float),
                               "phrases": lines(form.get("frustration_phrases"))}
    document["vip"] = {**current["vip"], "attribute": form.get("vip_attribute", "").strip() or None,
                       "values": words(form.get("vip_values")),
                       "after_answers": _number(form.get("vip_after_answers"), int),
                       "priority": form.get("vip_priority", "high")}
    document["rule_priorities"] = {rule: form.get(f"priority-{rule}", "normal")
                                   for rule in current["rule_priorities"]}
    document["disabled_rules"] = [rule for rule in RULES if form.get(f"rule-{rule}") != "on"]
    # A topic keeps what the form does not show (by its name): only these fields change.
    topics_now = {topic["name"]: topic for topic in current["urgent_topics"]}
    document["urgent_topics"] = [
        {**topics_now.get(row["name"], {}), "name": row["name"], "words": words(row["words"]),
         "priority": row["priority"] or "high", "team": row["team"] or None, "when": row["when"] or "mentioned"}
        for row in _rows(form, "topic", ("name", "words", "priority", "team", "when"), ("name", "words"))]
    document["routing_rules"] = [
        {"team": row["team"], "words": words(row["words"]), "channels": words(row["channels"]) or None,
         "vip": {"yes": True, "no": False}.get(row["vip"])}
        for row in _rows(form, "route", ("team", "words", "channels", "vip"), ("team", "words", "channels"))]
    document["greeting"] = {**current["greeting"], **{kind: form.get(f"greeting-{kind}", "").strip() or None for kind in ("default", *KINDS)}}
    document["talk_to_agent"] = {**current["talk_to_agent"], "label": form.get("talk_label", "").strip(),
                                 "whatsapp_hint": form.get("whatsapp_hint", "").strip()}
    return document


def _number(text, kind):
    """The number typed, or the text itself for the schema to refuse in words."""
    try:
        return kind(text)
    except (TypeError, ValueError):
        return text


def _bot_page(document: dict, problems=(), dry_run=None, turns: str = "", dry_channel: str = "web",
              dry_vip: bool = False, status: int = 200, changed=None):
    with services().pool.connection() as conn:
        team_names = [team["name"] for team in teams.list_teams(conn)]
    config = services().config
    return render_template(
        "settings/bot.html", s=document, problems=problems, dry_run=dry_run, turns=turns, dry_channel=dry_channel,
        dry_vip=dry_vip, providers=AI_PROVIDERS, priorities=PRIORITIES, rules=RULES, kinds=KINDS,
        topic_when=TOPIC_WHEN,
        team_names=team_names, env_provider=config.ai_provider, changed=changed,
        models={"openai": config.openai_model, "anthropic": config.anthropic_model},
        compact_topics=[dict(topic, words=", ".join(topic["words"])) for topic in document["urgent_topics"]],
        compact_routes=[dict(rule, words=", ".join(rule["words"]), channels=", ".join(rule["channels"] or []))
                        for rule in document["routing_rules"]],
    ), status


@bp.get("/bot")
@admin_required
def bot():
    with services().pool.connection() as conn:
        return _bot_page(load_bot_settings(conn))


@bp.post("/bot")
@admin_required
def bot_save():
    with services().pool.connection() as conn:
        document = settings_from_form(request.form, load_bot_settings(conn))
    try:
        with transaction(services().pool) as conn:
            _, changed = bot_admin.save_settings(conn, document, merge=False, agent_id=me())
    except ApiError as refusal:
        return _bot_page(document, problems_of(refusal), status=400)
    return done(f"Saved: {', '.join(changed)} changed." if changed else "Nothing changed.", ".bot")


@bp.post("/bot/dry-run")
@admin_required
def bot_dry_run():
    """The turns typed, under the settings as the form has them now (not saved), by the same
    engine and responder as `handoff triggers test`: the workers.dryrun.dry_run job."""
    with services().pool.connection() as conn:
        document = settings_from_form(request.form, load_bot_settings(conn))
    turns_text = request.form.get("turns", "")
    channel_kind = request.form.get("dry_channel") if request.form.get("dry_channel") in KINDS else "web"
    vip = request.form.get("dry_vip") == "on"
    page = dict(turns=turns_text, dry_channel=channel_kind, dry_vip=vip)
    turns = lines(turns_text)[:DRY_RUN_MAX_TURNS]
    if not turns:
        return _bot_page(document, ["Type at least one customer message (one per line) to try."], status=400, **page)
    try:
        validated = validate_bot_settings(document)
    except ValidationError as error:
        return _bot_page(document, [f"invalid bot settings: {describe_details(error.messages)}"], status=400, **page)
    try:
        job = queues.queue(services().redis, "high").enqueue(
            "workers.dryrun.dry_run", turns, validated, channel_kind, vip, job_timeout=DRY_RUN_WAIT_SECONDS,
            result_ttl=60, failure_ttl=60, description="settings page dry run")
        result = job.latest_result(timeout=DRY_RUN_WAIT_SECONDS)
    except RedisError as error:
        log.warning("dry run not run (Redis: %s)", error)
        return _bot_page(document, ["The dry run needs Redis, which does not answer right now."], status=503, **page)
    if result is None or result.type != result.Type.SUCCESSFUL:
        problem = ("No worker answered within {} s: is `handoff worker` running?".format(DRY_RUN_WAIT_SECONDS)
                   if result is None else "The dry run failed in the worker; its log says why.")
        return _bot_page(document, [problem], status=503, **page)
    outcome = result.return_value
    if "error" in outcome:
        return _bot_page(document, [outcome["error"]], status=400, **page)
    return _bot_page(document, dry_run=list(zip(turns, outcome["turns"])), **page)


# --- teams and hours -------------------------------------------------------------------------------


def _teams_page(problems=(), status=200):
    with services().pool.connection() as conn:
        overview = teams_overview(conn, people.now())
        agent_rows = agents.list_agents(conn)
    for team in overview:
        hours = team["hours"]
        team["weekly_text"] = "\n".join(f"{days} {ranges}" for days, ranges in compact_weekly(hours.get("weekly", {}))
                                        if ranges != "closed") if hours else ""
        team["member_ids"] = {member["id"] for member in team["members"]}
    return render_template("settings/teams.html", teams=overview, agents=agent_rows, problems=problems,
                           days=DAYS), status


def _hours_from_form(form) -> dict:
    timezone = form.get("timezone", "").strip()
    if not timezone:
        return {}  # always open
    try:
        weekly = parse_weekly(lines(form.get("weekly")))
    except ValueError as error:
        raise ApiError(400, "invalid hours", {"weekly": [str(error)]}) from None
    return {"timezone": timezone, "weekly": weekly, "holidays": lines(form.get("holidays"))}


@bp.get("/teams")
@admin_required
def team_list():
    return _teams_page()


@bp.post("/teams")
@admin_required
def team_add():
    try:
        with transaction(services().pool) as conn:
            view = people.create_team(conn, {"name": request.form.get("name", "")}, agent_id=me())
    except ApiError as refusal:
        return _teams_page(problems_of(refusal), status=400)
    return done(f'Team "{view["name"]}" added: it is always open until you give it hours.', ".team_list")


@bp.post("/teams/<int:team_id>")
@admin_required
def team_change(team_id: int):
    form = request.form
    try:
        body = {"name": form.get("name", ""), "hours": _hours_from_form(form), "auto_assign": form.get("auto_assign") == "on",
                "email": form.get("email", "").strip() or None}
        member_ids = [int(value) for value in form.getlist("members") if value.isdigit()]
        with transaction(services().pool) as conn:
            view, warnings = people.change_team(conn, team_id, body, agent_id=me())
            people.set_team_members(conn, team_id, member_ids, agent_id=me())
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _teams_page(problems_of(refusal), status=400)
    for warning in warnings:
        flash("Warning: " + warning)
    return done(f'Team "{view["name"]}" saved.', ".team_list")


# --- agents --------------------------------------------------------------------------------------


def _agents_page(problems=(), typed=None, status=200):
    with services().pool.connection() as conn:
        overview = people.agents_overview(conn)
        gone = agents.deactivated_agents(conn)
        team_rows = teams.list_teams(conn)
    return render_template("settings/agents.html", agents=overview, deactivated=gone, teams=team_rows,
                           problems=problems, typed=typed or {}, me=me()), status


@bp.get("/agents")
@admin_required
def agent_list():
    return _agents_page()


@bp.post("/agents")
@admin_required
def agent_add():
    form = request.form
    body = {"email": form.get("email", "").strip(), "name": form.get("name", ""), "password": form.get("password", ""),
            "is_admin": form.get("is_admin") == "on",
            "teams": [int(value) for value in form.getlist("teams") if value.isdigit()]}
    try:
        with transaction(services().pool) as conn:
            added = people.add_agent(conn, body, agent_id=me())
    except ApiError as refusal:
        typed = {key: value for key, value in form.items() if key != "password"}
        return _agents_page(problems_of(refusal), typed=typed, status=400)
    return done(f"{added['name']} can now log in at {services().config.public_url}/login with that password.",
                ".agent_list")


@bp.post("/agents/<int:agent_id>")
@admin_required
def agent_change(agent_id: int):
    form = request.form
    body = {"is_admin": form.get("is_admin") == "on", "capacity": _number(form.get("capacity"), int),
            "teams": [int(value) for value in form.getlist("teams") if value.isdigit()]}
    try:
        with transaction(services().pool) as conn:
            changed = people.change_agent(conn, agent_id, body, agent_id=me())
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _agents_page(problems_of(refusal), status=400)
    return done(f"{changed['name']} saved.", ".agent_list")


@bp.post("/agents/<int:agent_id>/deactivate")
@admin_required
def agent_deactivate(agent_id: int):
    try:
        with transaction(services().pool) as conn:
            result = people.deactivate_agent(conn, agent_id, agent_id=me())
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _agents_page(problems_of(refusal), status=refusal.status)
    returned = len(result["returned"])
    return done(f"{result['agent']['name']} is deactivated: logged out everywhere"
                + (f", {returned} conversation(s) back in the queue." if returned else "."), ".agent_list")


@bp.post("/agents/reactivate")
@admin_required
def agent_reactivate():
    try:
        with transaction(services().pool) as conn:
            row = people.reactivate_agent(conn, request.form.get("email", ""), agent_id=me())
    except ApiError as refusal:
        return _agents_page(problems_of(refusal), status=refusal.status)
    return done(f"{row['name']} may log in again (with their old password).", ".agent_list")


# --- knowledge base ----------------------------------------------------------------------------------


@bp.get("/kb")
@admin_required
def kb_list():
    query = request.args.get("q", "").strip()
    with services().pool.connection() as conn:
        rows = kb.search_articles(conn, query, limit=KB_PAGE + 1)
        counts = kb.count_articles(conn)
    return render_template("settings/kb.html", articles=rows[:KB_PAGE], more=len(rows) > KB_PAGE, query=query,
                           counts=counts)


@bp.post("/kb/import")
@admin_required
def kb_import():
    files = [file for file in request.files.getlist("files") if file.filename]
    if not files:
        return done("Choose one or more .md or .txt files to import.", ".kb_list")
    created = updated = 0
    try:
        with transaction(services().pool) as conn:
            for file in files:
                if not file.filename.lower().endswith(articles.TEXT_SUFFIXES):
                    raise articles.UnreadableFile(f"{file.filename}: only .md and .txt files are imported")
                raw = file.read(UPLOAD_MAX_BYTES + 1)
                if len(raw) > UPLOAD_MAX_BYTES:
                    raise articles.UnreadableFile(f"{file.filename}: larger than {UPLOAD_MAX_BYTES // 1_000_000} MB")
                new, changed = articles.import_text(conn, file.filename, raw)
                created, updated = created + new, updated + changed
    except articles.UnreadableFile as error:
        return done(f"Nothing imported: {error}", ".kb_list")
    return done(f"Imported {created} new article(s), updated {updated}.", ".kb_list")


@bp.post("/kb/remove-demo")
@admin_required
def kb_remove_demo():
    with transaction(services().pool) as conn:
        removed = kb.delete_all_articles(conn, demo_only=True)
    return done(f"Removed the {removed} demo article(s): the bot now answers from yours only.", ".kb_list")


def _article_form() -> dict:
    return {key: request.form.get(key, "") for key in ("title", "body")}


@bp.route("/kb/new", methods=["GET", "POST"])
@admin_required
def kb_new():
    if request.method == "GET":  # the learning loop links here with the question as the title
        draft = {"title": request.args.get("title", ""), "body": request.args.get("body", "")}
        return render_template("settings/article.html", article=draft, problems=())
    try:
        with transaction(services().pool) as conn:
            article_id = articles.write_article(conn, _article_form())
    except ApiError as refusal:
        return render_template("settings/article.html", article=request.form, problems=problems_of(refusal)), 400
    return done("Article added: the bot answers from it now.", ".kb_article", article_id=article_id)


@bp.route("/kb/<int:article_id>", methods=["GET", "POST"])
@admin_required
def kb_article(article_id: int):
    with services().pool.connection() as conn:
        article = kb.get_article(conn, article_id)
    if article is None:
        abort(404)
    if request.method == "GET":
        return render_template("settings/article.html", article=article, problems=())
    try:
        with transaction(services().pool) as conn:
            articles.write_article(conn, _article_form(), article_id)
    except ApiError as refusal:
        return render_template("settings/article.html", article=dict(article, **request.form),
                               problems=problems_of(refusal)), 400
    return done("Article saved.", ".kb_article", article_id=article_id)


@bp.post("/kb/<int:article_id>/delete")
@admin_required
def kb_delete(article_id: int):
    with transaction(services().pool) as conn:
        kb.delete_articles(conn, [article_id])
    return done("Article deleted.", ".kb_list")


# --- outbound webhooks ---------------------------------------------------------------------------------


def _webhooks_page(problems=(), status=200):
    with services().pool.connection() as conn:
        rows = webhooks.list_subscriptions(conn)
    return render_template("settings/webhooks.html", webhooks=rows, events=webhook_admin.EVENT_CHOICES,
                           problems=problems), status


def _webhook_page(subscription_id: int, problems=(), secret=None, status=200):
    with services().pool.connection() as conn:
        subscription = webhook_admin.subscription_or_404(conn, subscription_id)
        deliveries = webhooks.recent_deliveries(conn, subscription_id, 20)
    return render_template("settings/webhook.html", webhook=subscription, deliveries=deliveries, secret=secret,
                           events=webhook_admin.EVENT_CHOICES, problems=problems), status


def _webhook_body(form, *, with_active: bool) -> dict:
    body = {"url": form.get("url", "").strip(), "events": form.getlist("events"),
            "description": form.get("description", "").strip()}
    if with_active:
        body["active"] = form.get("active") == "on"
    return body


@bp.get("/webhooks")
@admin_required
def webhook_list():
    return _webhooks_page()


@bp.post("/webhooks")
@admin_required
def webhook_add():
    try:
        with transaction(services().pool) as conn:
            created = webhook_admin.subscribe(conn, _webhook_body(request.form, with_active=False), agent_id=me(),
                                              allowed_hosts=services().config.webhook_allowed_hosts)
    except ApiError as refusal:
        return _webhooks_page(problems_of(refusal), status=400)
    # The secret is shown on this page only: never stored anywhere it could be shown again.
    return _webhook_page(created["id"], secret=created["secret"])


@bp.get("/webhooks/<int:subscription_id>")
@admin_required
def webhook_page(subscription_id: int):
    try:
        return _webhook_page(subscription_id)
    except ApiError:
        abort(404)


@bp.post("/webhooks/<int:subscription_id>")
@admin_required
def webhook_change(subscription_id: int):
    try:
        with transaction(services().pool) as conn:
            webhook_admin.change_subscription(conn, subscription_id, _webhook_body(request.form, with_active=True),
                                              agent_id=me(), allowed_hosts=services().config.webhook_allowed_hosts)
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _webhook_page(subscription_id, problems_of(refusal), status=400)
    return done("Webhook saved.", ".webhook_page", subscription_id=subscription_id)


@bp.post("/webhooks/<int:subscription_id>/rotate")
@admin_required
def webhook_rotate(subscription_id: int):
    try:
        with transaction(services().pool) as conn:
            secret = webhook_admin.rotate_secret(conn, subscription_id, agent_id=me())
    except ApiError:
        abort(404)
    return _webhook_page(subscription_id, secret=secret)


@bp.post("/webhooks/<int:subscription_id>/test")
@admin_required
def webhook_test(subscription_id: int):
    return _queue_delivery(subscription_id, lambda conn: webhook_admin.ping(conn, subscription_id), "Ping sent.")


@bp.post("/webhooks/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver")
@admin_required
def webhook_redeliver(subscription_id: int, delivery_id: int):
    return _queue_delivery(subscription_id, lambda conn: webhook_admin.redeliver(conn, subscription_id, delivery_id),
                           f"Delivery {delivery_id} is being sent again.")


def _queue_delivery(subscription_id: int, queue_it, message: str):
    try:
        with transaction(services().pool) as conn:
            delivery_id = queue_it(conn)
    except ApiError as refusal:
        if refusal.status == 404:
            abort(404)
        return _webhook_page(subscription_id, problems_of(refusal), status=refusal.status)
    enqueue_delivery(delivery_id)
    return done(message, ".webhook_page", subscription_id=subscription_id)


@bp.post("/webhooks/<int:subscription_id>/delete")
@admin_required
def webhook_delete(subscription_id: int):
    try:
        with transaction(services().pool) as conn:
            webhook_admin.unsubscribe(conn, subscription_id, agent_id=me())
    except ApiError:
        abort(404)
    return done("Webhook deleted, with its deliveries.", ".webhook_list")
