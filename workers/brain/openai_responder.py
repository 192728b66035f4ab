"""The `openai` responder: the Chat Completions API through the official SDK.

Chat Completions rather than Responses because OPENAI_BASE_URL may point at
any OpenAI-compatible server, and those implement Chat Completions. The
answer is forced into ANSWER_SCHEMA with structured outputs (a strict JSON
schema) and still checked field by field (workers/brain/llm.py).
"""

from __future__ import annotations

import openai

from gateway.config import Config
from workers.brain.llm import (
    ANSWER,
    AnswerFailed,
    AnswerForm,
    LLMResponder,
    sdk_failures,
)


class OpenAIResponder(LLMResponder):
    provider = "openai"

    def __init__(self, config: Config):
        super().__init__(config, api_key=config.openai_api_key, base_url=config.openai_base_url,
                         model=config.openai_model, client_class=openai.OpenAI)

    def ask(self, system: str, messages: list[dict], form: AnswerForm = ANSWER, timeout: float | None = None) -> str:
        with sdk_failures(openai, openai.OpenAIError, timeout or self.timeout):
            completion = self.client_within(timeout).chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, *messages],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": form.format_name, "strict": True, "schema": form.schema}},
                max_completion_tokens=form.max_tokens,
            )
        return answer_content(completion)


def answer_content(completion: object) -> str:
    """The text of the first choice, or why there is none to use."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise AnswerFailed("malformed", "the completion has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    if getattr(message, "refusal", None) or getattr(choice, "finish_reason", None) == "content_filter":
        raise AnswerFailed("refusal", "the model declined to answer")
    if getattr(choice, "finish_reason", None) == "length":
        raise AnswerFailed("malformed", "the answer was cut off at the token limit")
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        raise AnswerFailed("malformed", "the answer has no text content")
    return content
