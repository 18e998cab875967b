"""The local backend's answerer: the OpenAI-compatible answerer, pointed at our llama.cpp server,
with prompts for small models (``prompts/local_answer_*.txt``: short system prompt, the question
before and after the sources) and the sources trimmed to their best passages so that the prompt
fits the model's context window (counted with tiktoken's cl100k, a little generously)."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from ..llm import ChatClient
from ..settings import Settings
from ..templates import load_prompt
from ..types import Source
from .openai_chat import OpenAIChatAnswerer, format_sources

#: Tokens kept free besides the answer: chat-template markup and the gap between cl100k and the model's tokenizer.
_MARGIN = 256
_MIN_PER_SOURCE = 48


class LocalAnswerer(OpenAIChatAnswerer):
    def __init__(self, settings: Settings, model_name: str, chat: ChatClient | None = None):
        super().__init__(settings, chat)
        self.name = f"local:{model_name}"
        self.system = load_prompt("local_answer_system", settings.prompts_dir)
        self.user = load_prompt("local_answer_user", settings.prompts_dir)

    def messages(self, question: str, sources: list[Source], history: Sequence[Mapping[str, str]] | None) -> list[dict]:
        frame = super().messages(question, [], history)
        budget = self.settings.local_context - self.settings.max_tokens - _MARGIN - sum(count(m["content"]) for m in frame)
        return super().messages(question, trim_sources(sources, budget), history)


def count(text: str) -> int:
    from ..chunking import cl100k

    return len(cl100k().encode(text, disallowed_special=()))


def trim_sources(sources: list[Source], budget: int) -> list[Source]:
    """``sources`` whose texts fit ``budget`` tokens together (fenced as in the prompt): each whole when it
    fits its share, else its best passages (retrieval's order) in the order they appear, else its start."""
    if not sources or count(format_sources(sources)) <= budget:
        return list(sources)
    share = max(_MIN_PER_SOURCE, budget // len(sources) - 24)  # 24: the fence and title around each
    return [dataclasses.replace(s, text=_fit(s, share)) for s in sources]


def _fit(source: Source, share: int) -> str:
    from ..chunking import cl100k

    if count(source.text) <= share:
        return source.text
    chosen: list[str] = []
    used = 0
    for passage in source.passages:
        n = count(passage)
        if used + n > share:
            continue
        chosen.append(passage)
        used += n
    if chosen:
        chosen.sort(key=lambda p: source.text.find(p) if p in source.text else len(source.text))
        return " … ".join(chosen)
    enc = cl100k()
    return enc.decode(enc.encode(source.text, disallowed_special=())[:share]) + " …"
