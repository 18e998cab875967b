"""The Chroma store: an embedded ``PersistentClient`` by default, a Chroma server when configured.

Each chunk is one Chroma record written through llama-index's ``ChromaVectorStore``.
Its metadata carries the paper (``paper_id``, ``title``, ``year``, ``categories``,
``authors``, ``url``), the chunk's position and the paper's ``content_hash``; chunk 0
also carries the full abstract, so a paper can be shown without reassembling chunks.
The collection's own metadata records the embedding model and a ``generation``
counter that every ingest bumps, so derived data (the BM25 index) knows when it is stale.

An embedded store is held by one process at a time (:mod:`rag.index_lock`); every Chroma call
reports a full disk, a read-only or a damaged index as a one-line error (:mod:`rag.storage_errors`).
"""

from __future__ import annotations

import logging
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

from llama_index.vector_stores.chroma import ChromaVectorStore

from . import index_lock
from .embedding import MODEL_ID
from .errors import ConfigError, IndexMismatchError, ServiceError
from .settings import Settings
from .storage_errors import GuardedCollection, translated

PAGE = 1000  # records per Chroma get() page
#: HNSW search breadth (``ef_search``) at least this large: a collection of fewer chunks is searched
#: exhaustively (the search keeps every chunk it reaches), so its results are exact and the same in
#: every process. Chroma rebuilds the unsaved part of the graph on each open, with several threads,
#: so at the default breadth (100) two processes missed different near neighbours.
EXACT_SEARCH_CHUNKS = 4000
#: HNSW search breadth past :data:`EXACT_SEARCH_CHUNKS`. At 218,001 chunks, 4,000 cost 28-34 ms a query and
#: 1,000 cost 13.5 ms, finding 0.993 and 0.959 of the exact 58 nearest; on NFCorpus (13,327 chunks)
#: 400, 1,000 and 4,000 gave the same nDCG@10 (see the README's Performance section).
LARGE_SEARCH_EF = 1000

log = logging.getLogger("rag")


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
    undated: int = 0  #: papers without a year: a year filter leaves them out


class Store:
    """The collection, opened; an embedded one holds this process's lock on ``index_dir`` until :meth:`close`."""

    def __init__(self, settings: Settings, notify: Callable[[str], None] | None = None):
        self.settings = settings
        self.location = settings.chroma_url or str(settings.index_dir / "chroma")
        self._where = settings.chroma_url or str(settings.index_dir)  # as error messages name it
        self._local_dir = None if settings.chroma_url else settings.index_dir
        self._lock_key: str | None = None
        self._max_batch: int | None = None
        self._counted: tuple[str, int] | None = None  #: (collection_key, count) as last counted
        self.client: Any = None
        if not settings.chroma_url:
            self._lock_key = index_lock.acquire(settings.index_dir, settings.lock_timeout, notify or log.warning)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        settings = self.settings
        try:
            with self._translated():
                self.client = _connect(settings)
                collection = self.client.get_or_create_collection(
                    settings.collection,
                    embedding_function=None,  # we always pass vectors; never let Chroma download a model
                    configuration={"hnsw": {"space": "cosine", "ef_search": search_ef(settings.candidates, 0)}},
                    metadata={"embed_model": MODEL_ID, "generation": 0},
                )
        except ValueError as exc:  # chromadb raises ValueError subclasses for bad names
            raise ConfigError(f"Cannot use collection name '{settings.collection}': {exc}") from None
        self.collection = self._guarded(collection)
        model = (self.collection.metadata or {}).get("embed_model")
        if model != MODEL_ID:
            raise IndexMismatchError(
                f"Collection '{settings.collection}' at {self.location} was built with embeddings "
                f"'{model}', not '{MODEL_ID}': use another RAG_COLLECTION or RAG_INDEX_DIR."
            )
        if self._fit_search(search_ef(settings.candidates, self.collection.count())) and not settings.chroma_url:
            # the embedded client keeps the breadth it loaded the index with (counting loads it): open it anew
            with self._translated():
                self.client.close()
                self.client = _connect(settings)
            self.collection = self._fresh_collection()
        self.vector_store = _ListMetadataChromaStore(chroma_collection=self.collection)  # type: ignore[call-arg]  # pydantic field set by the library's __init__

    def _fit_search(self, ef: int) -> bool:
        """Set the collection's ``ef_search`` to ``ef`` when it differs (and say whether it did): the collection
        has grown past exhaustive search, or shrunk back, or was created before the breadth was set (Chroma's
        default is 100). A client that has loaded the index keeps searching at the old breadth until reopened;
        a Chroma server, until it loads the collection again."""
        with warnings.catch_warnings():  # Chroma calls our embedding_function=None a "legacy" config when read back
            warnings.simplefilter("ignore", DeprecationWarning)
            hnsw = (self.collection.configuration or {}).get("hnsw") or {}
            if int(hnsw.get("ef_search") or 0) == ef:
                return False
            self.collection.modify(configuration={"hnsw": {"ef_search": ef}})
            return True

    def close(self) -> None:
        """Close the client and, with the last store of this process on the index, release its lock."""
        client, self.client = self.client, None
        try:
            if client is not None and hasattr(client, "close"):
                client.close()
        finally:
            if self._lock_key is not None:
                index_lock.release(self._lock_key)
                self._lock_key = None

    def _translated(self):
        return translated(self._where, self._local_dir)

    def _guarded(self, collection: Any) -> GuardedCollection:
        return GuardedCollection(collection, self._where, self._local_dir)

    def _fresh_collection(self) -> GuardedCollection:
        with self._translated():
            return self._guarded(self.client.get_collection(self.settings.collection))

    def max_batch_size(self) -> int:
        """The most records the client takes in one write."""
        if self._max_batch is None:
            with self._translated():
                self._max_batch = max(1, int(self.client.get_max_batch_size()))
        return self._max_batch

    # -- state ---------------------------------------------------------------------------
    def count(self) -> int:
        return self.collection.count()

    @property
    def generation(self) -> int:
        return int((self.collection.metadata or {}).get("generation", 0))

    def collection_key(self) -> str:
        """Identifies this collection's current contents (id + generation + the last change's token)."""
        self.collection = self._fresh_collection()
        change = (self.collection.metadata or {}).get("change", "")
        return f"{self.collection.id}-{self.generation}{'-' + change if change else ''}"

    def readiness(self) -> tuple[str, int]:
        """``(collection_key(), count())`` in one round trip while the contents are unchanged: the count
        is kept per key (every ingest changes the key; this store's own writes forget it)."""
        key = self.collection_key()
        if self._counted is None or self._counted[0] != key:
            self._counted = (key, self.collection.count())
        return self._counted

    def bump_generation(self) -> None:
        """Mark the contents changed. Each bump writes a new random token next to the counter, so
        two ingests on a Chroma server that read the same generation still leave a key no reader
        has seen (the counter alone could lose an increment to their read-then-write race)."""
        self.collection = self._fresh_collection()
        meta = dict(self.collection.metadata or {})
        meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["change"] = secrets.token_hex(4)
        meta["last_ingest"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.collection.modify(metadata=meta)
        self._counted = None
        self._fit_search(search_ef(self.settings.candidates, self.collection.count()))

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

    def titles_present(self, titles: list[str]) -> set[str]:
        """Which of ``titles`` are titles of papers in the collection."""
        if not titles:
            return set()
        res = self.collection.get(where={"$and": [{"title": {"$in": list(titles)}}, {"chunk": 0}]}, include=["metadatas"])
        return {meta["title"] for meta in res["metadatas"]}

    def iter_records(self) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """All chunks, a page at a time: ``(ids, documents, metadatas)``."""
        offset = 0
        while True:
            res = self.collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            if not res["ids"]:
                return
            yield res["ids"], res["documents"], res["metadatas"]
            offset += len(res["ids"])

    def chunk_ids(self) -> list[str]:
        """Every chunk id, without documents or metadata (what the BM25 index diffs against)."""
        return list(self.collection.get(include=[])["ids"])

    def records(self, chunk_ids: list[str]) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """The chunks ``chunk_ids``, a page at a time: ``(ids, documents, metadatas)``."""
        for start in range(0, len(chunk_ids), PAGE):
            res = self.collection.get(ids=chunk_ids[start : start + PAGE], include=["documents", "metadatas"])
            yield res["ids"], res["documents"], res["metadatas"]

    def papers(self, paper_ids: list[str], chunk_ids: list[str] | None = None) -> dict[str, tuple[dict[str, Any], Any]]:
        """Per paper: chunk-0 metadata (with the full ``abstract``) and all its chunk vectors.

        ``chunk_ids``: the papers' chunks, when the caller knows them (the BM25 index does): fetched by id,
        which stays fast as the collection grows, where a metadata filter does not (6 ms at 22k chunks,
        26 ms at 218k). A paper none of them belongs to is looked up by its metadata."""
        if not paper_ids:
            return {}
        wanted = set(paper_ids)
        out: dict[str, tuple[dict[str, Any] | None, list[Any]]] = {}
        if chunk_ids:
            self._collect(self.collection.get(ids=list(chunk_ids), include=["metadatas", "embeddings"]), wanted, out)
        missing = [pid for pid in paper_ids if pid not in out]
        if missing:
            self._collect(self.collection.get(where={"paper_id": {"$in": missing}}, include=["metadatas", "embeddings"]),
                          wanted, out)
        return {pid: (meta or {}, vecs) for pid, (meta, vecs) in out.items()}

    @staticmethod
    def _collect(res: Any, wanted: set[str], out: dict[str, tuple[dict[str, Any] | None, list[Any]]]) -> None:
        for meta, vec in zip(res["metadatas"], res["embeddings"]):
            if meta["paper_id"] not in wanted:
                continue
            first, vecs = out.get(meta["paper_id"], (None, []))
            vecs.append(vec)
            out[meta["paper_id"]] = (meta if meta.get("chunk") == 0 else first, vecs)

    def stats(self) -> CollectionStats:
        self.collection = self._fresh_collection()
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
            undated=papers - len(years),
        )

    # -- writing --------------------------------------------------------------------------
    def add(self, nodes: list[Any]) -> None:
        """Write chunks, at most the client's batch size at a time, never splitting a paper's chunks."""
        self._counted = None
        for batch in paper_batches(nodes, self.max_batch_size()):
            self.vector_store.add(batch)

    def delete(self, chunk_ids: list[str]) -> None:
        self._counted = None
        size = min(PAGE, self.max_batch_size())
        for start in range(0, len(chunk_ids), size):
            self.collection.delete(ids=chunk_ids[start : start + size])


def search_ef(candidates: int, chunks: int) -> int:
    """The HNSW ``ef_search`` for ``candidates`` results per query in a collection of ``chunks``: exhaustive up
    to :data:`EXACT_SEARCH_CHUNKS` chunks, :data:`LARGE_SEARCH_EF` past them; never under twice the results."""
    breadth = EXACT_SEARCH_CHUNKS if chunks <= EXACT_SEARCH_CHUNKS else LARGE_SEARCH_EF
    return max(breadth, 2 * candidates)


def paper_batches(nodes: list[Any], size: int) -> Iterator[list[Any]]:
    """``nodes`` in batches of at most ``size``; a paper's chunks stay in one batch when they fit,
    so an interrupted write leaves whole papers (the next ingest writes the rest)."""
    batch: list[Any] = []
    for start, end in _paper_runs(nodes):
        run = nodes[start:end]
        if batch and len(batch) + len(run) > size:
            yield batch
            batch = []
        while len(run) > size:  # a paper larger than a whole batch (not with MAX_CHUNKS_PER_PAPER)
            yield run[:size]
            run = run[size:]
        batch.extend(run)
    if batch:
        yield batch


def _paper_runs(nodes: list[Any]) -> Iterator[tuple[int, int]]:
    start = 0
    for i in range(1, len(nodes) + 1):
        if i == len(nodes) or nodes[i].metadata.get("paper_id") != nodes[start].metadata.get("paper_id"):
            yield start, i
            start = i


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
