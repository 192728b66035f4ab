"""Responders: given the conversation and the customer's message, a reply with
a confidence. `responder_for(config)` picks the configured one.

    kb         workers/brain/kb.py                   built in: BM25 over the knowledge base
    openai     workers/brain/openai_responder.py     Chat Completions, structured JSON answer
    anthropic  workers/brain/anthropic_responder.py  Messages API, answer through a forced tool

Each takes the recent history (oldest first, dicts with "sender" and "text"),
the customer's new message and the knowledge-base articles ({"title",
"body", ...}), and never raises for a provider's failure: it returns a
`Reply` with failed=True instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from gateway.config import AI_PROVIDERS, Config, ConfigError


@dataclass(frozen=True)
class Reply:
    text: str
    confidence: float              # 0..1, calibrated per responder
    sources: tuple[str, ...] = ()  # kb article titles used
    needs_human: bool = False      # the responder itself thinks a person should take over
    detail: dict = field(default_factory=dict)
    # The responder could not answer (timeout, API error, malformed output):
    # text is a safe fallback, confidence 0, detail["error"] says why.
    failed: bool = False


class Responder(Protocol):
    def answer(self, history: list[dict], question: str, articles: list[dict]) -> Reply: ...


@lru_cache(maxsize=4)
def responder_for(config: Config) -> Responder:
    """The responder AI_PROVIDER names, built once per configuration and
    process (the LLM ones hold an HTTP client). Raises ConfigError when the
    provider's API key is missing."""
    # Imported on demand: a worker answering from the knowledge base never
    # loads the LLM SDKs.
    if config.ai_provider == "openai":
        from workers.brain.openai_responder import OpenAIResponder
        return OpenAIResponder(config)
    if config.ai_provider == "anthropic":
        from workers.brain.anthropic_responder import AnthropicResponder
        return AnthropicResponder(config)
    if config.ai_provider == "kb":
        from workers.brain.kb import KnowledgeBaseResponder
        return KnowledgeBaseResponder()
    raise ConfigError(f"AI_PROVIDER must be one of {', '.join(AI_PROVIDERS)}, not {config.ai_provider!r}")
