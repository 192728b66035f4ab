"""The `anthropic` responder: the Messages API through the official SDK.

The model answers by calling one tool, `answer_customer`, whose input schema
is ANSWER_SCHEMA; tool_choice forces that call, so the answer arrives as a
decoded object, which is still checked field by field (workers/brain/llm.py).
"""

from __future__ import annotations

import anthropic

from gateway.config import Config
from workers.brain.llm import (
    ANSWER_SCHEMA,
    MAX_ANSWER_TOKENS,
    AnswerFailed,
    LLMResponder,
    sdk_failures,
)

ANSWER_TOOL = {
    "name": "answer_customer",
    "description": "Send the answer to the customer, with how confident you are and whether a person should "
                   "take over.",
    "input_schema": ANSWER_SCHEMA,
}


class AnthropicResponder(LLMResponder):
    provider = "anthropic"
    answer_format = "Answer by calling the answer_customer tool."

    def __init__(self, config: Config):
        super().__init__(config, api_key=config.anthropic_api_key, base_url=config.anthropic_base_url,
                         model=config.anthropic_model, client_class=anthropic.Anthropic)

    def ask(self, system: str, messages: list[dict]) -> object:
        with sdk_failures(anthropic, anthropic.AnthropicError, self.timeout):
            message = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_ANSWER_TOKENS,
                system=system,
                messages=messages,
                tools=[ANSWER_TOOL],
                tool_choice={"type": "tool", "name": ANSWER_TOOL["name"]},
            )
        return tool_input(message)


def tool_input(message: object) -> object:
    """The input of the answer_customer call, or why there is none to use."""
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason == "refusal":
        raise AnswerFailed("refusal", "the model declined to answer")
    if stop_reason == "max_tokens":
        raise AnswerFailed("malformed", "the answer was cut off at the token limit")
    for block in getattr(message, "content", None) or ():
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == ANSWER_TOOL["name"]:
            return getattr(block, "input", None)
    raise AnswerFailed("malformed", "the model did not call answer_customer")
