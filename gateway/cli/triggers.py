"""`handoff triggers …` (dry runs of the trigger engine) and `handoff settings …`.

    triggers test    customer messages as one new simulated conversation,
                     through the configured responder and the trigger engine;
                     with --each, every line of a file as its own conversation
    triggers eval    a labelled file of messages (TSV: text, expect, family...):
                     recall per family and the false-escalation rate
    triggers replay  past conversations under the current rules, compared
                     with what happened
    settings show    the bot settings document, as JSON
    settings set     validate and save a bot settings document

The trigger commands only read: their database transaction is read-only,
and nothing is sent or enqueued. They reuse the worker's own pieces
(the engine in gateway.bot.triggers with its judge_reply and
conversation_state, workers.dryrun.SimulatedConversation over
workers.inbound.bot_answer) so that a dry run decides exactly as
process_inbound would; the settings page's dry-run box runs the same
simulation as a job (workers.dryrun.dry_run).
"""

from __future__ import annotations

import csv
import datetime
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from gateway.bot.settings import CHANNEL_KINDS, load_bot_settings
from gateway.cli.support import field_errors
from gateway.config import ConfigError
from gateway.json_encoding import dumps
from gateway.store import kb

# Characters of a reply or an excerpt shown per line without --json.
TEXT_PREVIEW = 70


@contextmanager
def read_only_database(config=None):
    """database(), with PostgreSQL refusing any write in the transaction."""
    from gateway.cli.support import database

    with database(config) as conn:
        conn.read_only = True
        yield conn


def echo_json(value) -> None:
    click.echo(dumps(value, ensure_ascii=False))


def preview(text: str | None) -> str:
    if text is None:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_PREVIEW else flat[:TEXT_PREVIEW - 1] + "…"


@click.group()
def triggers() -> None:
    """Try the escalation triggers without sending anything."""


# --- triggers test ------------------------------------------------------------------------------


@triggers.command("test")
@click.argument("messages", nargs=-1)
@click.option("--each", "each_file", type=click.File("r", encoding="utf-8"), default=None, metavar="FILE",
              help="Run every line of FILE ('-': standard input) as the first turn of its own new conversation, "
                   "one report per line.")
@click.option("--channel", "channel_kind", type=click.Choice(CHANNEL_KINDS), default="web", show_default=True,
              help="The channel kind the simulated customer writes on.")
@click.option("--vip", is_flag=True, help="The simulated customer is a VIP contact.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per turn.")
def test_triggers(messages: tuple[str, ...], each_file, channel_kind: str, vip: bool, as_json: bool) -> None:
    """Run MESSAGES as consecutive customer turns of one new conversation.

    Each turn goes through the trigger engine and the configured responder
    (the bot settings' provider, else AI_PROVIDER) with the knowledge base of
    the database, as the worker would; nothing is stored or sent. With
    --each, each line of the file is instead the first turn of a
    conversation of its own (a blank line too, so that reports and lines
    stay in step).
    """
    if bool(messages) == bool(each_file):
        raise click.UsageError("give MESSAGES or --each FILE, not both")
    simulator = Simulator.configured(vip=vip, channel_kind=channel_kind)
    if each_file:
        conversations = ([line.rstrip("\r\n")] for line in each_file)
    else:
        conversations = iter([list(messages)])
    for texts in conversations:
        simulation = simulator.conversation()
        for number, text in enumerate(texts, start=1):
            report = dict(turn=number, **simulation.customer_says(text))
            if as_json:
                echo_json(report)
            else:
                click.echo(describe_turn(report, text))


@dataclass
class Simulator:
    """What every simulated conversation shares: who the customer is, the
    bot settings, the responder and the knowledge base, read once from the
    database."""

    vip: bool
    channel_kind: str
    trigger_config: object
    responder: object
    articles: list

    @classmethod
    def configured(cls, *, vip: bool = False, channel_kind: str = "web") -> Simulator:
        from gateway.bot.triggers import TriggerConfig
        from gateway.cli.support import load_config
        from workers.brain import responder_for

        config = load_config()
        with read_only_database(config) as conn:
            settings = load_bot_settings(conn)
            articles = kb.list_articles(conn)
        provider = settings["provider"] or config.ai_provider
        try:
            responder = responder_for(replace(config, ai_provider=provider))
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        return cls(vip, channel_kind, TriggerConfig.from_settings(settings), responder, articles)

    def conversation(self):
        from gateway.bot.triggers import ConversationState
        from workers.dryrun import SimulatedConversation

        state = ConversationState(contact_vip=self.vip, channel_kind=self.channel_kind)
        return SimulatedConversation(state, self.trigger_config, self.responder, self.articles)


def describe_turn(report: dict, text: str) -> str:
    if "not_evaluated" in report["detail"]:
        verdict = f"not evaluated ({report['detail']['not_evaluated']})"
    elif report["escalate"]:
        verdict = f"ESCALATE {report['rule']} -> {report['team']}, priority {report['priority']}"
    elif report["offer_human"]:
        verdict = f"answer, offering a person ({report['rule']})"
    else:
        verdict = "answer"
    confidence = "-" if report["confidence"] is None else f"{report['confidence']:.2f}"
    lines = [f"{report['turn']:>3}. customer: {preview(text)}",
             f"     {verdict}  (confidence {confidence})"]
    if report["reply"] is not None:
        lines.append(f"     bot: {preview(report['reply'])}")
    return "\n".join(lines)


# --- triggers eval ------------------------------------------------------------------------------

EXPECTATIONS = ("escalate", "no", "report")


@triggers.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--families", "families_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A TSV with columns intent and family: the family of rows labelled by intent "
                                 "(public intent datasets) that have no family column.")
@click.option("--misses", is_flag=True, help="Also list every row the engine got wrong.")
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON document.")
def eval_triggers(file: Path, families_file: Path | None, misses: bool, as_json: bool) -> None:
    """Score the engine on FILE, a labelled TSV of customer messages.

    Columns: text, expect (escalate, no, or report: counted, never scored),
    and optionally family, language and source. Each text is the first turn
    of a new conversation, as with `triggers test --each`. Prints, per
    language (the language column; without one, Arabic and Devanagari
    script apart, and the other texts under the language most of them are
    guessed to be in), the recall of each family of escalate rows and the
    false-escalation rate of the no rows, per family and per source, then
    all languages together and the report rows that escalated.
    """
    rows = read_labelled(file, read_families(families_file) if families_file else {})
    simulator = Simulator.configured()
    results = [EvalResult(row, simulator.conversation().customer_says(row.text)) for row in rows]
    card = scorecard(results, file.name)
    if as_json:
        echo_json(card if misses else {key: value for key, value in card.items() if key != "misses"})
    else:
        click.echo(describe_scorecard(card, misses))


@dataclass(frozen=True)
class LabelledRow:
    line: int
    text: str
    expect: str
    family: str
    language: str | None
    source: str | None


@dataclass(frozen=True)
class EvalResult:
    row: LabelledRow
    report: dict = field(default_factory=dict)

    @property
    def escalated(self) -> bool:
        return self.report["escalate"]


def read_families(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not {"intent", "family"} <= set(reader.fieldnames or ()):
            raise click.ClickException(f"{path}: the columns intent and family are needed")
        return {row["intent"]: row["family"] for row in reader}


def read_labelled(path: Path, families: dict[str, str]) -> list[LabelledRow]:
    """The rows of a labelled TSV; a one-line error names the first bad one."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns = set(reader.fieldnames or ())
        if not {"text", "expect"} <= columns:
            raise click.ClickException(f"{path}: the columns text and expect are needed (found: "
                                       f"{', '.join(sorted(columns)) or 'none'})")
        rows = []
        for line, row in enumerate(reader, start=2):
            expect = (row.get("expect") or "").strip()
            if expect not in EXPECTATIONS:
                raise click.ClickException(f"{path}:{line}: expect is {expect!r}; it must be one of "
                                           f"{', '.join(EXPECTATIONS)}")
            family = (row.get("family") or "").strip() or families.get(row.get("intent") or "", "")
            rows.append(LabelledRow(line, row["text"] or "", expect, family, (row.get("language") or "").strip()
                                    or None, (row.get("source") or "").strip() or None))
    return rows


def scorecard(results: list[EvalResult], name: str) -> dict:
    """The figures of an evaluation: per language, the recall of each family
    of escalate rows and the false-escalation rate of the no rows (per family
    and per source), all languages together, and the report rows."""
    from gateway.bot.text import SCRIPT_LANGUAGES, language

    guessed = {id(result): language(result.row.text) for result in results if not result.row.language}
    common = Counter(value for value in guessed.values() if value and value not in SCRIPT_LANGUAGES).most_common(1)
    latin = common[0][0] if common else "?"
    by_language: dict[str, list[EvalResult]] = {}
    for result in results:
        code = result.row.language or guessed[id(result)]
        by_language.setdefault(code if result.row.language or code in SCRIPT_LANGUAGES else latin, []).append(result)
    scored = [result for result in results if result.row.expect != "report"]
    reported = [result for result in results if result.row.expect == "report"]
    return {
        "file": name,
        "rows": len(results),
        "expect": dict(Counter(result.row.expect for result in results)),
        "languages": {code: figures(group) for code, group in sorted(by_language.items(),
                                                                     key=lambda item: -len(item[1]))},
        "all": figures(results),
        "report": {"rows": len(reported), "escalated": sum(result.escalated for result in reported),
                   "escalations": [{"text": result.row.text, "rule": result.report["rule"]}
                                   for result in reported if result.escalated]},
        "misses": [{"line": result.row.line, "text": result.row.text, "expect": result.row.expect,
                    "family": result.row.family, "rule": result.report["rule"]}
                   for result in scored if result.escalated != (result.row.expect == "escalate")],
    }


def figures(results: list[EvalResult]) -> dict:
    def share(group: list[EvalResult]) -> dict:
        escalated = sum(result.escalated for result in group)
        return {"rows": len(group), "escalated": escalated, "rate": round(escalated / len(group), 4) if group else None}

    def grouped(expect: str, key) -> dict:
        groups: dict[str, list[EvalResult]] = {}
        for result in results:
            if result.row.expect == expect and key(result.row):
                groups.setdefault(key(result.row), []).append(result)
        return {name: share(group) for name, group in sorted(groups.items())}

    return {
        "recall": grouped("escalate", lambda row: row.family),
        "recall_all": share([result for result in results if result.row.expect == "escalate"]),
        "false_escalation": grouped("no", lambda row: row.family),
        "false_escalation_all": share([result for result in results if result.row.expect == "no"]),
        "false_escalation_by_source": grouped("no", lambda row: row.source),
    }


def describe_scorecard(card: dict, misses: bool) -> str:
    expect = card["expect"]
    lines = [f"{card['file']}: {card['rows']} rows ({expect.get('escalate', 0)} escalate, {expect.get('no', 0)} no, "
             f"{expect.get('report', 0)} report: counted, not scored)"]
    sections = [(f"language {code}", group) for code, group in card["languages"].items()]
    if len(card["languages"]) > 1:
        sections.append(("all languages", card["all"]))
    for title, group in sections:
        lines += ["", title, f"  {'':<34}{'rows':>6}{'escalated':>11}{'rate':>8}", "  recall (escalate rows)"]
        lines += [_figure_line(name, value) for name, value in group["recall"].items()]
        lines += [_figure_line("all", group["recall_all"]), "  false escalation (no rows)"]
        lines += [_figure_line(name, value) for name, value in group["false_escalation"].items()]
        lines.append(_figure_line("all", group["false_escalation_all"]))
        if group["false_escalation_by_source"]:
            lines.append("  false escalation by source")
            lines += [_figure_line(name, value) for name, value in group["false_escalation_by_source"].items()]
    report = card["report"]
    if report["rows"]:
        lines += ["", f"report rows: {report['escalated']} of {report['rows']} escalated"]
        lines += [f"  - {preview(item['text'])} [{item['rule']}]" for item in report["escalations"]]
    if misses:
        lines += ["", f"misses: {len(card['misses'])}"]
        lines += [f"  {item['line']:>5} {item['expect']:<8} {item['family']:<14} {preview(item['text'])} "
                  f"[{item['rule'] or '-'}]" for item in card["misses"]]
    return "\n".join(lines)


def _figure_line(name: str, value: dict) -> str:
    rate = "-" if value["rate"] is None else f"{value['rate']:.3f}"
    return f"    {name:<32}{value['rows']:>6}{value['escalated']:>11}{rate:>8}"


# --- triggers replay ----------------------------------------------------------------------------


def iso_date(ctx, param, value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date, like 2024-05-31") from None


@triggers.command("replay")
@click.option("--since", required=True, callback=iso_date, help="Conversations created on or after this date.")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="At most this many conversations, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conversation.")
def replay_triggers(since: datetime.date, limit: int, as_json: bool) -> None:
    """Which past conversations the CURRENT rules would have escalated, and why.

    Each conversation's customer messages are evaluated in order; the
    confidence triggers use the confidence of the bot's stored answer (the
    responder is not called), so a message the bot never answered is judged
    by the message rules only. Compared with what happened: whether it was
    escalated, and by which rule.
    """
    from gateway.bot.triggers import TriggerConfig

    with read_only_database() as conn:
        trigger_config = TriggerConfig.from_settings(load_bot_settings(conn))
        replays = [replay_conversation(conversation, conversation_messages(conn, conversation["id"]),
                                       trigger_config)
                   for conversation in conversations_since(conn, since, limit)]
    for replayed in replays:
        if as_json:
            echo_json(replayed)
        else:
            click.echo(describe_replay(replayed))
    if not as_json:
        would = sum(1 for replayed in replays if replayed["would_escalate"])
        changed = sum(1 for replayed in replays if replayed["change"] != "same")
        click.echo(f"{len(replays)} conversations since {since}: {would} would be escalated, "
                   f"{changed} differ from what happened")


def conversations_since(conn, since: datetime.date, limit: int) -> list[dict]:
    return conn.execute(
        """
        SELECT cv.id, cv.created_at, cv.escalation_reason, cv.escalated_at, cv.status,
               ch.kind AS channel_kind, ct.vip AS contact_vip, ct.attributes AS contact_attributes
          FROM conversations cv
          JOIN channels ch ON ch.id = cv.channel_id
          JOIN contacts ct ON ct.id = cv.contact_id
         WHERE cv.created_at >= %(since)s
         ORDER BY cv.created_at, cv.id
         LIMIT %(limit)s
        """,
        {"since": since, "limit": limit},
    ).fetchall()


def conversation_messages(conn, conversation_id: int) -> list[dict]:
    """The customer's messages in order, each with the bot's answer to it (or None)."""
    return conn.execute(
        """
        SELECT m.id, m.text, m.payload, bot.text AS bot_text, bot.bot_confidence, bot.metadata AS bot_metadata
          FROM messages m
          LEFT JOIN messages bot ON bot.reply_to_id = m.id AND bot.sender = 'bot'
         WHERE m.conversation_id = %(id)s AND m.sender = 'customer'
         ORDER BY m.id
        """,
        {"id": conversation_id},
    ).fetchall()


def replay_conversation(conversation: dict, customer_messages: list[dict], trigger_config) -> dict:
    """The first escalation the current rules decide, walking the conversation
    as the worker did: the state before each message is the one
    conversation_state() builds from the stored rows."""
    from gateway.bot.triggers import Turn, conversation_state, evaluate_message, judge_reply
    from workers.brain import Reply

    row = {"status": "bot", "escalated_at": None, "low_confidence_streak": 0}
    known = {"bot_answer_count": 0, "previous_customer_texts": (), "human_offered": False,
             "contact_vip": conversation["contact_vip"], "contact_attributes": conversation["contact_attributes"],
             "channel_kind": conversation["channel_kind"]}
    decision, at = None, None
    for number, message in enumerate(customer_messages, start=1):
        state = conversation_state(row, known)
        turn = Turn(text=message["text"] or "", payload=message["payload"])
        decision = evaluate_message(state, turn, trigger_config)
        if not decision.escalate and message["bot_confidence"] is not None:
            metadata = message["bot_metadata"] or {}
            stored = Reply(text=message["bot_text"] or "", confidence=message["bot_confidence"],
                           detail={"small_talk": True} if metadata.get("small_talk") else {})
            decision = judge_reply(state, turn, stored, trigger_config)
            row["low_confidence_streak"] = decision.low_confidence_streak
            known["bot_answer_count"] += 1
            known["human_offered"] = bool(metadata.get("offered_human"))
        if decision.escalate:
            at = (number, message["id"])
            break
        if message["text"]:
            known["previous_customer_texts"] += (message["text"],)
    actually = conversation["escalated_at"] is not None
    would = at is not None
    if would and actually:
        change = "same" if decision.rule == conversation["escalation_reason"] else "different rule"
    elif would:
        change = "newly escalated"
    else:
        change = "no longer escalated" if actually else "same"
    return {
        "conversation": conversation["id"], "channel": conversation["channel_kind"],
        "created_at": conversation["created_at"].isoformat(),
        "would_escalate": would, "turn": at[0] if would else None, "message_id": at[1] if would else None,
        "rule": decision.rule if would else None, "team": decision.team if would else None,
        "priority": decision.priority if would else None,
        "why": {"score": decision.score, "excerpt": decision.excerpt, **decision.detail} if would else None,
        "actual": {"escalated": actually, "rule": conversation["escalation_reason"]},
        "change": change,
    }


def describe_replay(replayed: dict) -> str:
    actual = (f"was escalated ({replayed['actual']['rule']})" if replayed["actual"]["escalated"]
              else "was not escalated")
    if replayed["would_escalate"]:
        now = (f"would escalate at message {replayed['turn']} by {replayed['rule']} "
               f"(\"{preview(replayed['why']['excerpt'])}\") -> {replayed['team']}, {replayed['priority']}")
    else:
        now = "would not escalate"
    return f"conversation {replayed['conversation']} ({replayed['channel']}): {now}; {actual}  [{replayed['change']}]"


# --- settings -----------------------------------------------------------------------------------


@click.group()
def settings() -> None:
    """Show and set the bot settings (triggers, thresholds, routing, greeting)."""


@settings.command("show")
def show_settings() -> None:
    """Print the bot settings document the bot runs with, as JSON."""
    from gateway.cli.support import database

    with database() as conn:
        document = load_bot_settings(conn)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@settings.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--replace", is_flag=True,
              help="Replace the whole document: fields FILE leaves out go back to their defaults.")
def set_settings(file: Path, replace: bool) -> None:
    """Validate FILE (JSON bot settings) and save it: its top-level fields replace
    the current ones and the others stay as they are (--replace: FILE is the
    whole document). Says which fields changed."""
    from gateway.admin.bot import save_settings
    from gateway.cli.support import database
    from gateway.errors import ApiError

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"{file}: not JSON ({error})") from None
    with database() as conn:
        try:
            _, changed = save_settings(conn, document, merge=not replace, agent_id=None)
        except ApiError as refusal:
            raise click.ClickException(f"{file}: {refusal.message}: {field_errors(refusal.details)}") from None
    how = "replaced the bot settings with" if replace else "merged into the bot settings"
    click.echo(f"{how} {file}: " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))
