"""The retrievers `rag bench` compares the engine with, run in the same process on the same collection.

* :class:`LlamaIndexDense`: plain llama-index ``VectorStoreIndex`` over the same Chroma collection,
  with the engine's embedder passed explicitly (wrapped as a llama-index ``BaseEmbedding``).
* :class:`Bm25Only`: bm25s alone over the same chunks (English stopwords, Snowball stemmer).
* :class:`BruteForceRRF`: the floor: numpy brute-force cosine over every chunk vector, plus bm25s,
  fused by reciprocal rank.

Each returns the ids of the ``k`` best *papers* (chunks grouped by ``paper_id``, best first), so
their hit@5 compares with the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import numpy as np


RRF_K = 60  #: reciprocal-rank fusion constant (the usual 60)
PAGE = 1000  #: records per Chroma get()


class Retriever(Protocol):
    name: str

    def papers(self, question: str, k: int) -> list[str]: ...


@dataclass
class Chunks:
    """Every chunk of the collection as stored: ids, paper ids, the text that was embedded, vectors."""

    ids: list[str]
    paper_ids: list[str]
    texts: list[str]
    vectors: np.ndarray | None  #: (n, dim) float32, unit length; None when not read

    @classmethod
    def read(cls, collection: Any, vectors: bool = True) -> "Chunks":
        """Page through a Chroma collection. ``texts`` are what the engine embedded (title and chunk)."""
        from llama_index.core.schema import MetadataMode
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        ids: list[str] = []
        pids: list[str] = []
        texts: list[str] = []
        pages: list[np.ndarray] = []
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        offset = 0
        while True:
            res = collection.get(include=include, limit=PAGE, offset=offset)
            if not res["ids"]:
                break
            offset += len(res["ids"])
            for cid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"]):
                ids.append(cid)
                pids.append(meta["paper_id"])
                texts.append(metadata_dict_to_node(meta, text=doc).get_content(metadata_mode=MetadataMode.EMBED))
            if vectors:  # a page at a time: a list of Python floats would take ten times the memory
                pages.append(np.asarray(res["embeddings"], dtype=np.float32))
        matrix = (np.concatenate(pages) if pages else np.zeros((0, 384), np.float32)) if vectors else None
        return cls(ids, pids, texts, matrix)


def top_papers(chunk_order: Iterable[int], paper_ids: list[str], k: int) -> list[str]:
    """The first ``k`` distinct papers of chunks ranked best first."""
    out: list[str] = []
    for i in chunk_order:
        pid = paper_ids[i]
        if pid not in out:
            out.append(pid)
            if len(out) == k:
                break
    return out


def wrap_embedder(embedder: Any) -> Any:
    """A llama-index ``BaseEmbedding`` that calls ``embedder.embed(texts)`` (the engine's ONNX model)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class Wrapped(BaseEmbedding):
        _inner: Any = PrivateAttr(default=None)

        def __init__(self, inner: Any) -> None:
            super().__init__(model_name="bench-wrapped")
            self._inner = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._inner.embed([query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._inner.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._inner.embed(texts).tolist()

    return Wrapped(embedder)


class LlamaIndexDense:
    name = "llama-index VectorStoreIndex (dense, same Chroma collection)"

    def __init__(self, collection: Any, embedder: Any, fetch: int = 50):
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        store = ChromaVectorStore(chroma_collection=collection)
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=wrap_embedder(embedder))
        self._fetch = fetch

    def papers(self, question: str, k: int) -> list[str]:
        hits = self._index.as_retriever(similarity_top_k=self._fetch).retrieve(question)
        ids = [h.node.metadata["paper_id"] for h in hits]
        return top_papers(range(len(ids)), ids, k)


class Bm25Only:
    name = "bm25s alone (same chunks)"

    def __init__(self, chunks: Chunks, fetch: int = 50):
        import bm25s
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize(chunks.texts, stopwords="en", stemmer=self._stemmer, show_progress=False),
                         show_progress=False)
        self._chunks = chunks
        self._fetch = min(fetch, len(chunks.ids))

    def ranked(self, question: str) -> list[int]:
        import bm25s

        tokens = bm25s.tokenize([question], stopwords="en", stemmer=self._stemmer, show_progress=False)
        docs, scores = self._bm25.retrieve(tokens, k=self._fetch, show_progress=False, n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def papers(self, question: str, k: int) -> list[str]:
        return top_papers(self.ranked(question), self._chunks.paper_ids, k)


class BruteForceRRF:
    name = "numpy brute-force cosine + bm25s, RRF (floor)"

    def __init__(self, chunks: Chunks, embedder: Any, bm25: Bm25Only, fetch: int = 50):
        if chunks.vectors is None:
            raise ValueError("BruteForceRRF needs the chunk vectors: read the chunks with vectors=True.")
        self._chunks, self._embedder, self._bm25 = chunks, embedder, bm25
        self._fetch = min(fetch, len(chunks.ids))

    def papers(self, question: str, k: int) -> list[str]:
        assert self._chunks.vectors is not None
        q = self._embedder.embed([question])[0]
        cos = self._chunks.vectors @ q
        top = np.argpartition(-cos, self._fetch - 1)[: self._fetch]
        dense = top[np.argsort(-cos[top], kind="stable")]
        fused: dict[int, float] = {}
        for ranking in (dense.tolist(), self._bm25.ranked(question)):
            for rank, i in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        return top_papers(order, self._chunks.paper_ids, k)
