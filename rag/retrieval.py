"""Hybrid retrieval: dense (MiniLM in Chroma) + BM25 (bm25s), fused by reciprocal rank.

Both retrievers and the fusion are llama-index's (``VectorIndexRetriever``,
``BM25Retriever``, ``QueryFusionRetriever`` in ``reciprocal_rerank`` mode). This module
adds what the product needs on top: chunk hits grouped into papers (a paper scores its
best chunk), optional year/category filters applied to both sides, a persisted BM25
index that is rebuilt only when the collection changes, and an *evidence* score per
paper (0..1, higher = stronger) that the engine uses to decide whether to abstain.
The fused score is llama-index's RRF: higher = more relevant. The ``retrieval`` setting can
switch either side off (``bm25`` or ``dense`` alone), for ablations; grouping and evidence stay.

Retrieval is deterministic: the same question on the same index gives the same papers,
scores and order in every process. Each retriever's hits are ordered by score, then chunk
id, and cut after that (so equal scores at the cut do not depend on the library's internal
order); the fused list is re-sorted by score, then paper id, then chunk id; the dense side
searches exhaustively on small collections (:data:`rag.store.EXACT_SEARCH_CHUNKS`).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from .errors import ConfigError
from .embedding import query_vector
from .types import Filters, Source

if TYPE_CHECKING:
    from .protocols import Embedder
    from .protocols import Lexical as LexicalIndex
    from .protocols import Store as StoreLike

BM25_STOPWORDS = "en"  # bm25s's short list; its longer "en_plus" found fewer right papers on our questions
EVIDENCE_STOPWORDS = "en_plus"  # for evidence, question words ("what", "which", "how") must not count
#: Words of the questions themselves, not of what they ask about (stemmed, as tokens come out).
QUESTION_WORDS = frozenset(
    "paper papers studi work propos introduc present describ report show find found use method approach "
    "collect abstract author research tell explain mean anyon someon way thing".split()
)
PASSAGES_PER_SOURCE = 3
RETRIEVAL_MODES = ("hybrid", "bm25", "dense")  # the `retrieval` setting: both fused, or one alone
TIE_SLACK = 8  # each retriever fetches this many extra hits, so equal scores at its cut are chosen by chunk id

log = logging.getLogger("rag")


@lru_cache(maxsize=1)
def _bm25_class():
    from llama_index.retrievers.bm25 import BM25Retriever

    class MatchingBM25Retriever(BM25Retriever):
        """BM25 that returns only chunks sharing a term with the query.

        bm25s fills its top-k with zero-score chunks, and a filter's weight mask only
        zeroes the excluded ones, so without this they would come back anyway.
        """

        def _retrieve(self, query_bundle):
            try:
                hits = super()._retrieve(query_bundle)
            except IndexError:  # an index out of step with its corpus: Lexical refuses those, but never fail a question
                log.warning("The BM25 index does not match its corpus: searching by meaning only for this question.")
                return []
            return [n for n in hits if (n.score or 0.0) > 0.0]

    return MatchingBM25Retriever


class _Ranked(BaseRetriever):
    """Another retriever's hits, best first, equal scores in chunk-id order, cut to ``top_k``."""

    def __init__(self, inner: BaseRetriever, top_k: int):
        super().__init__()
        self._inner = inner
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._inner.retrieve(query_bundle)
        return sorted(hits, key=lambda h: (-(h.score or 0.0), h.node.node_id))[: self._top_k]


def _fused_order(hit: NodeWithScore) -> tuple[float, str, str]:
    """Sort key for fused hits: score descending, then paper id, then chunk id (llama-index
    leaves equal RRF scores in the order it met them)."""
    return (-(hit.score or 0.0), str(hit.node.metadata.get("paper_id", "")), hit.node.node_id)


class MisalignedIndex(ValueError):
    """A BM25 index whose corpus does not hold exactly one entry per indexed chunk."""


class Lexical:
    """A BM25 index over every chunk, with what evidence scoring needs from it.

    Raises :class:`MisalignedIndex` unless the index, its corpus and ``expected_docs`` (the
    store's chunk count, when given) agree: a BM25 hit is a position in the corpus, so a corpus
    that lost an entry would answer with the wrong chunk or fail with IndexError."""

    def __init__(self, retriever: Any, expected_docs: int | None = None):
        import Stemmer

        self.bm25 = retriever.bm25
        if self.bm25.corpus is None:  # built in memory: the retriever holds the corpus
            self.bm25.corpus = retriever.corpus
        n_docs = int(self.bm25.scores["num_docs"])
        corpus = len(self.bm25.corpus) if self.bm25.corpus is not None else -1
        if corpus != n_docs or (expected_docs is not None and n_docs != expected_docs):
            raise MisalignedIndex(f"BM25 index of {n_docs} chunks, corpus of {corpus}, store of {expected_docs}")
        self.stemmer = Stemmer.Stemmer("english")
        indptr = np.asarray(self.bm25.scores["indptr"])
        df = np.diff(indptr).astype(np.float64)
        self.idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        self.max_idf = float(math.log(1.0 + (n_docs + 0.5) / 0.5))
        self.vocab: dict[str, int] = self.bm25.vocab_dict
        self.n_docs = n_docs

    def terms(self, text: str) -> list[str]:
        """Content terms of ``text``: lowercased, stopwords out, stemmed (as BM25 indexes them)."""
        import bm25s

        toks = bm25s.tokenize(text, stopwords=EVIDENCE_STOPWORDS, stemmer=self.stemmer, return_ids=False, show_progress=False)
        return list(dict.fromkeys(t for t in toks[0] if t not in QUESTION_WORDS)) if toks else []

    def term_weight(self, term: str) -> float:
        """IDF of a term; a term the collection never uses weighs the most."""
        idx = self.vocab.get(term)
        return self.max_idf if idx is None or idx >= len(self.idf) else float(self.idf[idx])

    def coverage(self, question_terms: list[str], text: str) -> float:
        """IDF-weighted share of the question's terms that occur in ``text`` (0..1)."""
        if not question_terms:
            return 0.0
        present = set(self.terms(text))
        total = sum(self.term_weight(t) for t in question_terms)
        hit = sum(self.term_weight(t) for t in question_terms if t in present)
        return hit / total if total else 0.0


def lexical_key(store: StoreLike, state: tuple[str, int] | None = None) -> str:
    """Names the store's current contents: collection id, ingest generation, chunk count, stopwords.
    ``state``: the store's :meth:`readiness`, when the caller has it already (no round trip)."""
    key, count = state or (store.collection_key(), store.count())
    return f"{key}-{count}-{BM25_STOPWORDS}"


def build_lexical(store: StoreLike, cache_dir: Path, key: str) -> Lexical:
    """Load the BM25 index for the contents named ``key``, building and caching it if needed.

    A cache that does not match the store (one corpus entry per chunk) is rebuilt; when the
    cache cannot be written (a full disk; metadata bm25s cannot serialise, such as an integer
    beyond 64 bits) or would not load back whole, the index is used from memory: a cache only
    saves time. (The metadata stays as stored: fusion matches the two retrievers' hits by it.)"""
    from llama_index.retrievers.bm25 import BM25Retriever

    target = cache_dir / key
    expected = store.count()
    if (target / "retriever.json").exists():
        try:
            return Lexical(BM25Retriever.from_persist_dir(str(target), show_progress=False), expected)
        except Exception as exc:  # a corrupt or misaligned cache is rebuilt, never fatal
            log.info("Rebuilding the BM25 cache %s: %s", target, exc)
            shutil.rmtree(target, ignore_errors=True)
    nodes = []
    for _ids, docs, metas in store.iter_records():
        for doc, meta in zip(docs, metas):
            nodes.append(metadata_dict_to_node(meta, text=doc))
    nodes.sort(key=lambda node: node.node_id)  # the same corpus order whatever order the store lists them in
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=1, language=BM25_STOPWORDS)
    tmp = cache_dir / f".{key}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        retriever.persist(str(tmp), show_progress=False, raise_on_serialization_error=True)
        for old in cache_dir.iterdir():  # the directory is this collection's: older caches are stale
            if old.is_dir() and old != tmp and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:  # another process just wrote the same cache
            shutil.rmtree(tmp, ignore_errors=True)
        return Lexical(BM25Retriever.from_persist_dir(str(target), show_progress=False), len(nodes))
    except Exception as exc:  # OSError (disk full, read-only), TypeError (unserialisable), MisalignedIndex
        log.warning("Cannot cache the BM25 index in %s (%s): using it from memory.", cache_dir, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        return Lexical(retriever, len(nodes))



def _filters(filters: Filters) -> MetadataFilters | None:
    items: list[MetadataFilter | MetadataFilters] = []
    if filters.year_from is not None:
        items.append(MetadataFilter(key="year", value=filters.year_from, operator=FilterOperator.GTE))
    if filters.year_to is not None:
        items.append(MetadataFilter(key="year", value=filters.year_to, operator=FilterOperator.LTE))
    if filters.categories:
        items.append(MetadataFilter(key="categories", value=list(filters.categories), operator=FilterOperator.ANY))
    return MetadataFilters(filters=items) if items else None


def _chroma_where(filters: Filters) -> dict | None:
    """The same filters in Chroma's syntax (llama-index's translator lacks list membership)."""
    clauses: list[dict] = []
    if filters.year_from is not None:
        clauses.append({"year": {"$gte": filters.year_from}})
    if filters.year_to is not None:
        clauses.append({"year": {"$lte": filters.year_to}})
    if filters.categories:
        cats = [{"categories": {"$contains": c}} for c in filters.categories]
        clauses.append(cats[0] if len(cats) == 1 else {"$or": cats})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def hybrid_search(
    question: str,
    k: int,
    store: StoreLike,
    embedder: Embedder,
    lexical: LexicalIndex,
    candidates: int,
    filters: Filters | None = None,
    mode: str = "hybrid",
) -> list[Source]:
    """The ``k`` best papers for ``question``, numbered from 1, highest fused score first.

    ``mode``: ``hybrid`` fuses the dense and BM25 retrievers; ``dense`` or ``bm25`` uses that one
    alone (an ablation). Alone, a retriever's hits still go through the same reciprocal-rank
    fusion, which keeps its order and the score's scale; grouping and evidence are the same."""
    if mode not in RETRIEVAL_MODES:
        raise ConfigError(f"Unknown retrieval mode {mode!r}: set RAG_RETRIEVAL to one of {', '.join(RETRIEVAL_MODES)}.")
    filters = filters or Filters()
    n = max(1, min(candidates, lexical.n_docs))
    fetch = min(n + TIE_SLACK, lexical.n_docs)
    retrievers: list[BaseRetriever] = []
    if mode in ("hybrid", "dense"):
        dense = VectorStoreIndex.from_vector_store(store.vector_store, embed_model=embedder).as_retriever(
            similarity_top_k=fetch, vector_store_kwargs={"where": _chroma_where(filters)} if filters else {}
        )
        retrievers.append(_Ranked(dense, n))
    if mode in ("hybrid", "bm25"):
        try:
            bm25 = _bm25_class()(existing_bm25=lexical.bm25, similarity_top_k=fetch, filters=_filters(filters))
        except ValueError:  # every chunk was filtered out
            return []
        retrievers.append(_Ranked(bm25, n))
    fusion = QueryFusionRetriever(
        retrievers,
        llm=MockLLM(),  # explicit: never used with num_queries=1, and never the global Settings.llm
        mode=FUSION_MODES.RECIPROCAL_RANK,
        num_queries=1,
        use_async=False,
        similarity_top_k=len(retrievers) * n,  # every hit of every side: none is cut before the sort below
    )
    q_vec = query_vector(embedder, question)  # once: the dense side and the evidence score share it
    fused = sorted(fusion.retrieve(QueryBundle(question, embedding=q_vec.tolist())), key=_fused_order)

    order: list[str] = []
    by_paper: dict[str, dict[str, Any]] = {}
    for hit in fused:
        meta = hit.node.metadata
        pid = meta["paper_id"]
        entry = by_paper.get(pid)
        if entry is None:
            if len(order) == k:
                continue
            order.append(pid)
            entry = by_paper[pid] = {"score": float(hit.score or 0.0), "passages": [], "meta": meta}
        if len(entry["passages"]) < PASSAGES_PER_SOURCE:
            entry["passages"].append(hit.node.get_content())

    records = store.papers(order)
    q_terms = lexical.terms(question)
    sources = []
    for number, pid in enumerate(order, start=1):
        entry = by_paper[pid]
        meta, vectors = records.get(pid, ({}, []))
        meta = meta or entry["meta"]
        abstract = meta.get("abstract") or " ".join(entry["passages"])
        cosine = float(np.max(np.asarray(vectors, dtype=np.float32) @ q_vec)) if len(vectors) else 0.0
        coverage = lexical.coverage(q_terms, f"{meta['title']} {abstract}")
        sources.append(
            Source(
                number=number,
                paper_id=pid,
                title=meta["title"],
                text=abstract,
                score=entry["score"],
                evidence=evidence_score(cosine, coverage),
                passages=entry["passages"],
                url=meta.get("url") or None,
                authors=tuple(a for a in (meta.get("authors") or "").split("; ") if a),
                year=meta.get("year") if isinstance(meta.get("year"), int) else None,
                categories=tuple(meta.get("categories") or ()),
            )
        )
    return sources


def evidence_score(dense_cosine: float, coverage: float) -> float:
    """How strongly a paper matches a question, 0..1 (higher = stronger).

    Blends MiniLM's cosine between the question and the paper's best chunk (rescaled
    from its useful 0.1..0.7 range) with the IDF-weighted share of the question's
    terms found in the paper. Either alone is fooled: a question in plain words has
    low term coverage, an off-topic question that shares a few words has low cosine.
    """
    dense = min(max((dense_cosine - 0.1) / 0.6, 0.0), 1.0)
    return round(0.5 * dense + 0.5 * min(max(coverage, 0.0), 1.0), 4)
