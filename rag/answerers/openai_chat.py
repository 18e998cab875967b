"""Answers from any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp's server).

This module builds the prompt from the numbered sources (``prompts/answer_*.txt``); the
shared :class:`~rag.llm.ChatClient` does the calls, retries and error mapping.
"""

from __future__ import annotations

import re
from typing import Iterator, Mapping, Sequence

from ..llm import ChatClient, Completion
from ..query import Query
from ..settings import Settings
from ..templates import load_prompt
from ..types import Source
from .base import Draft, is_abstention


class OpenAIChatAnswerer:
    def __init__(self, settings: Settings, chat: ChatClient | None = None):
        self.settings = settings
        self.chat = chat or ChatClient(settings)
        self.name = f"openai:{settings.model}"
        self.system = load_prompt("answer_system", settings.prompts_dir)
        self.user = load_prompt("answer_user", settings.prompts_dir)

    # -- prompts ------------------------------------------------------------------------
    def messages(self, question: str, sources: list[Source], history: Sequence[Mapping[str, str]] | None) -> list[dict]:
        msgs = [{"role": "system", "content": self.system.format()}]
        n = self.settings.history_turns  # the last ``history_turns`` messages (none when it is 0)
        for turn in (list(history or [])[-n:] if n else []):
            msgs.append({"role": turn["role"], "content": turn["content"]})
        msgs.append({"role": "user", "content": self.user.format(sources=format_sources(sources), question=question)})
        return msgs

    # -- calls ----------------------------------------------------------------------------
    def answer(self, query: Query, sources: list[Source]) -> Draft:
        return _draft(self.chat.complete(self.messages(query.question, sources, query.history)))

    def stream(self, query: Query, sources: list[Source]) -> Iterator["str | Draft"]:
        """Yield text deltas as they arrive, then the complete :class:`Draft`."""
        for item in self.chat.stream(self.messages(query.question, sources, query.history)):
            yield item if isinstance(item, str) else _draft(item)


def _draft(reply: Completion) -> Draft:
    return Draft(text=reply.text, abstained=is_abstention(reply.text), usage=dict(reply.usage),
                 notes=_finish_notes(reply.finish_reason))


def format_sources(sources: list[Source]) -> str:
    """Each source fenced as data: ``<source id="1" title="..." year="2019">abstract</source>``.

    Abstracts and titles are text from the collection, not instructions: nothing inside one can
    open or close a fence, so a forged ``[2] Title`` header or "ignore previous instructions" stays
    inside its own source."""
    blocks = []
    for s in sources:
        year = f' year="{s.year}"' if s.year else ""
        blocks.append(f'<source id="{s.number}" title="{_attribute(s.title)}"{year}>\n{_fenced(s.text)}\n</source>')
    return "\n\n".join(blocks)


_FENCE = re.compile(r"<(\s*/?\s*)(source)", re.IGNORECASE)


def _fenced(text: str) -> str:
    """``text`` with every ``<source`` / ``</source`` made harmless (``‹source``)."""
    return _FENCE.sub(lambda m: "‹" + m.group(1) + m.group(2), text)


def _attribute(text: str) -> str:
    """A title as an attribute value: one line, no quotes or angle brackets."""
    return " ".join(text.split()).replace('"', "'").replace("<", "‹").replace(">", "›")


def _finish_notes(finish: str | None) -> list[str]:
    if finish == "length":
        return ["the answer was cut off at max_tokens; raise RAG_MAX_TOKENS for longer answers"]
    return []
