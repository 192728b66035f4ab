"""The handoff packet: what the agent who takes an escalated conversation
sees at once, before reading a line of the transcript.

    build_packet(conn, conversation_id, now=None) -> dict

The rule that fired and why in plain words, a short extractive summary, the
bot's answers so far, the details the customer gave, the sentiment trend,
VIP, the channel and its messaging window. It is built in the escalation's
transaction (two indexed reads and the bot settings, VADER over a few
texts, no network), stored in conversations.handoff_packet, returned by the
agent API and sent as the data of the conversation.escalated webhook, so it
holds only JSON types. When an LLM is configured, workers/brain/summary.py
replaces the summary after the escalation has committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from channels.windows import window_state
from gateway.bot.details import KINDS, merge_details
from gateway.bot.settings import load_bot_settings
from gateway.bot.text import SENTENCE_END, small_talk_kind, terms
from gateway.bot.triggers import (
    SENTIMENT_TEXT_LIMIT,
    TALK_TO_AGENT,
    ConversationState,
    TriggerConfig,
    sentiment_analyzer,
    vip_reason,
)
from gateway.handoff import wording
from gateway.store import packets

EXTRACTIVE = "extractive"
BOT_TRIED_LIMIT = 5          # the bot's latest answers listed
SENTIMENT_LIMIT = 10         # the customer's latest messages scored
# How far the fitted line of the scores must move over the window (VADER's
# compound runs from -1 to 1) for the mood to count as changing.
TREND_CHANGE = 0.3
QUOTE_CHARS = 160            # a customer message quoted in the summary
ANSWER_CHARS = 300           # a question or an answer in bot_tried

# Words that only reach for a person; a message of nothing else
# ("can I speak to someone?", "AGENT") states no request of its own.
REACHING_FOR_A_PERSON = frozenset(terms(
    "talk speak chat call person people human agent representative rep operator staff somebody anybody real "
    "live connect transfer manager supervisor customer service support team"))


def build_packet(conn, conversation_id: int, *, now: datetime | None = None) -> dict:
    """The packet of the conversation as it is now; `now` decides the window state."""
    facts = packets.packet_facts(conn, conversation_id)
    if facts is None:
        raise LookupError(f"conversation {conversation_id} does not exist")
    settings = load_bot_settings(conn)
    thread = packets.packet_messages(conn, conversation_id)
    said = [m for m in thread if m["sender"] == "customer"]
    answers = bot_answers(thread, settings)
    tried = answers_to_questions(answers)
    trigger = trigger_of(facts)
    state = ConversationState(contact_vip=facts["contact_vip"], contact_attributes=facts["contact_attributes"])
    return {
        "conversation_id": facts["id"],
        "contact_id": facts["contact_id"],
        "channel": {"id": facts["channel_id"], "kind": facts["channel_kind"], "name": facts["channel_name"]},
        "team": facts["team_name"],
        "priority": facts["priority"],
        "escalated_at": facts["escalated_at"].isoformat() if facts["escalated_at"] else None,
        "trigger": trigger,
        "summary": {"text": extractive_summary(said, answers, tried, settings["confidence_threshold"]),
                    "by": EXTRACTIVE},
        "bot_tried": [{key: answer[key] for key in ("question", "answer", "confidence", "sources")}
                      for answer in tried],
        "details": collected_details(facts),
        "sentiment": sentiment_of(said),
        "vip": (trigger or {}).get("rule") == "vip"
               or vip_reason(state, TriggerConfig.from_settings(settings)) is not None,
        "customer": {"name": facts["contact_name"] or facts["profile_name"], "email": facts["contact_email"],
                     "phone": facts["contact_phone"]},
        "window": window_state(facts["channel_kind"], facts["last_customer_message_at"],
                               now or datetime.now(UTC)).as_json(),
        "message_count": facts["message_count"],
        "other_conversations": facts["other_conversations"],
    }


# --- the trigger ------------------------------------------------------------------------------


def trigger_of(facts: dict) -> dict | None:
    """The rule that escalated the conversation, from escalation_reason and
    escalation_detail (Decision.event_detail()); None if it never escalated."""
    rule = facts["escalation_reason"]
    if rule is None:
        return None
    recorded = facts["escalation_detail"] or {}
    detail = recorded.get("detail") or {}
    excerpt = recorded.get("excerpt")
    return {"rule": rule, "excerpt": excerpt, "score": recorded.get("score"), "detail": detail,
            "explanation": explain(rule, excerpt, detail)}


def explain(rule: str, excerpt: str | None, detail: dict) -> str:
    """The rule that fired as an agent would say it."""
    if rule == "human_request":
        return {"button": "The customer pressed \"Talk to an agent\"",
                "accepted_offer": "The customer accepted the bot's offer of a person",
                "refused_bot": "The customer refused to talk to the bot"}.get(
            detail.get("via"), "The customer asked for a person")
    if rule == "trigger_phrase":
        # "*cancel my account*" reads as the words the admin was after.
        return f"Trigger phrase '{(detail.get('pattern') or excerpt or '').strip('* ')}'"
    if rule == "low_confidence":
        return f"Low confidence {times(detail.get('streak', 2))} in a row"
    if rule == "model_needs_human":
        return "The AI asked for a human"
    if rule == "repeated_question":
        return f"Same question asked {times(detail.get('times', 3))}"
    if rule == "frustration":
        return "Frustration, still after the bot offered a person" if detail.get("after_offer") else "Frustration"
    if rule == "urgent_topic":
        return f"Urgent topic: {str(detail.get('topic') or excerpt).replace('_', ' ')}"
    if rule == "humans_first":
        return "The channel sends new conversations to a person first"
    if rule == "vip":
        return "VIP customer" if excerpt in (None, "vip") else f"VIP customer ({excerpt})"
    return f"Escalated: {rule.replace('_', ' ')}"


def times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


# --- what the customer said and the bot answered ---------------------------------------------


def states_a_request(message: dict) -> bool:
    """Says what the customer wants: not small talk ("hi", "thanks"), not a
    button, not only a call for a person or a "yes"."""
    text = message["text"] or ""
    if message["payload"] == TALK_TO_AGENT or small_talk_kind(text):
        return False
    return any(term not in REACHING_FOR_A_PERSON for term in terms(text))


def bot_answers(thread: list[dict], settings: dict) -> list[dict]:
    """The bot's answers, oldest first, each with the customer's message it
    answers, and without the greeting and the WhatsApp hint that come with a
    first answer."""
    questions = {m["id"]: m for m in thread if m["sender"] == "customer"}
    answers = []
    for message in thread:
        question = questions.get(message["reply_to_id"]) if message["sender"] == "bot" else None
        if question is not None:
            answers.append({"question_id": question["id"], "question": shorten(question["text"], ANSWER_CHARS),
                            "answer": shorten(answer_body(message["text"], settings), ANSWER_CHARS),
                            "confidence": message["bot_confidence"], "sources": list(message["sources"])})
    return answers


def answers_to_questions(answers: list[dict]) -> list[dict]:
    """The latest BOT_TRIED_LIMIT answers, oldest first, leaving out replies
    to small talk ("hi", "thanks"), which answer no question."""
    latest: list[dict] = []
    for answer in reversed(answers):
        if len(latest) == BOT_TRIED_LIMIT:
            break
        if not small_talk_kind(answer["question"]):
            latest.insert(0, answer)
    return latest


def answer_body(text: str, settings: dict) -> str:
    # The greeting and the hint as the customer heard them: in their language, if built in.
    boilerplate = wording.built_in_variants({*settings["greeting"].values(),
                                             settings["talk_to_agent"]["whatsapp_hint"]})
    paragraphs = [part.strip() for part in text.split("\n\n")]
    return "\n\n".join(part for part in paragraphs if part and part not in boilerplate) or text


def extractive_summary(said: list[dict], answers: list[dict], tried: list[dict], threshold: float) -> str:
    """At most three short sentences: the customer's request (their first
    message that states one), their latest such message if it says something
    else, and what the bot answered to the request (else its latest answer
    to a question)."""
    first = next((m for m in said if states_a_request(m)), None)
    if first is None:
        return ("The customer asked for a person without saying why." if said
                else "The customer has not written yet.")
    last = next(m for m in reversed(said) if m is first or states_a_request(m))
    sentences = [f"The customer wrote: {quoted_sentence(first['text'])}"]
    if quoted(last["text"]) != quoted(first["text"]):
        sentences.append(f"Latest: {quoted_sentence(last['text'])}")
    answer = next((a for a in answers if a["question_id"] == first["id"]), tried[-1] if tried else None)
    sentences.append(bot_sentence(answer, threshold))
    return " ".join(sentences)


def bot_sentence(answer: dict | None, threshold: float) -> str:
    if answer is None:
        return "The bot had not answered before the handoff."
    titles = [f"\"{title}\"" for title in answer["sources"]]
    if answer["confidence"] is not None and answer["confidence"] < threshold:
        return f"The bot could not answer it (closest article: {titles[0]})." if titles else \
            "The bot could not answer it."
    if titles:
        return f"The bot answered from {' and '.join(titles[:2])}."
    return f"The bot answered: {quoted(SENTENCE_END.split(answer['answer'])[0])}"


def quoted(text: str) -> str:
    return f"\"{shorten(text, QUOTE_CHARS)}\""


def quoted_sentence(text: str) -> str:
    """The quote, followed by a full stop unless it ends a sentence itself."""
    quote = quoted(text)
    return quote if quote[-2] in ".!?…" else quote + "."


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "\u2026"


# --- details and mood ------------------------------------------------------------------------


def collected_details(facts: dict) -> dict[str, list[str]]:
    """The details the bot collected, then what the contact record knows."""
    known = {"names": [facts["contact_name"] or facts["profile_name"]], "emails": [facts["contact_email"]],
             "phones": [facts["contact_phone"]]}
    details = merge_details(facts["collected"] or {},
                            {kind: [value for value in values if value] for kind, values in known.items()})
    return {kind: details.get(kind, []) for kind in KINDS}


def sentiment_of(said: list[dict]) -> dict:
    """VADER's compound score of each of the customer's latest messages, oldest first, and where it is heading."""
    texts = [m["text"] for m in said if (m["text"] or "").strip()][-SENTIMENT_LIMIT:]
    analyzer = sentiment_analyzer()
    scores = [analyzer.polarity_scores(text[:SENTIMENT_TEXT_LIMIT])["compound"] for text in texts]
    return {"scores": scores, "trend": trend(scores), "latest": scores[-1] if scores else None}


def trend(scores: list[float]) -> str:
    """worsening / improving / steady by the least-squares line through the
    scores (one angry message among calm ones moves it less than a slide), or
    unknown below two scores."""
    count = len(scores)
    if count < 2:
        return "unknown"
    middle = (count - 1) / 2
    mean = sum(scores) / count
    slope = (sum((index - middle) * (score - mean) for index, score in enumerate(scores))
             / sum((index - middle) ** 2 for index in range(count)))
    change = slope * (count - 1)
    if change <= -TREND_CHANGE:
        return "worsening"
    if change >= TREND_CHANGE:
        return "improving"
    return "steady"
