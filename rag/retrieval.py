"""Hybrid retrieval: dense (MiniLM in Chroma) + BM25 (bm25s), fused by relative score and query-term coverage.

Both retrievers and the fusion are llama-index's (``VectorIndexRetriever``,
``BM25Retriever``, ``QueryFusionRetriever`` in ``relative_score`` mode: each side's scores
min-max scaled over its hits, then averaged). To those two relative scores the default fusion
(``coverage``) adds a third, absolute one, with equal weight: how much of the question's terms
(IDF-weighted) each chunk uses. This module adds what the product needs on top: chunk hits
grouped into papers (a paper scores its best chunk), optional year/category filters applied to
both sides, a persisted BM25 index that is rebuilt only when the collection changes, and an
*evidence* score per paper (0..1, higher = stronger) that the engine uses to decide whether to abstain.
The fused score is 0..1, higher = more relevant. Relative scores keep how far ahead a side's
best hit is, which reciprocal-rank fusion (the ``fusion`` setting's ``rrf``) throws away: with RRF a
paper one side ranks far ahead of everything loses to papers both sides rank middling. Relative
scores in turn spread near-tied hits over 0..1, which coverage, being absolute, does not; both
matter more the larger the collection (see the README's Retrieval quality section). The ``retrieval``
setting can switch either side off (``bm25`` or ``dense`` alone), for ablations; grouping and evidence stay.

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
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn, metadata_dict_to_node

from .errors import ConfigError
from .embedding import query_vector
from .types import Filters, Source

if TYPE_CHECKING:
    from .protocols import Embedder
    from .protocols import Lexical as LexicalIndex
    from .protocols import Store as StoreLike
    from .segments import Segment

BM25_STOPWORDS = "en"  # bm25s's short list; its longer "en_plus" found fewer right papers on our questions
EVIDENCE_STOPWORDS = "en_plus"  # for evidence, question words ("what", "which", "how") must not count
#: Words of the questions themselves, not of what they ask about (stemmed, as tokens come out).
QUESTION_WORDS = frozenset(
    "paper papers studi work propos introduc present describ report show find found use method approach "
    "collect abstract author research tell explain mean anyon someon way thing".split()
)
PASSAGES_PER_SOURCE = 3
RETRIEVAL_MODES = ("hybrid", "bm25", "dense")  # the `retrieval` setting: both fused, or one alone
#: The `fusion` setting: how the two retrievers' hits are combined (llama-index's fusion modes).
#: ``coverage``: ``relative``, plus each chunk's query-term coverage (:meth:`rag.segments.MergedIndex.coverage`)
#: as a third signal; the three (each 0..1) are averaged with equal weights;
#: ``relative``: each side's scores min-max scaled to 0..1 over its hits, and averaged (a convex combination);
#: ``rrf``: reciprocal rank, 1/(60 + rank) summed, which ignores how far apart the scores are.
FUSIONS = {
    "coverage": FUSION_MODES.RELATIVE_SCORE,
    "relative": FUSION_MODES.RELATIVE_SCORE,
    "rrf": FUSION_MODES.RECIPROCAL_RANK,
}
TIE_SLACK = 8  # each retriever fetches this many extra hits, so equal scores at its cut are chosen by chunk id

log = logging.getLogger("rag")


class _SegmentBM25(BaseRetriever):
    """BM25 over the incremental index (:mod:`rag.segments`): chunks sharing a term with the query, best first.

    Scores are bm25s's (``lucene`` BM25); the query is tokenised as llama-index's ``BM25Retriever`` does
    (bm25s's default English stopwords out, stemmed). Filters leave chunks out by their metadata."""

    def __init__(self, lexical: Any, top_k: int, filters: MetadataFilters | None = None):
        super().__init__()
        self._lexical = lexical
        self._top_k = top_k
        same: Any = lambda meta: meta  # noqa: E731  # the filter is called with each chunk's metadata
        self._keep = build_metadata_filter_fn(same, filters) if filters else None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from .segments import tokenize

        # bm25s's default stopword list ("en"), as llama-index's BM25Retriever tokenises a query: without it,
        # words such as "it" and "are" that the corpus side keeps in some forms would count
        tokens = tokenize([query_bundle.query_str], "en", self._lexical.stemmer)
        index = self._lexical.bm25
        hits = index.top(tokens[0] if tokens else [], self._top_k, self._keep)
        out = []
        for pos, score in hits:
            _cid, text, meta = index.record(pos)
            out.append(NodeWithScore(node=metadata_dict_to_node(meta, text=text), score=score))
        return out


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
    leaves equal fused scores in the order it met them)."""
    return (-(hit.score or 0.0), str(hit.node.metadata.get("paper_id", "")), hit.node.node_id)


class MisalignedIndex(ValueError):
    """A BM25 index whose corpus does not hold exactly one entry per indexed chunk."""


class Lexical:
    """A BM25 index over every chunk (:class:`rag.segments.MergedIndex`), with what evidence scoring needs from it.

    Raises :class:`MisalignedIndex` unless the index holds ``expected_docs`` chunks (the store's chunk
    count, when given): a BM25 hit is a position in the index, so one out of step with the store would
    answer with the wrong chunk."""

    def __init__(self, index: Any, expected_docs: int | None = None):
        import Stemmer

        n_docs = index.n_docs
        if expected_docs is not None and n_docs != expected_docs:
            raise MisalignedIndex(f"BM25 index of {n_docs} chunks, store of {expected_docs}")
        self.bm25 = index
        self.stemmer = Stemmer.Stemmer("english")
        self.max_idf = float(math.log(1.0 + (n_docs + 0.5) / 0.5))
        self.n_docs = n_docs

    def terms(self, text: str) -> list[str]:
        """Content terms of ``text``: lowercased, stopwords out, stemmed (as BM25 indexes them)."""
        import bm25s

        toks = bm25s.tokenize(text, stopwords=EVIDENCE_STOPWORDS, stemmer=self.stemmer, return_ids=False, show_progress=False)
        return list(dict.fromkeys(t for t in toks[0] if t not in QUESTION_WORDS)) if toks else []

    def term_weight(self, term: str) -> float:
        """IDF of a term; a term the collection never uses weighs the most."""
        return self.bm25.term_weight(term, self.max_idf)

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


def build_lexical(store: StoreLike, cache_dir: Path, key: str, previous: LexicalIndex | None = None) -> Lexical:
    """The BM25 index of the store's current contents (named ``key``), updated incrementally.

    The main segment comes from ``previous`` (this process's index before the change) or from the
    cache in ``cache_dir``; chunks added since go into a delta segment and chunks removed become
    tombstones (:mod:`rag.segments`: scores are those of a full rebuild). Once the changes pass
    :data:`rag.segments.COMPACT_SHARE` of the main segment, or when no usable main segment exists, the
    index is rebuilt from every chunk and cached. A cache that does not hold exactly its chunks is
    rebuilt; when the cache cannot be written (a full disk, a read-only directory) the index is used
    from memory: a cache only saves time."""
    from .segments import COMPACT_SHARE, MergedIndex

    now = store.chunk_ids()
    expected = store.count()
    main = previous.bm25.main if previous is not None else _load_main(cache_dir)
    if main is not None and len(now) == expected:
        current = set(now)
        dead = set(main.ids) - current
        added = sorted(current - set(main.ids))
        if len(added) + len(dead) <= COMPACT_SHARE * main.size:
            try:
                return Lexical(MergedIndex(main, dead, _segment(store.records(added))), expected)
            except MisalignedIndex as exc:  # the store changed while we read it: rebuild from what it holds
                log.info("Rebuilding the BM25 index: %s", exc)
    main = _segment(store.iter_records())
    tmp = cache_dir / f".{key}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        main.save(tmp)
        for old in cache_dir.iterdir():  # the directory is this collection's: older caches are stale
            if old.is_dir() and old != tmp and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(cache_dir / key)
        except OSError:  # another process just wrote the same cache
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception as exc:  # OSError (disk full, read-only), ValueError (unserialisable metadata)
        log.warning("Cannot cache the BM25 index in %s (%s): using it from memory.", cache_dir, exc)
        shutil.rmtree(tmp, ignore_errors=True)
    return Lexical(MergedIndex(main), len(main.ids))


def _segment(pages: Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]) -> Segment:
    """A segment of the chunks ``pages`` list, in chunk-id order (the same whatever order the store lists them in)."""
    from .segments import Segment, compact, tokenize

    rows = []  # a page at a time, each chunk's metadata kept as JSON text, not the store's dicts
    for ids, docs, metas in pages:
        for cid, doc, meta in zip(ids, docs, metas):
            text = metadata_dict_to_node(meta, text=doc).get_content(metadata_mode=MetadataMode.EMBED)
            rows.append((cid, doc, compact(meta), text))
    rows.sort(key=lambda r: r[0])
    tokens = tokenize([r[3] for r in rows], BM25_STOPWORDS, _stemmer())
    return Segment.build([r[:3] for r in rows], tokens)


def _load_main(cache_dir: Path) -> Segment | None:
    """The cached main segment, or None when there is none or it is unreadable (then it is removed)."""
    from .segments import Segment

    if not cache_dir.is_dir():
        return None
    for path in sorted(p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            return Segment.load(path)
        except Exception as exc:  # a corrupt, partial or older-format cache is rebuilt, never fatal
            log.info("Rebuilding the BM25 cache %s: %s", path, exc)
            shutil.rmtree(path, ignore_errors=True)
    return None


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


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
    fusion: str = "coverage",
) -> list[Source]:
    """The ``k`` best papers for ``question``, numbered from 1, highest fused score first.

    ``mode``: ``hybrid`` fuses the dense and BM25 retrievers; ``dense`` or ``bm25`` uses that one
    alone (an ablation). Alone, a retriever's hits still go through the same fusion, which keeps
    their order; grouping and evidence are the same. ``fusion``: ``coverage``, ``relative`` or ``rrf``
    (:data:`FUSIONS`); coverage counts only in ``hybrid`` mode, so that one retriever alone stays itself."""
    if mode not in RETRIEVAL_MODES:
        raise ConfigError(f"Unknown retrieval mode {mode!r}: set RAG_RETRIEVAL to one of {', '.join(RETRIEVAL_MODES)}.")
    if fusion not in FUSIONS:
        raise ConfigError(f"Unknown fusion {fusion!r}: set RAG_FUSION to one of {', '.join(FUSIONS)}.")
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
        retrievers.append(_Ranked(_SegmentBM25(lexical, fetch, _filters(filters)), n))
    fuse = QueryFusionRetriever(
        retrievers,
        llm=MockLLM(),  # explicit: never used with num_queries=1, and never the global Settings.llm
        mode=FUSIONS[fusion],
        num_queries=1,
        use_async=False,
        similarity_top_k=len(retrievers) * n,  # every hit of every side: none is cut before the sort below
    )
    q_vec = query_vector(embedder, question)  # once: the dense side and the evidence score share it
    fused = fuse.retrieve(QueryBundle(question, embedding=q_vec.tolist()))
    if fusion == "coverage" and mode == "hybrid":
        _add_coverage(fused, lexical, question)
    fused.sort(key=_fused_order)

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

    records = store.papers(order, lexical.bm25.chunks_of(order))
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


def _add_coverage(fused: list[NodeWithScore], lexical: LexicalIndex, question: str) -> None:
    """Make each fused hit's score the mean of its two sides' relative scores and its query-term coverage.

    Relative scores measure each side against its own hits. When every hit of a side is about as good (a
    dense side with nothing right, or BM25 over many papers that share some of the question's words), min-max
    scaling still spreads them over 0..1, and the order turns on noise. Coverage is absolute: a chunk that
    uses all of the question's terms (IDF-weighted) scores 1 whatever the other hits do."""
    from .segments import tokenize

    tokens = tokenize([question], "en", lexical.stemmer)  # as the BM25 side tokenises the question
    index = lexical.bm25
    coverage = index.coverage(tokens[0] if tokens else [], index.positions([hit.node.node_id for hit in fused]))
    for hit, cov in zip(fused, coverage):
        hit.score = (2.0 * (hit.score or 0.0) + float(cov)) / 3.0  # (dense + bm25 + coverage) / 3


def evidence_score(dense_cosine: float, coverage: float) -> float:
    """How strongly a paper matches a question, 0..1 (higher = stronger).

    Blends MiniLM's cosine between the question and the paper's best chunk (rescaled
    from its useful 0.1..0.7 range) with the IDF-weighted share of the question's
    terms found in the paper. Either alone is fooled: a question in plain words has
    low term coverage, an off-topic question that shares a few words has low cosine.
    """
    dense = min(max((dense_cosine - 0.1) / 0.6, 0.0), 1.0)
    return round(0.5 * dense + 0.5 * min(max(coverage, 0.0), 1.0), 4)
