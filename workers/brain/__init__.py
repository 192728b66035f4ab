"""Responders: given the conversation and the customer's message, a reply with
a confidence. `responder_for(config)` picks the configured one."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    text: str
    confidence: float              # 0..1, calibrated per responder
    sources: tuple[str, ...] = ()  # kb article titles used
    needs_human: bool = False
    detail: dict = field(default_factory=dict)
