"""One value per question, checked at the front door; and what retrieval found for it.

A :class:`Query` validates itself when it is made, so an empty question, a bad ``k``,
malformed history, an empty year range or an unknown backend is refused before any
engine, index or sample ingest is built (nano-graphrag's ``QueryParam``, made strict).
:class:`Evidence` is what :meth:`rag.engine.Engine.evidence` gathers for a query and
:meth:`rag.engine.Engine.answer` answers from (paper-qa's evidence apart from answering).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, InputError
from .types import Filters, Source

MAX_QUESTION_CHARS = 4000
BACKENDS = ("auto", "extractive", "openai", "local")
ROLES = ("user", "assistant")

#: One earlier message: ``{"role": "user" | "assistant", "content": str}``.
Turn = Mapping[str, str]


@dataclass(frozen=True)
class Query:
    """What is asked, and how.

    ``k``: papers given to the answerer (None: ``settings.top_k``). ``history``: earlier
    turns, dicts or ``(role, content)`` pairs, kept as dicts. ``backend`` / ``model``: the
    answerer for this query (None: the settings'); for the local backend ``model`` is its
    ``local_model`` (a preset, path, package or URL). The question is kept with its
    whitespace collapsed."""

    question: str
    k: int | None = None
    history: Sequence[Turn] = ()
    filters: Filters = field(default_factory=Filters)
    backend: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalised values are set once, here
        set_(self, "question", _check_question(self.question))
        if self.k is not None:
            _check_k(self.k)
        set_(self, "history", _check_history(self.history))
        set_(self, "filters", _check_filters(self.filters))
        if self.backend is not None and self.backend not in BACKENDS:
            raise ConfigError(f"Unknown backend {self.backend!r}: use one of {', '.join(BACKENDS)}.")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise ConfigError(f"The model must be a model name, got {self.model!r}: set RAG_MODEL or leave it out.")

    def replace(self, **changes: Any) -> "Query":
        """A copy with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)

    def earlier_questions(self) -> list[str]:
        """The user's earlier messages, oldest first."""
        return [t["content"] for t in self.history if t["role"] == "user" and t["content"]]

    def recent_history(self, n: int) -> list[dict[str, str]]:
        """The last ``n`` turns (none when ``n`` is 0), as fresh dicts."""
        return [dict(t) for t in self.history[-n:]] if n else []


@dataclass(frozen=True)
class Evidence:
    """The sources retrieval found for a query, numbered from 1, and how it searched.

    ``search_query`` is what was searched (a follow-up made standalone); ``retrieve_s`` how long it took."""

    sources: tuple[Source, ...]
    search_query: str
    retrieve_s: float = 0.0

    def top(self, k: int) -> "Evidence":
        """The first ``k`` sources: the same as a search for ``k`` (hits are grouped into papers in rank order)."""
        return dataclasses.replace(self, sources=self.sources[:k])


def _check_question(question: Any) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError('The question is empty: ask something about the papers, e.g. rag ask "What limits LLM inference speed?"')
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"The question is {len(question)} characters long: keep it under {MAX_QUESTION_CHARS}.")
    return question


def _check_k(k: Any) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"k (how many papers) must be a whole number of at least 1, got {k!r}.")
    return k


def _check_history(history: Iterable[Any] | None) -> tuple[Turn, ...]:
    if history is not None and isinstance(history, (str, bytes, Mapping)):
        raise InputError(f"history must be a list of {{'role': 'user' or 'assistant', 'content': str}}, got {history!r}.")
    out = []
    for i, turn in enumerate(history or ()):
        if isinstance(turn, (list, tuple)) and len(turn) == 2:
            turn = {"role": turn[0], "content": turn[1]}
        if not isinstance(turn, Mapping) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise InputError(
                f"history[{i}] must be {{'role': 'user' or 'assistant', 'content': str}}, got {turn!r}."
            )
        out.append({"role": turn["role"], "content": turn["content"]})
    return tuple(out)


def _check_filters(filters: Filters | None) -> Filters:
    filters = Filters() if filters is None else filters
    if not isinstance(filters, Filters):
        raise InputError(f"filters must be a rag.Filters, got {filters!r}.")
    if filters.year_from is not None and filters.year_to is not None and filters.year_from > filters.year_to:
        raise InputError(f"--year-from {filters.year_from} is after --year-to {filters.year_to}.")
    return filters
