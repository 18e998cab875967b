"""The contracts at the engine's seams: what an answerer, a query rewriter, a store, an
embedder and a lexical index must provide. Implementations need not inherit from these
(structural typing); mypy checks that the engine's parts fit them.

- :class:`Answerer`: :class:`~rag.answerers.extractive.ExtractiveAnswerer`, :class:`~rag.answerers.openai_chat.OpenAIChatAnswerer`
- :class:`QueryRewriter`: :class:`~rag.rewrite.HeuristicRewriter`, :class:`~rag.rewrite.LLMRewriter`
- :class:`Store`: :class:`rag.store.Store`; :class:`Embedder`: :class:`~rag.embedding.MiniLMEmbedding`;
  :class:`Lexical`: :class:`rag.retrieval.Lexical`
- :class:`Judge` (the support checker's): :class:`~rag.support.SupportChecker`, the eval's ``LLMJudge``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Protocol, runtime_checkable

from .answerers.base import Draft
from .query import Query
from .support.verdicts import Judge
from .types import Source

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Answerer", "QueryRewriter", "Store", "Embedder", "Lexical", "Judge"]


@runtime_checkable
class Answerer(Protocol):
    """Writes an answer from numbered sources, citing them as ``[n]`` (or abstains with the sentinel)."""

    name: str

    def answer(self, query: Query, sources: list[Source]) -> Draft: ...

    def stream(self, query: Query, sources: list[Source]) -> Iterator[str | Draft]:
        """Text deltas as they are produced, then the whole :class:`Draft` last."""
        ...


@runtime_checkable
class QueryRewriter(Protocol):
    """Turns a follow-up into a standalone question to retrieve with (unchanged when it is one)."""

    name: str

    def rewrite(self, query: Query) -> str: ...


class Embedder(Protocol):
    """Unit-length sentence vectors; also a llama-index embedding model (the dense retriever uses it as one)."""

    def embed(self, texts: list[str]) -> "np.ndarray": ...


class Store(Protocol):
    """An opened collection of chunks: what retrieval and ingestion read and write."""

    location: str
    vector_store: Any  #: the llama-index vector store over the collection

    def count(self) -> int: ...

    def collection_key(self) -> str: ...

    def readiness(self) -> tuple[str, int]:
        """``(collection_key(), count())``, in one round trip while the contents are unchanged."""
        ...

    def iter_records(self) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]: ...

    def chunk_ids(self) -> list[str]: ...

    def records(self, chunk_ids: list[str]) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]: ...

    def papers(self, paper_ids: list[str], chunk_ids: list[str] | None = None) -> dict[str, tuple[dict[str, Any], Any]]: ...

    def titles_present(self, titles: list[str]) -> set[str]: ...

    def close(self) -> None: ...


class Lexical(Protocol):
    """A BM25 index over every chunk, and the term statistics evidence scoring uses."""

    bm25: Any  #: the index the BM25 retriever searches (a :class:`rag.segments.MergedIndex`)
    stemmer: Any  #: PyStemmer's English stemmer, as the index's tokens were stemmed
    n_docs: int

    def terms(self, text: str) -> list[str]: ...

    def coverage(self, question_terms: list[str], text: str) -> float: ...
