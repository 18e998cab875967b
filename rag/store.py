"""The Chroma store: an embedded ``PersistentClient`` by default, a Chroma server when configured.

Each chunk is one Chroma record written through llama-index's ``ChromaVectorStore``.
Its metadata carries the paper (``paper_id``, ``title``, ``year``, ``categories``,
``authors``, ``url``), the chunk's position and the paper's ``content_hash``; chunk 0
also carries the full abstract, so a paper can be shown without reassembling chunks.
The collection's own metadata records the embedding model and a ``generation``
counter that every ingest bumps, so derived data (the BM25 index) knows when it is stale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlparse

from llama_index.vector_stores.chroma import ChromaVectorStore

from .embedding import MODEL_ID
from .errors import ConfigError, IndexMismatchError, ServiceError
from .settings import Settings

PAGE = 1000  # records per Chroma get() page


class _ListMetadataChromaStore(ChromaVectorStore):
    """ChromaVectorStore that keeps list metadata (categories), which Chroma >= 1.0 stores."""

    flat_metadata: bool = False


@dataclass
class CollectionStats:
    papers: int
    chunks: int
    last_ingest: str | None
    generation: int
    location: str
    years: tuple[int, int] | None
    categories: list[str]


class Store:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = _connect(settings)
        self.location = settings.chroma_url or str(settings.index_dir / "chroma")
        try:
            self.collection = self.client.get_or_create_collection(
                settings.collection,
                embedding_function=None,  # we always pass vectors; never let Chroma download a model
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embed_model": MODEL_ID, "generation": 0},
            )
        except ValueError as exc:  # chromadb raises ValueError subclasses for bad names
            raise ConfigError(f"Cannot use collection name '{settings.collection}': {exc}") from None
        model = (self.collection.metadata or {}).get("embed_model")
        if model != MODEL_ID:
            raise IndexMismatchError(
                f"Collection '{settings.collection}' at {self.location} was built with embeddings "
                f"'{model}', not '{MODEL_ID}': use another RAG_COLLECTION or RAG_INDEX_DIR."
            )
        self.vector_store = _ListMetadataChromaStore(chroma_collection=self.collection)

    # -- state ---------------------------------------------------------------------------
    def count(self) -> int:
        return self.collection.count()

    @property
    def generation(self) -> int:
        return int((self.collection.metadata or {}).get("generation", 0))

    def collection_key(self) -> str:
        """Identifies this collection's current contents (id + generation)."""
        self.collection = self.client.get_collection(self.settings.collection)
        return f"{self.collection.id}-{self.generation}"

    def bump_generation(self) -> None:
        meta = dict(self.collection.metadata or {})
        meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["last_ingest"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.collection.modify(metadata=meta)

    # -- reading --------------------------------------------------------------------------
    def existing(self, paper_ids: list[str]) -> dict[str, dict[str, list[str]]]:
        """For each known paper: ``{content_hash: [chunk ids]}`` (more than one hash = an interrupted update)."""
        found: dict[str, dict[str, list[str]]] = {}
        if not paper_ids:
            return found
        res = self.collection.get(where={"paper_id": {"$in": list(paper_ids)}}, include=["metadatas"])
        for cid, meta in zip(res["ids"], res["metadatas"]):
            found.setdefault(meta["paper_id"], {}).setdefault(meta["content_hash"], []).append(cid)
        return found

    def iter_records(self) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """All chunks, a page at a time: ``(ids, documents, metadatas)``."""
        offset = 0
        while True:
            res = self.collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            if not res["ids"]:
                return
            yield res["ids"], res["documents"], res["metadatas"]
            offset += len(res["ids"])

    def papers(self, paper_ids: list[str]) -> dict[str, tuple[dict[str, Any], Any]]:
        """Per paper: chunk-0 metadata (with the full ``abstract``) and all its chunk vectors."""
        if not paper_ids:
            return {}
        res = self.collection.get(where={"paper_id": {"$in": list(paper_ids)}}, include=["metadatas", "embeddings"])
        out: dict[str, tuple[dict[str, Any], list[Any]]] = {}
        for meta, vec in zip(res["metadatas"], res["embeddings"]):
            first, vecs = out.get(meta["paper_id"], (None, []))
            vecs.append(vec)
            out[meta["paper_id"]] = (meta if meta.get("chunk") == 0 else first, vecs)
        return {pid: (meta or {}, vecs) for pid, (meta, vecs) in out.items()}

    def stats(self) -> CollectionStats:
        self.collection = self.client.get_collection(self.settings.collection)
        meta = self.collection.metadata or {}
        years: list[int] = []
        cats: dict[str, int] = {}
        papers = 0
        offset = 0
        while True:
            res = self.collection.get(where={"chunk": 0}, include=["metadatas"], limit=PAGE, offset=offset)
            if not res["ids"]:
                break
            papers += len(res["ids"])
            offset += len(res["ids"])
            for m in res["metadatas"]:
                if isinstance(m.get("year"), int):
                    years.append(m["year"])
                for c in m.get("categories") or []:
                    cats[c] = cats.get(c, 0) + 1
        return CollectionStats(
            papers=papers,
            chunks=self.collection.count(),
            last_ingest=meta.get("last_ingest"),
            generation=int(meta.get("generation", 0)),
            location=f"{self.location} (collection '{self.settings.collection}')",
            years=(min(years), max(years)) if years else None,
            categories=sorted(cats, key=lambda c: (-cats[c], c)),
        )

    # -- writing --------------------------------------------------------------------------
    def add(self, nodes: list[Any]) -> None:
        if nodes:
            self.vector_store.add(nodes)

    def delete(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), PAGE):
            self.collection.delete(ids=chunk_ids[start : start + PAGE])


def _connect(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        path = settings.index_dir / "chroma"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cannot create the index directory {path}: {exc}. Set RAG_INDEX_DIR to a writable directory.") from None
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
    if not url.hostname:
        raise ConfigError(f"RAG_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000.")
    try:
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb wraps httpx errors in several types
        raise ServiceError(
            f"Cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}): "
            "start it (`chroma run --path DIR --port PORT`) or unset RAG_CHROMA_URL to use the embedded store."
        ) from None
    return client
