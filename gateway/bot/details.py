"""Collected details: the order numbers, emails, phone numbers and names a
customer states, noted for the agent who takes over.

`extract_details(text)` reads one message and returns a dict of lists, with
only the kinds it found: {"order_numbers": [...], "emails": [...],
"phones": [...], "names": [...]}. `merge_details(collected, new)` adds a
message's details to what earlier messages gave, without duplicates. Both are
pure: the caller stores the result on the conversation.

Values are normalized so that one detail written two ways is noted once:
order numbers without their '#' and in upper case ("ORD-2024-001"), emails
in lower case, phone numbers as digits (with a leading '+' when the customer
wrote one), names with capitals ("Maria Lopez").

It errs on the side of noting nothing: a price ("$12345"), a date
("2024-03-15"), a year ("order from 2023"), a quantity ("order 2000 units")
or a card number is not an order number or a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Prefixes of order numbers like ORD-2024-001 or ORD2024001; admins add theirs.
DEFAULT_ORDER_PREFIXES = ("ORD",)
KINDS = ("order_numbers", "emails", "phones", "names")

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# "#12345", "# 12345", "#A1234"
HASH_NUMBER = re.compile(r"(?<![\w&])#\s?([A-Za-z]{0,3}-?\d[\dA-Za-z-]{2,19})(?![\w-])")
# "order 12345", "order no. 12345", "order number: 12345", "order #12345", "order id is A12345"
AFTER_ORDER_WORD = re.compile(
    r"\border\b(?:\s+(?:number|no\.?|nr\.?|num|id|ref(?:erence)?))?(?:\s+is)?\s*[:#]?\s*"
    r"([A-Za-z]{0,3}-?\d[\dA-Za-z-]{2,19})(?![\w-])(?!\s*(?:[.,]\d|%))"
    r"(?!\s+(?:units?|pieces?|pcs|items?|boxes|packs?|copies|bottles|pairs?|sets?|more|of|x|times)\b)",
    re.IGNORECASE)
# A phone number: digits with spaces, dashes, dots or an area code in
# parentheses; 8 to 15 digits after a '+', else 10 or 11 (a national number).
PHONE = re.compile(r"(?<![\w+#$€£.,/-])(\+\s?)?(\(?\d[\d\s().-]{5,22}\d)(?![\w/-]|[.,]\d)")
DATE = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})$")
YEAR = re.compile(r"^(?:19|20)\d\d$")
# "my name is Maria Lopez", "my name's maria", "name: Maria Lopez"
NAME = re.compile(r"\b(?:my name(?:\s+is|'s|\u2019s)|name\s*:)\s+"
                  r"([^\W\d_][^\W\d_'\u2019.-]*(?:['\u2019.-][^\W\d_]+)*"
                  r"(?:\s+[^\W\d_][^\W\d_'\u2019.-]*(?:['\u2019.-][^\W\d_]+)*){0,3})", re.IGNORECASE)
# Words that end a stated name, or show that "my name is ..." names no one.
NOT_NAME_WORDS = frozenset("""
a an and the is was on in at of for from to with by but or not no yes here there this that it its
please pls thanks thank hi hello hey sorry also so just still again my your our their me i we you
spelled spelt wrong missing incorrect correct misspelled different changed same already written
""".split())


def extract_details(text: str, order_prefixes: Iterable[str] = DEFAULT_ORDER_PREFIXES) -> dict[str, list[str]]:
    """The details stated in one message (only the kinds found)."""
    details: dict[str, list[str]] = {}
    # Each kind takes its spans out of the text, so that the digits of an
    # order number or an email are not read again as a phone number.
    remaining = text
    emails, remaining = take(EMAIL, remaining, lambda match: match.group(0).lower())
    orders, remaining = take(order_pattern(tuple(order_prefixes)), remaining, prefixed_order_number)
    for pattern in (HASH_NUMBER, AFTER_ORDER_WORD):
        found, remaining = take(pattern, remaining, bare_order_number)
        orders += found
    phones, _ = take(PHONE, remaining, phone_number)
    names = [name for match in NAME.finditer(text) if (name := stated_name(match.group(1)))]
    for kind, values in zip(KINDS, (orders, emails, phones, names)):
        values = unique(values)
        if values:
            details[kind] = values
    return details


def merge_details(collected: dict[str, list[str]], new: dict[str, list[str]]) -> dict[str, list[str]]:
    """Everything collected so far plus the new details, each value once
    (names compared without case), in the order they were first given."""
    merged = {kind: list(values) for kind, values in collected.items()}
    for kind, values in new.items():
        merged[kind] = unique(merged.get(kind, []) + list(values))
    return merged


def unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept


def take(pattern: re.Pattern, text: str, normalize) -> tuple[list[str], str]:
    """The normalized matches of the pattern (a None from `normalize` is not
    a match), and the text with those matches blanked out."""
    found = []
    spans = []
    for match in pattern.finditer(text):
        value = normalize(match)
        if value:
            found.append(value)
            spans.append(match.span())
    for start, end in reversed(spans):
        text = text[:start] + " " * (end - start) + text[end:]
    return found, text


@lru_cache(maxsize=16)
def order_pattern(prefixes: tuple[str, ...]) -> re.Pattern:
    """ORD-2024-001, ord 2024 001, ORD2024001 for the prefix ORD; the prefixes
    are literal text, not patterns, so an admin cannot break the matcher."""
    alternatives = "|".join(re.escape(prefix.strip()) for prefix in prefixes if prefix.strip()) or r"(?!)"
    return re.compile(rf"(?<![\w-])(?:{alternatives})[-_ ]?(\d[\dA-Za-z]*(?:[-_ /]\d[\dA-Za-z]*)*)(?![\w-])",
                      re.IGNORECASE)


def prefixed_order_number(match: re.Match) -> str:
    return re.sub(r"[_ /]", "-", match.group(0).upper())


def bare_order_number(match: re.Match) -> str | None:
    value = match.group(1).upper()
    if DATE.match(value) or YEAR.match(value) or value.isalpha():
        return None
    digits = sum(ch.isdigit() for ch in value)
    return value if digits >= 3 and len(value) >= 4 else None


def phone_number(match: re.Match) -> str | None:
    plus, number = match.group(1), match.group(2).strip()
    groups = re.findall(r"\d+", number)
    # More one-digit groups than "+1 800 ..." or "+33 6 12 ..." have: a list
    # or a version number, not a phone number.
    if DATE.match(number) or number.count("(") != number.count(")") or sum(len(g) == 1 for g in groups) > 2:
        return None
    digits = "".join(groups)
    if plus:
        return "+" + digits if 8 <= len(digits) <= 15 else None
    return digits if 10 <= len(digits) <= 11 else None


def stated_name(words: str) -> str | None:
    """The name in the words after "my name is": up to the first word that
    cannot be part of one; None when the first can't ("my name is not on it")."""
    kept = []
    for word in words.split():
        if word.lower() in NOT_NAME_WORDS:
            break
        kept.append(word)
    if not kept:
        return None
    return " ".join(word if any(ch.isupper() for ch in word) else word.capitalize() for word in kept)
