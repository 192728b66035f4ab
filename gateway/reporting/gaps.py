"""The learning loop: customer questions the bot could not answer, grouped by
similarity, so that an admin sees "17 people asked where the shop is" once,
with examples, and can write the article that answers them.

Questions are compared on their content terms (gateway/bot/text.terms, the
knowledge base's own analysis, so "parcel" and "package" are one word): a
question joins the first group whose terms it shares enough of (Jaccard at
least SIMILAR), else starts a group. Greedy and linear in groups: the input
is capped (the newest questions first) by the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.bot.text import terms

SIMILAR = 0.5
EXAMPLES = 3


@dataclass
class Group:
    terms: frozenset[str]
    questions: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.questions)

    def as_json(self) -> dict:
        newest = self.questions[0]
        return {"question": newest["text"], "count": self.count, "reasons": sorted({q["reason"] for q in self.questions}),
                "examples": [q["text"] for q in self.questions[:EXAMPLES]],
                "message_ids": [q["id"] for q in self.questions], "last_asked_at": newest["created_at"]}


def similarity(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 1.0 if first == second else 0.0
    return len(first & second) / len(first | second)


def group_questions(questions: list[dict], limit: int = 20) -> list[dict]:
    """Groups of {"id", "text", "created_at", "reason"} rows (newest first), the largest first."""
    groups: list[Group] = []
    for question in questions:
        question_terms = frozenset(terms(question["text"], question=True))
        home = next((group for group in groups if similarity(group.terms, question_terms) >= SIMILAR), None)
        if home is None:
            home = Group(question_terms)
            groups.append(home)
        home.questions.append(question)
    groups.sort(key=lambda group: -group.count)  # stable: among equals, the most recent first
    return [group.as_json() for group in groups[:limit]]
