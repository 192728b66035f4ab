"""The built-in knowledge-base responder: BM25 over kb_articles, no key, no network.

Articles are split into passages (paragraphs); the best passage for the
customer's question is the answer. Its confidence is how much of the
question's *informative* vocabulary (weighted by IDF) the passage covers, so
an off-topic question, whose rare words appear in no article, scores low even
when a common word matches.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from workers.brain import Reply

# Below this the bot does not pretend: it says it is not sure and offers a human.
CONFIDENT = 0.5
K1, B = 1.5, 0.75

STOPWORDS = frozenset("""
a about above after again all am an and any are as at be because been before being below between both but
by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
other our ours out over own same she should so some such than that the their theirs them then there these
they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself please thanks thank hi hello hey can't cannot don't i'm i've
tell know want need get long take much many way like make does offer provide able possible
""".split())

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def fold(text: str) -> str:
    """Lowercase without accents: 'Réembourser' and 'reembourser' match."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A light suffix stripper: refunds/refunded/refunding -> refund."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            # shipping -> shipp -> ship
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]
            return word
    return word


def terms(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(fold(text)) if w not in STOPWORDS]


@dataclass(frozen=True)
class Passage:
    title: str
    text: str
    terms: tuple[str, ...]


class KnowledgeBase:
    """A BM25 index over the passages of a list of articles ({"title", "body"})."""

    def __init__(self, articles: list[dict]):
        self.passages = [
            Passage(article["title"], chunk, tuple(terms(article["title"] + " " + chunk)))
            for article in articles
            for chunk in _paragraphs(article["body"])
        ]
        self.document_frequency: Counter[str] = Counter()
        for passage in self.passages:
            self.document_frequency.update(set(passage.terms))
        count = len(self.passages)
        self.average_length = sum(len(p.terms) for p in self.passages) / count if count else 0.0

    def idf(self, term: str) -> float:
        count = len(self.passages)
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (count - df + 0.5) / (df + 0.5))

    def search(self, question: str) -> list[tuple[float, float, Passage]]:
        """Passages ranked by BM25, each with its coverage of the question (0..1)."""
        query = list(dict.fromkeys(terms(question)))
        if not query or not self.passages:
            return []
        weights = {term: self.idf(term) for term in query}
        total_weight = sum(weights.values())
        ranked = []
        for passage in self.passages:
            frequencies = Counter(passage.terms)
            score = 0.0
            covered = 0.0
            for term in query:
                tf = frequencies.get(term, 0)
                if not tf:
                    continue
                covered += weights[term]
                norm = tf + K1 * (1 - B + B * len(passage.terms) / self.average_length)
                score += weights[term] * tf * (K1 + 1) / norm
            if score > 0:
                ranked.append((score, covered / total_weight, passage))
        ranked.sort(key=lambda item: item[0], reverse=True)
        return ranked

    def answer(self, question: str) -> Reply:
        ranked = self.search(question)
        if not ranked:
            return not_sure_reply(0.0)
        _, coverage, best = ranked[0]
        confidence = round(min(1.0, coverage), 3)
        if confidence < CONFIDENT:
            return not_sure_reply(confidence, sources=(best.title,))
        return Reply(text=best.text, confidence=confidence, sources=(best.title,))


def not_sure_reply(confidence: float, sources: tuple[str, ...] = ()) -> Reply:
    return Reply(
        text="I'm not sure I can answer that one. Would you like me to connect you with a person?",
        confidence=confidence,
        sources=sources,
        needs_human=False,
    )


def _paragraphs(body: str) -> list[str]:
    chunks = [re.sub(r"\s+", " ", chunk).strip() for chunk in re.split(r"\n\s*\n", body)]
    return [chunk for chunk in chunks if chunk]
