"""Chat prompts for the Gemma 3 family: the template fallback and the split at the question.

The GGUF's own `tokenizer.chat_template` is used when it has one. When it has
none (the Gemma 3 270M test model, or a conversion that dropped it) the
built-in Gemma 3 template below is used and the fact is recorded with the result.

To prepare an image before the question is known, the prompt is rendered with
a sentinel in place of the question and split there: everything before it
(turn header and image) can be evaluated early; the question and the rest of
the template follow when the clinician asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GEMMA3_FALLBACK_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
"""Gemma 3 turns: `<start_of_turn>user|model`, content, `<end_of_turn>`."""

QUESTION_SENTINEL = "ECGVIEWERQUESTIONSLOT7f3a"


@dataclass(frozen=True)
class Exchange:
    """A finished question and answer of the conversation."""

    question: str
    answer: str


def build_messages(
    media_marker: str, history: Sequence[Exchange], question: str
) -> list[dict[str, Any]]:
    """The conversation as chat messages; the image comes first in the first user turn."""
    messages: list[dict[str, Any]] = []
    for index, item in enumerate([*history, Exchange(question, "")]):
        parts: list[dict[str, str]] = []
        if index == 0:
            parts.append({"type": "text", "text": media_marker})
        parts.append({"type": "text", "text": item.question.strip()})
        messages.append({"role": "user", "content": parts})
        if index < len(history):
            messages.append({"role": "assistant", "content": item.answer})
    return messages


class PromptRenderer:
    """Renders a chat template the way llama-cpp-python's MTMDChatHandler does."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
        )
        self._template = environment.from_string(template)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, messages: list[dict[str, Any]]) -> str:
        """The full prompt text, without a leading BOS (the tokenizer adds it)."""

        def raise_exception(message: str) -> None:
            raise ValueError(message)

        text = self._template.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=self._bos,
            eos_token=self._eos,
            raise_exception=raise_exception,
        )
        return text[len(self._bos) :] if self._bos and text.startswith(self._bos) else text

    def split_first_question(self, media_marker: str) -> tuple[str, str]:
        """(text before the question, text after it) for a first question about the image."""
        text = self.render(build_messages(media_marker, [], QUESTION_SENTINEL))
        before, found, after = text.partition(QUESTION_SENTINEL)
        if not found or media_marker not in before:
            raise ValueError("the chat template does not place the image before the question")
        return before, after
