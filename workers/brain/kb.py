"""The built-in knowledge-base responder: BM25 over kb_articles, no key, no network.

How it answers, in steps an admin can follow:

1. Articles and questions go through the same text analysis
   (gateway/bot/text.py, which the trigger engine shares): folded to
   lowercase without accents, a few spellings unified ("e-mail", "gift
   card"), stated lengths of time ("5 business days", "a week") made one
   term, words stemmed and mapped to one term per concept ("package" and
   "parcel" are one term), function words and conversational filler dropped.
   Questions are also rewritten from how customers ask to the words help
   articles use ("money back" -> refund, "how long" -> a length of time).
2. Articles are split into passages (paragraphs; a heading, or a line that
   ends in ":", stays with what follows it). A passage's terms are its
   article's title, counted twice, and its text.
3. A question word that no article uses is tried as a typo: one letter away
   from a word the articles use ("adress" -> address).
4. The confidence of a passage is its coverage: the share of the question's
   informative vocabulary (terms weighted by IDF) that the passage contains.
   A word that no article uses weighs more than any word they do use, so an
   off-topic question scores low even when a common word ("order",
   "account") matches. The answer is the passage with the best coverage,
   BM25 breaking ties.
5. Greetings, thanks and goodbyes get a short friendly reply, marked as small
   talk (detail["small_talk"]) with confidence 0: it answers no question.
6. The question is what the message asks (text.questions_asked): without
   its greetings and thanks ("Thanks! One more thing: how much is
   shipping?"), its order numbers, amounts and emails (details of the case,
   not words an article uses; an order number alone says the question is
   about an order: "Is #48213 on its way?"). A message of several questions
   gets an answer for each it can answer, and an offer of a person for the
   rest (detail["unanswered"]).
7. The bot's own sentences ("not sure", small talk) follow the language of
   the question (gateway/handoff/wording.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from gateway.bot.details import extract_details
from gateway.bot.text import (
    SENTENCE_END,
    WORD,
    fold,
    language,
    one_edit_away,
    questions_asked,
    small_talk_kind,
    terms,
    typo_index,
)
from gateway.handoff import wording
from workers.brain import Reply

# Below this the bot does not pretend: it says it is not sure and offers a human.
CONFIDENT = 0.5
K1, B = 1.5, 0.75
TITLE_REPEAT = 2  # a title term counts as this many occurrences in each of its passages
# IDF is computed as if this many more passages, sharing no term with the
# question, were in the knowledge base: with a handful of articles every
# known word would otherwise weigh almost nothing next to an unknown one,
# and the confidence of a small knowledge base would not mean what it means
# for a large one.
PRIOR_PASSAGES = 20
# Only terms at least this long are tried as typos: shorter ones are one
# letter away from too many other words ("truck" / "track").
TYPO_MIN_LENGTH = 6
TYPO_MATCH_WEIGHT = 0.8  # a corrected typo is weaker evidence than the word itself
# A long passage is cut to the sentences that best match the question.
ANSWER_MAX_CHARS = 600

@dataclass(frozen=True, eq=False)
class Passage:
    title: str
    text: str
    term_counts: Counter   # of its title's terms (TITLE_REPEAT times each) and its text's
    length: int            # number of terms
    title_words: frozenset[str]  # every word of the title, stopwords too (a tie-breaker)


@dataclass(frozen=True)
class Match:
    passage: Passage
    coverage: float   # share of the question's informative weight the passage contains, 0..1
    score: float      # BM25


class KnowledgeBase:
    """An index over the passages of a list of articles ({"title", "body", ...})."""

    def __init__(self, articles: list[dict]):
        self.passages: list[Passage] = []
        for article in articles:
            title_terms = terms(article["title"]) * TITLE_REPEAT
            title_words = frozenset(WORD.findall(fold(article["title"])))
            for text in passages_of(article["body"]):
                passage_terms = title_terms + terms(text)
                self.passages.append(Passage(article["title"], text, Counter(passage_terms), len(passage_terms),
                                             title_words))
        self.document_frequency: Counter[str] = Counter()
        for passage in self.passages:
            self.document_frequency.update(passage.term_counts.keys())
        count = len(self.passages)
        self.average_length = sum(p.length for p in self.passages) / count if count else 0.0
        self.typo_index = typo_index(self.document_frequency, TYPO_MIN_LENGTH - 1)

    def idf(self, document_frequency: int) -> float:
        count = len(self.passages) + PRIOR_PASSAGES
        return math.log(1 + (count - document_frequency + 0.5) / (document_frequency + 0.5))

    def query(self, question: str) -> dict[str, tuple[str, float]]:
        """Each informative term of the question -> (the known term it matches,
        how strongly); a term that matches nothing maps to ("", 0)."""
        wanted = terms(question, question=True)
        if "order" not in wanted and extract_details(question).get("order_numbers"):
            wanted.append("order")
        resolved = {}
        for term in dict.fromkeys(wanted):
            if term in self.document_frequency:
                resolved[term] = (term, 1.0)
            else:
                corrected = self.correct_typo(term)
                resolved[term] = (corrected, TYPO_MATCH_WEIGHT) if corrected else ("", 0.0)
        return resolved

    def correct_typo(self, term: str) -> str | None:
        """The known term one letter away from this one (the most common, if several)."""
        if len(term) < TYPO_MIN_LENGTH:
            return None
        candidates = one_edit_away(term, self.typo_index)
        return max(sorted(candidates), key=self.document_frequency.__getitem__) if candidates else None

    def search(self, question: str) -> list[Match]:
        """The passages sharing a term with the question, best first."""
        query = self.query(question)
        if not query or not self.passages:
            return []
        # An unknown term weighs as if no passage had it: more than any known term.
        weights = {term: self.idf(self.document_frequency[known]) for term, (known, _) in query.items()}
        total_weight = sum(weights.values())
        matches = []
        for passage in self.passages:
            score = covered = 0.0
            for term, (known, strength) in query.items():
                tf = passage.term_counts.get(known, 0)
                if not tf:
                    continue
                covered += weights[term] * strength
                norm = tf + K1 * (1 - B + B * passage.length / self.average_length)
                score += weights[term] * strength * tf * (K1 + 1) / norm
            if covered:
                matches.append(Match(passage, covered / total_weight, score))
        # Equal coverage: the passage whose title echoes the question's own words
        # ("where is my parcel" -> "Where is my order"), then BM25.
        asked = set(WORD.findall(fold(question)))
        matches.sort(key=lambda match: (match.coverage, len(asked & match.passage.title_words), match.score),
                     reverse=True)
        return matches

    def answer(self, message: str) -> Reply:
        small_talk = small_talk_reply(message)
        if small_talk:
            return small_talk
        spoken = language(message)
        asked = questions_asked(message)
        replies = [self.answer_one(question, spoken) for question in asked]
        return replies[0] if len(replies) == 1 else several_answers(asked, replies, spoken)

    def answer_one(self, question: str, spoken: str | None) -> Reply:
        matches = self.search(question)
        if not matches:
            return not_sure_reply(0.0, spoken)
        best = matches[0]
        confidence = round(min(1.0, best.coverage), 3)
        if confidence < CONFIDENT:
            return not_sure_reply(confidence, spoken, sources=(best.passage.title,))
        return Reply(text=answer_text(best.passage.text, question), confidence=confidence,
                     sources=(best.passage.title,))


def several_answers(asked: list[str], replies: list[Reply], spoken: str | None) -> Reply:
    """One reply to a message of several questions: the answers the knowledge
    base is sure of (each passage once), then the offer of a person for the
    questions it is not sure of. Its confidence is that of its least sure
    answer; none sure, it is not sure."""
    answered = [reply for reply in replies if reply.confidence >= CONFIDENT]
    if not answered:
        return not_sure_reply(max(reply.confidence for reply in replies), spoken)
    unanswered = [question for question, reply in zip(asked, replies) if reply.confidence < CONFIDENT]
    texts = list(dict.fromkeys(reply.text for reply in answered))
    if unanswered:
        texts.append(wording.say("not_sure_about", spoken, question=" ".join(unanswered)))
    return Reply(text="\n\n".join(texts), confidence=min(reply.confidence for reply in answered),
                 sources=tuple(dict.fromkeys(title for reply in answered for title in reply.sources)),
                 detail={"unanswered": unanswered} if unanswered else {})


def not_sure_reply(confidence: float, spoken: str | None, sources: tuple[str, ...] = ()) -> Reply:
    return Reply(text=wording.say("not_sure", spoken), confidence=confidence, sources=sources, needs_human=False)


# --- small talk -------------------------------------------------------------------------------

def small_talk_reply(message: str, kind: str | None = None) -> Reply | None:
    """The friendly reply to a message that is only small talk (or of the
    `kind` given: greeting, thanks, goodbye), or None. It answers no
    question, so its confidence is 0 and detail["small_talk"] says what it
    is: the low-confidence trigger should count it neither way."""
    kind = kind or small_talk_kind(message)
    if kind is None:
        return None
    return Reply(text=wording.say(f"small_talk_{kind}", language(message)), confidence=0.0,
                 detail={"small_talk": kind})


# --- passages and answer text ------------------------------------------------------------------

HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
BULLET = re.compile(r"^[-*+][ \t]+")
NUMBERED = re.compile(r"^\d+[.)][ \t]+")
RULE = re.compile(r"^(?:[-*_][ \t]*){3,}$")
LINK = re.compile(r"!?\[([^\]]+)\]\(([^)\s]+)[^)]*\)")
EMPHASIS = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])|"
                      r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)|`([^`]+)`")


def passages_of(body: str) -> list[str]:
    """The paragraphs of an article as plain text. A heading, or a paragraph
    ending in ':', joins the paragraph after it, so a list keeps its intro."""
    passages: list[str] = []
    pending = ""
    for chunk in re.split(r"\n\s*\n", body):
        text = plain_text(chunk)
        if not text:
            continue
        if pending:
            text = pending + "\n" + text
        if text.endswith(":") or HEADING.match(chunk.strip().splitlines()[-1]):
            pending = text
        else:
            passages.append(text)
            pending = ""
    if pending:
        passages.append(pending)
    return passages


def plain_text(markdown: str) -> str:
    """A markdown paragraph as chat text: no heading marks, rules or emphasis,
    links as 'text (url)', each list item on its own line as '- item' or
    '1. item', other line breaks joined."""
    lines: list[str] = []
    for raw in markdown.strip().splitlines():
        line = raw.strip()
        heading = HEADING.match(line)
        if heading:
            line = heading.group(1)
        elif RULE.match(line):
            continue
        starts_item = bool(BULLET.match(line) or NUMBERED.match(line))
        line = BULLET.sub("- ", line)
        line = LINK.sub(lambda link: f"{link.group(1)} ({link.group(2)})", line)
        line = EMPHASIS.sub(lambda emphasis: next(group for group in emphasis.groups() if group), line)
        if not line:
            continue
        if starts_item or heading or not lines:
            lines.append(line)
        else:
            lines[-1] += " " + line
    return "\n".join(lines)


def answer_text(passage: str, question: str) -> str:
    """The passage, or for a long one the run of sentences from the one that
    best matches the question."""
    if len(passage) <= ANSWER_MAX_CHARS:
        return passage
    wanted = set(terms(question, question=True))
    sentences = SENTENCE_END.split(passage)
    start = max(range(len(sentences)), key=lambda i: (len(wanted.intersection(terms(sentences[i]))), -i))
    chosen: list[str] = []
    length = 0
    for sentence in sentences[start:]:
        if chosen and length + len(sentence) + 1 > ANSWER_MAX_CHARS:
            break
        chosen.append(sentence)
        length += len(sentence) + 1
    return " ".join(chosen)


@lru_cache(maxsize=8)
def _index(articles: tuple[tuple[str, str], ...]) -> KnowledgeBase:
    return KnowledgeBase([{"title": title, "body": body} for title, body in articles])


def knowledge_base(articles: list[dict]) -> KnowledgeBase:
    """The index of these articles, built once per process while they do not
    change (indexing costs milliseconds, answering a fraction of one)."""
    return _index(tuple((article["title"], article["body"]) for article in articles))


class KnowledgeBaseResponder:
    """The `kb` responder: the best passage of the knowledge base, or an
    honest "not sure" below CONFIDENT. It does not use the history."""

    def answer(self, history: list[dict], question: str, articles: list[dict]) -> Reply:
        return knowledge_base(articles).answer(question)
