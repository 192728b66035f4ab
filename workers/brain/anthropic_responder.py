"""The `anthropic` responder: the Messages API through the official SDK.

The model answers by calling one tool, `answer_customer`, whose input schema
is ANSWER_SCHEMA (or the tool of another AnswerForm: the judge's); tool_choice
forces that call, so the answer arrives as a decoded object, which is still
checked field by field (workers/brain/llm.py).
"""

from __future__ import annotations

import anthropic

from gateway.config import Config
from workers.brain.llm import (
    ANSWER,
    AnswerFailed,
    AnswerForm,
    LLMResponder,
    sdk_failures,
)


class AnthropicResponder(LLMResponder):
    provider = "anthropic"
    answer_format = "Answer by calling the answer_customer tool."

    def __init__(self, config: Config):
        super().__init__(config, api_key=config.anthropic_api_key, base_url=config.anthropic_base_url,
                         model=config.anthropic_model, client_class=anthropic.Anthropic)

    def ask(self, system: str, messages: list[dict], form: AnswerForm = ANSWER, timeout: float | None = None) -> object:
        with sdk_failures(anthropic, anthropic.AnthropicError, timeout or self.timeout):
            message = self.client_within(timeout).messages.create(
                model=self.model,
                max_tokens=form.max_tokens,
                system=system,
                messages=messages,
                tools=[form.tool()],
                tool_choice={"type": "tool", "name": form.tool_name},
            )
        return tool_input(message, form.tool_name)


def tool_input(message: object, tool_name: str) -> object:
    """The input of the call of the tool, or why there is none to use."""
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason == "refusal":
        raise AnswerFailed("refusal", "the model declined to answer")
    if stop_reason == "max_tokens":
        raise AnswerFailed("malformed", "the answer was cut off at the token limit")
    for block in getattr(message, "content", None) or ():
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return getattr(block, "input", None)
    raise AnswerFailed("malformed", f"the model did not call {tool_name}")
