"""The trigger engine: when the bot steps aside for a human.

Pure functions: the conversation's state, the customer's turn, the
responder's confidence and the configuration come in as arguments; nothing
is read from a database, a clock or the network, so every rule is tested by
tables of cases and `handoff triggers test` can replay conversations.

    evaluate_message(state, turn, config)   before the bot answers
    evaluate_reply(state, turn, confidence, model_needs_human, config)
                                            after the responder answered

Rules, in order; the first that escalates wins (an offer of a human lets
the later rules still escalate):

1. human_request      the customer asks for a person, in any phrasing, or
                      presses "Talk to an agent" (payload TALK_TO_AGENT), or
                      says yes right after the bot offered a person
2. trigger_phrase     an admin pattern matches a sentence (gateway.bot.settings)
3. low_confidence     `low_confidence_streak` answers in a row below the
                      threshold, and the next one is low too (evaluate_reply)
   model_needs_human  the responder itself says a person is needed (evaluate_reply)
4. repeated_question  the same question for the third time, not confirmed solved
5. frustration        VADER plus shouting, !!!/??? and frustrated phrases;
                      offers a person, or escalates, as configured
6. urgent_topic       fraud, emergency, account hacked, refund...: at once
7. vip                a VIP contact, after the bot's first (triage) answer

A conversation already escalated, or not with the bot, is not evaluated.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.bot import intents
from gateway.bot.settings import PRIORITIES, validate_bot_settings
from gateway.bot.text import WORD_CHARACTER, fold, language, normalize, terms

# The payload of the "Talk to an agent" button on every channel: the
# Messenger quick reply/postback, the WhatsApp button, the widget button.
TALK_TO_AGENT = "HANDOFF_TALK_TO_AGENT"

EXCERPT_LIMIT = 200
# Earlier customer texts compared with the new one (repeats), and searched
# for a team (routing) when the new one names none.
HISTORY_LIMIT = 20
# VADER's cost grows with the text; the start of a pasted log says enough.
SENTIMENT_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class ConversationState:
    """What the engine knows of the conversation before this turn."""

    status: str = "bot"                     # conversations.status
    already_escalated: bool = False         # an escalation was recorded (never twice)
    low_confidence_streak: int = 0          # consecutive bot answers below the threshold
    bot_answer_count: int = 0               # bot answers so far
    previous_texts: tuple[str, ...] = ()    # the customer's earlier texts, oldest first
    solved_confirmed: bool = False          # the customer confirmed (e.g. by a button) an answer solved it
    human_offered: bool = False             # the bot's last message offered a person
    contact_vip: bool = False               # contacts.vip
    contact_attributes: Mapping[str, Any] = field(default_factory=dict)  # contacts.attributes
    channel_kind: str = "web"               # whatsapp | messenger | web


@dataclass(frozen=True)
class Turn:
    """The customer's new message."""

    text: str = ""
    payload: str | None = None              # button / quick reply / postback payload


@dataclass(frozen=True)
class Decision:
    escalate: bool = False
    offer_human: bool = False
    rule: str | None = None
    team: str | None = None                 # a team name; the caller resolves it
    priority: str | None = None             # low | normal | high | urgent
    # The measured value the rule compared with its threshold: the answer's
    # confidence, the question's similarity, the frustration score; 1.0 for
    # rules that simply match.
    score: float | None = None
    excerpt: str | None = None              # the customer's words that fired the rule
    detail: Mapping[str, Any] = field(default_factory=dict)
    # The streak to store on the conversation (evaluate_reply updates it).
    low_confidence_streak: int = 0

    @property
    def fired(self) -> bool:
        return self.escalate or self.offer_human

    def event_detail(self) -> dict:
        """What the audit trail records for a rule that fired."""
        return {"rule": self.rule, "action": "escalate" if self.escalate else "offer_human",
                "score": self.score, "excerpt": self.excerpt, "team": self.team,
                "priority": self.priority, "detail": dict(self.detail)}


# --- text normalization and the two wildcard syntaxes ---------------------------------

# Words of the patterns as normalize() reads words of the text (Indic vowel signs included).
_PATTERN_TOKEN = re.compile(rf"(?:{WORD_CHARACTER}|\*)+")
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*")
# intents' sentences also end at a colon and at the Spanish, Arabic and Hindi
# marks; their clauses at a comma.
_PART = re.compile(r"[^.!?;:\n\u00bf\u00a1\u061f\u0964]+")
_COMMA = re.compile(r"[,\u060c]")


def _pattern_tokens(pattern: str) -> list[str]:
    return _PATTERN_TOKEN.findall(fold(pattern))


# Wildcards: the regex, and its lazy form for finding the leftmost place
# where what follows fits (None: bounded, so backtracking stays cheap).
_ANY_TEXT = (".*", ".*?")
_ANY_WORDS = ("(?:.* )?", "(?:.*? )??")
_WORD_CHARS = (r"[^\W_]*", r"[^\W_]*?")
# A lone * in a term does not reach across a negation or a comma: "account *
# locked" is not "account is not locked".
_UP_TO_THREE_WORDS = (intents.GAP_WORD + "{0,3}", None)


def pattern_regex(pattern: str) -> str:
    """A trigger pattern as a regex for fullmatch on a normalized sentence
    followed by one space (so every word, the last too, ends with a space)."""
    pieces: list = []
    for token in _pattern_tokens(pattern):
        if token == "*":
            pieces.append(_ANY_WORDS)
        else:
            pieces.extend(_word_pieces(token, _ANY_TEXT))
            pieces.append(" ")
    return _wildcard_regex(pieces)


def term_regex(term: str) -> str:
    """A term as a regex to search normalized text: whole words, `*` inside a
    word extends it, a lone `*` stands for up to three words."""
    pieces: list = []
    for token in _pattern_tokens(term):
        if token == "*":
            pieces.append(_UP_TO_THREE_WORDS)
        else:
            pieces.extend(_word_pieces(token, _WORD_CHARS))
            pieces.append(" ")
    return r"\b" + _wildcard_regex(pieces[:-1]) + r"\b"


def _word_pieces(token: str, wildcard: tuple) -> list:
    pieces: list = []
    for index, literal in enumerate(token.split("*")):
        if index:
            pieces.append(wildcard)
        pieces.append(literal)
    return pieces


def _wildcard_regex(pieces: list) -> str:
    """The regex of literal strings and wildcards. A wildcard with more
    pattern after its next literal takes the leftmost place where that
    literal fits, and keeps it (an atomic group): for a glob that loses no
    match, and it keeps matching linear, where a plain `.*a.*a.*b` on a long
    message backtracks for minutes."""
    merged: list = []
    for piece in pieces:
        if piece == "":
            continue
        if merged and isinstance(piece, str) and isinstance(merged[-1], str):
            merged[-1] += piece
        elif merged and not isinstance(piece, str) and not isinstance(merged[-1], str):
            merged[-1] = piece if piece == merged[-1] else _ANY_TEXT   # "* *agent": any text
        else:
            merged.append(piece)
    regex = ""
    index = 0
    while index < len(merged):
        piece = merged[index]
        if isinstance(piece, str):
            regex += re.escape(piece)
        elif index + 2 < len(merged) and piece[1] is not None:
            regex += "(?>" + piece[1] + re.escape(merged[index + 1]) + ")"
            index += 1
        else:
            regex += piece[0]
        index += 1
    return regex


def _any_term(words: list[str]) -> re.Pattern | None:
    return re.compile("|".join(term_regex(word) for word in words)) if words else None


def _topic_patterns(words: list[str], concepts_by_name: Mapping[str, str]) -> tuple[re.Pattern, ...]:
    """The regex of a topic's terms, then that of its concepts ("@name": the
    concepts of gateway.bot.intents), each when there are any."""
    concepts = [concepts_by_name[word[1:]] for word in words if word.startswith("@")]
    terms_ = _any_term([word for word in words if not word.startswith("@")])
    # Every concept starts a word: tried only where a word starts, they fail twice as fast elsewhere.
    concepts_ = re.compile(r"(?<![^\W_])(?:" + "|".join(concepts) + ")") if concepts else None
    return tuple(pattern for pattern in (terms_, concepts_) if pattern)


class _Text:
    """One customer text in the forms the rules read, each computed once."""

    def __init__(self, original: str):
        self.original = original
        self.topics: dict[int, tuple] = {}  # _topics() per configuration: several rules ask

    @functools.cached_property
    def normalized(self) -> str:
        return normalize(self.original)

    @functools.cached_property
    def sentences(self) -> list[tuple[str, str]]:
        """(original sentence, normalized) pairs, the punctuation kept in the original."""
        pairs = [(match.group().strip(), normalize(match.group())) for match in _SENTENCE.finditer(self.original)]
        return [(original, normalized) for original, normalized in pairs if normalized]

    @functools.cached_property
    def parts(self) -> list[str]:
        """The sentences as gateway.bot.intents reads them: normalized, commas
        kept as "," tokens (a clause's end), key words' typos corrected."""
        return [part for part, _ in self.questioned_parts]

    @functools.cached_property
    def questioned_parts(self) -> list[tuple[str, bool]]:
        """(part, whether the sentence ends in a question mark)."""
        found = []
        for match in _PART.finditer(self.original):
            clauses = [normalize(clause) for clause in _COMMA.split(match.group())]
            words = " , ".join(clause for clause in clauses if clause).split()
            if words:
                question = self.original[match.end():match.end() + 1] in ("?", "\u061f")
                found.append((" ".join(intents.corrected(word) for word in words), question))
        return found


@functools.lru_cache(maxsize=64)
def text_of(original: str) -> _Text:
    """The analysed forms of a customer text, shared by the rules that read it
    before the bot answers and those that judge the answer (one job)."""
    return _Text(original)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "\u2026"


# --- the configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class UrgentTopic:
    name: str
    # Its words and its concepts ("@name"), apart: the words a customer
    # used are the better excerpt when both match ("hacked", not "someone
    # hacked my account"). For sentences in Latin letters only, the same
    # without the Arabic and Devanagari ones (intents.reads_latin).
    patterns: tuple[re.Pattern, ...]
    latin_patterns: tuple[re.Pattern, ...]
    priority: str
    team: str | None
    when: str                               # mentioned | requested (gateway.bot.settings)


@dataclass(frozen=True)
class RoutingRule:
    team: str
    words: re.Pattern | None
    channels: frozenset[str] | None
    vip: bool | None

    def applies_to(self, state: ConversationState, vip: bool) -> bool:
        return ((self.channels is None or state.channel_kind in self.channels)
                and (self.vip is None or self.vip == vip))


@dataclass(frozen=True)
class TriggerConfig:
    """The bot settings document, compiled once for the engine."""

    confidence_threshold: float
    low_confidence_streak: int
    repeat_times: int
    repeat_similarity: float
    human_request_extras: re.Pattern | None
    trigger_patterns: re.Pattern | None     # one alternation, group p<i> for trigger_phrases[i]
    trigger_phrases: tuple[str, ...]
    frustration_action: str
    frustration_threshold: float
    frustration_extras: re.Pattern | None
    urgent_topics: tuple[UrgentTopic, ...]
    routing_rules: tuple[RoutingRule, ...]
    default_team: str
    vip_attribute: str | None
    vip_values: frozenset[str]
    vip_after_answers: int
    vip_priority: str
    rule_priorities: Mapping[str, str]
    disabled_rules: frozenset[str]

    @classmethod
    def from_settings(cls, document: Mapping[str, Any] | None = None) -> TriggerConfig:
        """The engine's configuration from a bot settings document (validated
        here too; missing fields take their defaults). Compiled once per
        distinct document: callers may load the settings for every message."""
        return _compile_config(json.dumps(document or {}, sort_keys=True))


@functools.lru_cache(maxsize=16)
def _compile_config(document_json: str) -> TriggerConfig:
    settings = validate_bot_settings(json.loads(document_json))
    phrases = tuple(settings["trigger_phrases"])
    vip = settings["vip"]
    return TriggerConfig(
        confidence_threshold=settings["confidence_threshold"],
        low_confidence_streak=settings["low_confidence_streak"],
        repeat_times=settings["repeated_question"]["times"],
        repeat_similarity=settings["repeated_question"]["similarity"],
        human_request_extras=_any_term(settings["human_request_phrases"]),
        trigger_patterns=re.compile("|".join(
            f"(?P<p{index}>{pattern_regex(phrase)})" for index, phrase in enumerate(phrases))) if phrases else None,
        trigger_phrases=phrases,
        frustration_action=settings["frustration"]["action"],
        frustration_threshold=settings["frustration"]["threshold"],
        frustration_extras=_any_term(settings["frustration"]["phrases"]),
        urgent_topics=tuple(
            UrgentTopic(topic["name"], _topic_patterns(topic["words"], intents.CONCEPTS),
                        _topic_patterns([word for word in topic["words"] if intents.reads_latin(fold(word))],
                                        intents.LATIN_CONCEPTS), topic["priority"], topic["team"], topic["when"])
            for topic in settings["urgent_topics"]),
        routing_rules=tuple(
            RoutingRule(rule["team"], _any_term(rule["words"]),
                        frozenset(rule["channels"]) if rule["channels"] is not None else None, rule["vip"])
            for rule in settings["routing_rules"]),
        default_team=settings["default_team"],
        vip_attribute=vip["attribute"],
        vip_values=frozenset(fold(value) for value in vip["values"]),
        vip_after_answers=vip["after_answers"],
        vip_priority=vip["priority"],
        rule_priorities=dict(settings["rule_priorities"]),
        disabled_rules=frozenset(settings["disabled_rules"]),
    )


# --- rule 1: an explicit request for a human --------------------------------------------

# The phrasings, in the ten languages the engine reads, are in
# gateway/bot/intents.py (person_request); admins add their own
# (human_request_phrases), negated as the built-in ones are.


def _human_request(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    if turn.payload is not None and turn.payload.strip() == TALK_TO_AGENT:
        return _Finding("human_request", 1.0, turn.text or turn.payload, {"via": "button"})
    if state.human_offered and intents.ACCEPTS_OFFER.match(text.normalized):
        return _Finding("human_request", 1.0, text.original, {"via": "accepted_offer"})
    refusal = None
    for part in text.parts:
        found = intents.person_request(part)
        if found and found[1] == "words":
            return _Finding("human_request", 1.0, found[0], {"via": "words"})
        refusal = refusal or found
    match = _first_unnegated(config.human_request_extras, text.normalized, intents.REQUEST_NEGATED)
    if match:
        return _Finding("human_request", 1.0, match.group(), {"via": "admin_phrase"})
    if refusal:
        return _Finding("human_request", 1.0, refusal[0], {"via": "refused_bot"})
    return None


def _first_unnegated(pattern: re.Pattern | None, normalized: str, negation: re.Pattern) -> re.Match | None:
    if pattern is None:
        return None
    for match in pattern.finditer(normalized):
        if not negation.search(normalized, 0, match.start()):
            return match
    return None


# --- rule 2: admin trigger phrases ----------------------------------------------------


def _trigger_phrase(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    if config.trigger_patterns is None:
        return None
    for original, normalized in text.sentences:
        match = config.trigger_patterns.fullmatch(normalized + " ")
        if match:
            pattern = config.trigger_phrases[int(match.lastgroup[1:])]
            return _Finding("trigger_phrase", 1.0, original, {"pattern": pattern})
    return None


# --- rule 4: the same question again ----------------------------------------------------

# Words that say how a question is asked again, not what it is about.
_REPEAT_FILLER = frozenset({"still", "again", "already", "yet", "ask", "question", "once", "more", "answer", "help",
                            "yes", "yeah", "ok", "okay", "sure", "hmm", "um", "so", "now", "anyone", "someone"})
# "Thanks, that worked": what came before is solved, a new question starts afresh.
_SOLVED = re.compile(
    r"\b(?:(?:that|this|it|which) (?:worked|works|helped|did it|did the trick|fixed it|solved it|answers it"
    r"|answered it)|(?:works|working) now|solved|resolved|fixed|sorted|all good|got it|perfect|thats all"
    r"|never mind|nevermind|no longer need)\b")
# "not solved", "hasn't been fixed", "still doesn't work".
_NEGATED = re.compile(r"(?:^| )(?:not|never|no|cannot|cant|dont|doesnt|didnt|isnt|arent|wasnt|werent|hasnt|havent"
                      r"|hadnt|wont|wouldnt|couldnt|shouldnt)"
                      r"(?: \S+){0,2} ?$")


# The same earlier texts are read again at every turn of a conversation.
@functools.lru_cache(maxsize=4096)
def _content_terms(text: str) -> frozenset[str]:
    """The question's topic words, as the knowledge base analyses them (stemmed, synonyms unified)."""
    return frozenset(term for term in terms(text) if term not in _REPEAT_FILLER)


@functools.lru_cache(maxsize=4096)
def confirms_solved(text: str) -> bool:
    """The customer says an answer solved their question ("thanks, that worked")."""
    for original, normalized in _Text(text).sentences:
        if original.endswith("?"):
            continue
        if _first_unnegated(_SOLVED, normalized, _NEGATED):
            return True
    return False


def _repeated_question(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    current = _content_terms(text.original)
    if not current or state.solved_confirmed:
        return None
    earlier = []
    for previous in state.previous_texts[-HISTORY_LIMIT:]:
        if confirms_solved(previous):
            earlier.clear()
        else:
            earlier.append(previous)
    similar = []
    for previous in earlier:
        previous_terms = _content_terms(previous)
        if previous_terms:
            similarity = len(current & previous_terms) / len(current | previous_terms)
            if similarity >= config.repeat_similarity:
                similar.append((similarity, previous))
    if len(similar) + 1 < config.repeat_times:
        return None
    score = round(min(value for value, _ in similar), 3)
    return _Finding("repeated_question", score, text.original,
                    {"times": len(similar) + 1, "earlier": [_excerpt(previous) for _, previous in similar]})


# --- rule 5: frustration ------------------------------------------------------------------

# What VADER misses or underrates: complaints about the service itself.
_FRUSTRATED_PHRASES = re.compile(r"\b(?:" + "|".join([
    r"ridiculous|absurd|unacceptable|useless|pointless|hopeless|incompetent|unbelievable|unhelpful",
    r"(?:not|isnt|is not|arent|are not) (?:very |really |at all )?(?:helping|helpful)",
    r"(?:doesnt|does not|didnt|did not) help|no help|not (?:much |any )?help at all",
    r"waste of (?:my |our )?time|wasting (?:my|our) time|fed up|(?:sick|tired)(?: and tired)? of|had enough",
    r"give up|giving up|never again|what is wrong with you",
    r"(?:a|what a|such a|youre a|this is a) joke|(?:are you|you) (?:kidding|joking|serious)|kidding me",
    r"for (?:gods|heavens|petes|fucks|christs) sake|wtf|wth|ffs|what the (?:hell|heck|fuck)",
    (r"worst ever|(?:worst|terrible|awful|horrible|horrendous|pathetic|lousy|poor|bad) (?:service|support"
     r"|experience|company|bot|help|customer service)"),
    # "this is terrible" blames us; "that's terrible news" sympathizes
    (r"(?:(?:this|you) (?:is|are|was|were)|youre) (?:so |just |really |absolutely |totally )?"
     r"(?:terrible|awful|horrible|pathetic|insane|crazy|nonsense|bullshit|rubbish)"),
    (r"(?:so|very|really|extremely|incredibly|super|getting) (?:angry|annoyed|frustrated|upset|disappointed|mad"
     r"|pissed|irritated)"),
    (r"angry|furious|frustrated|frustrating|annoyed|annoying|irritated|irritating|pissed|livid|outraged|disgusted"
     r"|disappointed|disappointing|infuriating"),
    (r"(?:stupid|dumb|idiotic|useless) (?:bot|robot|machine|ai|system|app|company|service|thing)"
     r"|(?:youre|you are) (?:so )?(?:stupid|dumb|an idiot)"),
    r"i hate (?:this|you|it|your|that|how)",
    (r"still (?:not|no|nothing|havent|hasnt|hadnt|isnt|doesnt|dont|cant|cannot|wont|didnt|broken|waiting"
     r"|nobody|no one|unresolved|the same|wrong)"),
    (r"(?:waiting|waited) (?:for )?(?:over |more than |almost |nearly |about |like )?(?:\d+|a|an|one|two|three"
     r"|four|five|six|seven|eight|nine|ten|several|many|few|a few|couple of|a couple of) (?:more )?"
     r"(?:days?|weeks?|months?|hours?)"),
    r"(?:waiting|waited) (?:forever|for ages|ages|so long|too long|for so long|for too long|all day)",
    r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th|umpteenth|hundredth|millionth|nth) time",
    (r"(?:asked|told you|said|explained|contacted you|written|wrote|messaged|called|emailed|tried)"
     r" (?:this |that |it |you |the same )?(?:already |now )?(?:\d+|two|three|four|five|several|many|multiple"
     r"|so many|a hundred|a million|countless) times"),
    r"i (?:already|just) (?:told|said|asked|explained)|as i (?:already )?(?:said|told you|mentioned|explained)",
    (r"(?:nobody|no one|noone) (?:is )?(?:helps|helping|answers|answering|cares|responds|responding|replies"
     r"|replying|listens|listening)"),
    (r"(?:youre|you are) not listening|(?:you|youre|this bot|the bot) (?:dont|do not|doesnt|does not|not)"
     r" (?:understand|get it)"),
    r"nothing (?:works|is working|working)|(?:broken|not working) again",
    r"bullshit|crap|damn|shit|fuck\w*",
]) + r")\b")
_EXCLAIMS = re.compile(r"[!?]{2,}")
_LETTERS = re.compile(r"[^\W\d_]+")
# Signal strengths, combined as independent evidence: 1 - prod(1 - signal).
PHRASE_SIGNAL = 0.65
SHOUTING_SIGNAL = 0.6
SHOUTING_RATIO = 0.7
EXCLAIM_SIGNAL = {2: 0.25, 3: 0.35}
SENTIMENT_WEIGHT = 0.7
# VADER compound from which a message reads as glad: capitals and !!! are
# then enthusiasm ("THANK YOU SO MUCH!!!"), not anger.
GLAD = 0.5


@functools.cache
def sentiment_analyzer():
    # Imported and built on first use: it reads its lexicon files from disk.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def shouting_ratio(text: str) -> float:
    """The share of capital letters in words of three letters or more; 0 unless
    at least two words and eight letters are capitals, so that a couple of
    acronyms (ATM, PIN, USPS) is not shouting."""
    words = [word for word in _LETTERS.findall(text) if len(word) >= 3]
    shouted = [word for word in words if word.isupper()]
    shouted_letters = sum(len(word) for word in shouted)
    if len(shouted) < 2 or shouted_letters < 8:
        return 0.0
    capitals = sum(1 for word in words for ch in word if ch.isupper())
    return capitals / sum(len(word) for word in words)


def frustration_score(text: str, extra_phrases: re.Pattern | None = None) -> tuple[float, dict]:
    """A score in 0..1 and what made it."""
    compound = sentiment_analyzer().polarity_scores(text[:SENTIMENT_TEXT_LIMIT])["compound"]
    detail: dict[str, Any] = {"sentiment": compound}
    signals = [SENTIMENT_WEIGHT * max(0.0, -compound)]
    if compound < GLAD:
        normalized = normalize(text)
        phrases = [match.group() for pattern in (_FRUSTRATED_PHRASES, extra_phrases) if pattern is not None
                   for match in pattern.finditer(normalized) if not _NEGATED.search(normalized, 0, match.start())]
        if phrases:
            signals.append(PHRASE_SIGNAL)
            detail["phrases"] = phrases[:5]
        shouting = shouting_ratio(text)
        if shouting >= SHOUTING_RATIO:
            signals.append(SHOUTING_SIGNAL)
            detail["shouting"] = round(shouting, 2)
        exclaims = max((len(run) for run in _EXCLAIMS.findall(text)), default=0)
        if exclaims >= 2:
            signals.append(EXCLAIM_SIGNAL[min(exclaims, 3)])
            detail["exclaims"] = exclaims
    calm = 1.0
    for signal in signals:
        calm *= 1.0 - signal
    return round(1.0 - calm, 3), detail


def _frustration(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    if not text.original.strip():
        return None
    score, detail = frustration_score(text.original, config.frustration_extras)
    if score < config.frustration_threshold:
        return None
    detail["threshold"] = config.frustration_threshold
    excerpt = detail["phrases"][0] if "phrases" in detail else text.original
    if config.frustration_action == "escalate":
        return _Finding("frustration", score, excerpt, detail)
    if state.human_offered:
        # Offered a person already, and still frustrated: take them to one.
        return _Finding("frustration", score, excerpt, dict(detail, after_offer=True))
    return _Finding("frustration", score, excerpt, detail, offer=True)


# --- rule 6: urgent and sensitive topics ------------------------------------------------

# A topic is raised when a sentence names it, not to set it aside ("I don't
# want a refund") nor as the name of a rule or a page ("fraud protection",
# "the outage page"). A topic escalating when `requested` (refunds,
# cancellations) is raised only when asked for or reported ("I want my money
# back", "cancel my order 4512"); asked about ("what is your refund
# policy?", "can I cancel anytime?"), the bot answers, and offers a person
# if it cannot (evaluate_reply). See gateway/bot/intents.py.


def _urgent_topic(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    raised, _ = _topics(text, config)
    if raised is None:
        return None
    return _Finding("urgent_topic", 1.0, raised.words, {"topic": raised.topic.name}, priority=raised.topic.priority,
                    team=raised.topic.team)


@dataclass(frozen=True)
class _Mention:
    topic: UrgentTopic
    words: str
    sure: bool = True                       # the words made clear it is asked about (intents.read_topic)


def _topics(text: _Text, config: TriggerConfig) -> tuple[_Mention | None, _Mention | None]:
    """(the most urgent topic raised, the first topic only asked about), each
    with the customer's words; None where there is none."""
    if id(config) not in text.topics:
        text.topics[id(config)] = _find_topics(text, config)
    return text.topics[id(config)]


def _find_topics(text: _Text, config: TriggerConfig) -> tuple[_Mention | None, _Mention | None]:
    raised = asked = None
    for topic in config.urgent_topics:
        for part, question_mark in text.questioned_parts:
            patterns = topic.patterns if intents.SCRIPT_LETTER.search(part) else topic.latin_patterns
            for match in (match for pattern in patterns for match in pattern.finditer(part)):
                start, end = match.span()
                if intents.dismissed(part, start, end):
                    continue
                reading = intents.TopicReading(asked=True, sure=True) if intents.names_a_rule(part, start, end) \
                    else intents.read_topic(part, start, end, question_mark) if topic.when == "requested" else None
                if reading and reading.asked:
                    if topic.when == "requested":
                        asked = asked or _Mention(topic, match.group().strip(), reading.sure)
                    continue
                if raised is None or PRIORITIES.index(topic.priority) > PRIORITIES.index(raised.topic.priority):
                    raised = _Mention(topic, match.group().strip())
                break
            else:
                continue
            break
    return raised, asked


# --- rule 7: VIP -------------------------------------------------------------------------


def vip_reason(state: ConversationState, config: TriggerConfig) -> str | None:
    """Why the contact is a VIP ("vip", "tier=gold"), or None."""
    if state.contact_vip:
        return "vip"
    if config.vip_attribute is None:
        return None
    value = state.contact_attributes.get(config.vip_attribute)
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, (str, int, float)) and fold(str(item)).strip() in config.vip_values:
            return f"{config.vip_attribute}={item}"
    return None


def _vip(state: ConversationState, turn: Turn, text: _Text, config: TriggerConfig) -> _Finding | None:
    reason = vip_reason(state, config)
    if reason is None or state.bot_answer_count < config.vip_after_answers:
        return None
    return _Finding("vip", 1.0, reason, {"bot_answers": state.bot_answer_count}, priority=config.vip_priority)


# --- putting it together ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    rule: str
    score: float
    excerpt: str
    detail: dict
    offer: bool = False
    priority: str | None = None             # None: the rule's configured priority
    team: str | None = None                 # None: the routing rules decide


_MESSAGE_RULES: tuple[tuple[str, Callable[..., _Finding | None]], ...] = (
    ("human_request", _human_request),
    ("trigger_phrase", _trigger_phrase),
    ("repeated_question", _repeated_question),
    ("frustration", _frustration),
    ("urgent_topic", _urgent_topic),
    ("vip", _vip),
)


def evaluate_message(state: ConversationState, turn: Turn, config: TriggerConfig) -> Decision:
    """Before the bot answers: should this turn go to a human (or offer one)?"""
    skipped = _not_evaluated(state)
    if skipped:
        return skipped
    text = text_of(turn.text)
    offer = None
    for rule, check in _MESSAGE_RULES:
        if rule in config.disabled_rules:
            continue
        finding = check(state, turn, text, config)
        if finding is None:
            continue
        if not finding.offer:
            return _decide(finding, state, text, config, state.low_confidence_streak)
        offer = offer or finding
    if offer:
        return _decide(offer, state, text, config, state.low_confidence_streak)
    return Decision(low_confidence_streak=state.low_confidence_streak)


def evaluate_reply(state: ConversationState, turn: Turn, confidence: float, model_needs_human: bool,
                   config: TriggerConfig) -> Decision:
    """After the responder answered `turn` (a failed answer has confidence 0):
    escalate instead of sending the answer? The decision carries the new
    low-confidence streak for the caller to store."""
    skipped = _not_evaluated(state)
    if skipped:
        return skipped
    low = confidence < config.confidence_threshold
    streak = state.low_confidence_streak + 1 if low else 0
    text = text_of(turn.text)
    finding = None
    if low and state.low_confidence_streak >= config.low_confidence_streak \
            and "low_confidence" not in config.disabled_rules:
        finding = _Finding("low_confidence", round(confidence, 3), text.original,
                           {"threshold": config.confidence_threshold, "streak": streak})
    elif model_needs_human and "model_needs_human" not in config.disabled_rules:
        finding = _Finding("model_needs_human", round(confidence, 3), text.original, {})
    elif low and "urgent_topic" not in config.disabled_rules:
        # A question about a sensitive topic that the bot cannot answer: the
        # answer comes with the offer of a person ("what's the fee to cancel?").
        asked = _topics(text, config)[1]
        if asked:
            finding = _Finding("urgent_topic", round(confidence, 3), asked.words,
                               {"topic": asked.topic.name, "asked": True}, offer=True, priority=asked.topic.priority,
                               team=asked.topic.team)
    if finding is None:
        return Decision(low_confidence_streak=streak)
    return _decide(finding, state, text, config, streak)


def humans_first(state: ConversationState, turn: Turn, config: TriggerConfig) -> Decision:
    """offline_or_missed channels: a person answers before the bot does. The
    conversation is routed (and prioritized, for VIPs) as an escalation would be."""
    text = text_of(turn.text)
    vip = vip_reason(state, config) is not None
    team, routing = route(state, text.normalized, vip, config)
    return Decision(escalate=True, rule="humans_first", team=team, priority=config.vip_priority if vip else "normal",
                    score=1.0, excerpt=_excerpt(text.original), detail={"routing": routing},
                    low_confidence_streak=state.low_confidence_streak)


def _not_evaluated(state: ConversationState) -> Decision | None:
    if state.status != "bot":
        reason = f"the conversation is {state.status}"
    elif state.already_escalated:
        reason = "the conversation was escalated already"
    else:
        return None
    return Decision(low_confidence_streak=state.low_confidence_streak, detail={"not_evaluated": reason})


def _decide(finding: _Finding, state: ConversationState, text: _Text, config: TriggerConfig,
            streak: int) -> Decision:
    vip = vip_reason(state, config) is not None
    priority = finding.priority or config.rule_priorities[finding.rule]
    if vip and PRIORITIES.index(config.vip_priority) > PRIORITIES.index(priority):
        priority = config.vip_priority
    team, routing = (finding.team, "topic") if finding.team else route(state, text.normalized, vip, config)
    detail = dict(finding.detail)
    # "My account was hacked, get me a human": the request fires first, but
    # the topic still sets how urgent it is and who takes it.
    raised = None if finding.rule == "urgent_topic" or "urgent_topic" in config.disabled_rules \
        else _topics(text, config)[0]
    if raised and PRIORITIES.index(raised.topic.priority) > PRIORITIES.index(priority):
        priority, detail["topic"] = raised.topic.priority, raised.topic.name
        if raised.topic.team and not finding.team:
            team, routing = raised.topic.team, "topic"
    return Decision(
        escalate=not finding.offer, offer_human=finding.offer, rule=finding.rule, team=team, priority=priority,
        score=finding.score, excerpt=_excerpt(finding.excerpt), detail=dict(detail, routing=routing),
        low_confidence_streak=streak,
    )


def route(state: ConversationState, normalized: str, vip: bool, config: TriggerConfig) -> tuple[str, str]:
    """The team for this conversation and why: the first routing rule that
    applies to the new message (its words, or a rule without words whose
    channel/VIP conditions hold), else the first whose words appear in an
    earlier message (newest first), else the default team."""
    rules = [(index, rule) for index, rule in enumerate(config.routing_rules) if rule.applies_to(state, vip)]
    for index, rule in rules:
        if rule.words is None:
            return rule.team, f"rule {index + 1}"
        match = rule.words.search(normalized)
        if match:
            return rule.team, f"rule {index + 1}: {match.group()!r}"
    # Every rule still in play has words: one without would have applied above.
    for previous in reversed(state.previous_texts[-HISTORY_LIMIT:]):
        earlier = normalize(previous)
        for index, rule in rules:
            match = rule.words.search(earlier)
            if match:
                return rule.team, f"rule {index + 1}: {match.group()!r} earlier"
    return config.default_team, "default team"


# --- a stored conversation, and a responder's answer ----------------------------------------


# --- a second opinion -----------------------------------------------------------------------

# A frustration score this close below its threshold leaves the rules unsure.
FRUSTRATION_MARGIN = 0.25


@dataclass(frozen=True)
class Judgment:
    """An LLM's second opinion on a message the rules were unsure of (workers/brain/judge.py)."""

    escalate: bool
    reason: str                             # the model's, one sentence
    unsure: str                             # what the rules were unsure of (unsure_about)


def unsure_about(state: ConversationState, turn: Turn, config: TriggerConfig) -> str | None:
    """What the rules are unsure of in a message they do not escalate, put as
    the question for a second opinion, or None when they are sure: a
    sensitive topic whose words do not say whether it is asked about or
    asked for ("refund" with no question or request around it), a word for a
    person in a message that asks for none, frustration just below its
    threshold, a language the rules do not read."""
    if _not_evaluated(state) or "model_needs_human" in config.disabled_rules:
        return None
    text = text_of(turn.text)
    asked = _topics(text, config)[1]
    if asked and not asked.sure:
        return f"whether the customer asks how {asked.topic.name} works or asks us to act on it"
    if any(intents.mentions_a_person(part) for part in text.parts):
        return "whether the customer asks for a person"
    words = text.normalized.split()
    if len(words) >= 4 and language(text.original) is None:
        return "what the message means: it is in a language the rules do not read"
    if words:
        score, _ = frustration_score(text.original, config.frustration_extras)
        if config.frustration_threshold - FRUSTRATION_MARGIN <= score < config.frustration_threshold:
            return "whether the customer is upset enough to need a person"
    return None


def judge_reply(state: ConversationState, turn: Turn, reply, config: TriggerConfig,
                judgment: Judgment | None = None) -> Decision:
    """The confidence triggers on a responder's answer (workers.brain.Reply:
    confidence, needs_human, failed, detail). A failed answer counts as no
    confidence; small talk ("hi", "thanks") answers no question, so it
    neither extends nor resets the low-confidence streak; an answer to some
    of the message's questions (detail["unanswered"]: the others) comes with
    the offer of a person. A second opinion that a person should take over
    (`judgment`) escalates by model_needs_human, with its reason."""
    if reply.detail.get("small_talk"):
        return Decision(low_confidence_streak=state.low_confidence_streak)
    decision = evaluate_reply(state, turn, 0.0 if reply.failed else reply.confidence, reply.needs_human, config)
    if judgment and judgment.escalate and not decision.escalate and "model_needs_human" not in config.disabled_rules:
        finding = _Finding("model_needs_human", round(reply.confidence, 3), turn.text,
                           {"judge": judgment.reason, "unsure": judgment.unsure})
        return _decide(finding, state, text_of(turn.text), config, decision.low_confidence_streak)
    unanswered = reply.detail.get("unanswered")
    if unanswered and not decision.fired and "low_confidence" not in config.disabled_rules:
        # Some of the message's questions got an answer, the others the offer of a person.
        finding = _Finding("low_confidence", round(reply.confidence, 3), unanswered[0], {"unanswered": unanswered},
                           offer=True)
        return _decide(finding, state, text_of(turn.text), config, decision.low_confidence_streak)
    return decision


def conversation_state(conversation: dict, known: dict) -> ConversationState:
    """The trigger engine's view of a conversation row and its brain_context()."""
    return ConversationState(
        status=conversation["status"],
        already_escalated=conversation["escalated_at"] is not None,
        low_confidence_streak=conversation["low_confidence_streak"],
        bot_answer_count=known["bot_answer_count"],
        previous_texts=known["previous_customer_texts"],
        human_offered=known["human_offered"],
        contact_vip=known["contact_vip"],
        contact_attributes=known["contact_attributes"],
        channel_kind=known["channel_kind"],
    )
