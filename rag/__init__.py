"""Ask questions of a collection of paper abstracts; get answers that cite the papers.

    >>> import rag
    >>> answer = rag.ask("How can the KV cache be compressed?")
    >>> print(answer.text)            # with [n] markers
    >>> for c in answer.citations:    # each number used, and its paper
    ...     print(c.number, c.paper_id, c.title)

Importing this package is cheap: the store, the embedding model and any LLM client
are created on first use, from an explicit :class:`Settings` (defaults < config file
< environment < arguments).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Iterable

from .errors import ConfigError, InputError, NeedsKeyError, RagError, ServiceError
from .query import Query
from .types import Answer, Citation, Filters, Paper, Source

if TYPE_CHECKING:
    from pathlib import Path

    from .engine import AnswerStream, Engine
    from .ingestion import IngestReport
    from .settings import Settings

__all__ = [
    "ask",
    "ask_stream",
    "retrieve",
    "ingest",
    "get_engine",
    "Settings",
    "Answer",
    "Source",
    "Citation",
    "Filters",
    "Paper",
    "Query",
    "RagError",
    "InputError",
    "ConfigError",
    "NeedsKeyError",
    "ServiceError",
]

_engines: dict[str, "Engine"] = {}
_engines_lock = threading.Lock()


def get_engine(settings: "Settings | None" = None) -> "Engine":
    """The engine for ``settings`` (``Settings.load()`` if None), reused across calls."""
    from .engine import Engine
    from .settings import Settings

    settings = settings or Settings.load()
    key = _engine_key(settings)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(settings)
        return _engines[key]


def _engine_key(settings: "Settings") -> str:
    """A digest of every setting, secrets included (engines with different keys are different
    engines), so no secret is kept as a dictionary key in memory."""
    import hashlib

    secrets = [s.get_secret_value() if s else "" for s in (settings.openai_api_key, settings.ui_password)]
    blob = json.dumps([settings.model_dump_json(), secrets])
    return hashlib.sha256(blob.encode()).hexdigest()


def ask(
    question: str,
    *,
    k: int | None = None,
    history: list[dict] | None = None,
    settings: "Settings | None" = None,
    filters: Filters | None = None,
) -> Answer:
    """Answer ``question`` from the collection, citing sources as ``[n]``.

    ``k``: how many papers to give the answerer (default ``settings.top_k``).
    ``history``: earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``.
    """
    query = Query(question, k=k, history=history or (), filters=filters or Filters())  # checked before any work
    return get_engine(settings).ask(query)


def ask_stream(
    question: str,
    *,
    k: int | None = None,
    history: list[dict] | None = None,
    settings: "Settings | None" = None,
    filters: Filters | None = None,
) -> "AnswerStream":
    """Like :func:`ask`, but iterate the result for text as it is generated; then read ``.answer``."""
    query = Query(question, k=k, history=history or (), filters=filters or Filters())
    return get_engine(settings).stream(query)


def retrieve(
    question: str, k: int = 10, settings: "Settings | None" = None, filters: Filters | None = None
) -> list[Source]:
    """The ``k`` papers that best match ``question``, numbered, highest score first."""
    query = Query(question, k=k, filters=filters or Filters())
    return get_engine(settings).retrieve(query)


def ingest(paths: Iterable["str | Path"], settings: "Settings | None" = None) -> "IngestReport":
    """Add abstract files (text, JSONL/JSON, CSV, arXiv snapshot) to the collection."""
    return get_engine(settings).ingest(list(paths))


def __getattr__(name: str) -> Any:
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
