"""Ingest abstract files into the store: idempotent, resumable, with a summary.

* A paper whose content hash is already stored is *unchanged* and costs nothing.
* A paper whose abstract (or metadata, or chunk settings) changed is *updated*: its
  new chunks are written first, then the old ones deleted, so an interruption never
  leaves a paper with no chunks; the next run finishes the clean-up.
* Bad records are *skipped* with their file, line and reason; the rest go in. All are
  counted; the first ``MAX_SKIPS_KEPT`` are kept, so a file of bad lines costs no memory.
* A paper whose id was derived from its title also matches a paper stored under the
  bare slug that earlier versions used, if the stored title is the same: it is updated.
* Work is committed a batch at a time, so an interrupted run keeps what it did.
* A paper is indexed by at most ``MAX_CHUNKS_PER_PAPER`` chunks: a longer text (a full paper
  pasted as an abstract) is indexed by its beginning, and the report says so.

Reading, the look-up of stored versions and chunking run in a producer thread, a bounded queue
ahead of embedding (onnxruntime releases the GIL), so the embedder is never idle waiting for
text. Chunks are embedded ``WRITE_CHUNKS`` at a time (sorted by length inside the embedder, so a
batch pads little) and written to Chroma in batches of up to the client's maximum. Memory stays
bounded by the queue, whatever the size of the input or the collection.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from llama_index.core.schema import MetadataMode

from .chunking import index_salt, make_nodes
from .embedding import MODEL_ID
from .errors import InputError
from .readers import check_readable, estimate_records, legacy_id, read_papers
from .types import Paper

BATCH_PAPERS = 64  #: papers per look-up of their stored versions
WRITE_CHUNKS = 1024  #: chunks embedded and written together (a bulk write; memory stays bounded)
QUEUE_BATCHES = 8  #: prepared batches the reader may run ahead of the embedder
#: Chunks indexed per paper (about 8,000 tokens at the default 128-token chunks; a real
#: abstract needs 2 to 6). More would cost minutes of embedding for one record.
MAX_CHUNKS_PER_PAPER = 64
MAX_SKIPS_SHOWN = 20
MAX_SKIPS_KEPT = 100

Progress = Callable[[int, "int | None"], None]


@dataclass
class Skip:
    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, {self.where}: {self.reason}"


@dataclass
class IngestReport:
    files: list[str] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)  # the first MAX_SKIPS_KEPT
    chunks_added: int = 0
    seconds: float = 0.0
    skipped_count: int = 0  # all of them
    truncated: list[str] = field(default_factory=list)  # papers indexed by their first chunks only

    @property
    def papers(self) -> int:
        return self.new + self.updated + self.unchanged

    def skip(self, skip: Skip) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPS_KEPT:
            self.skipped.append(skip)

    def summary(self) -> str:
        """The closing summary, as ``rag ingest`` prints it."""
        head = (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped_count} skipped ({self.chunks_added} chunks written, {self.seconds:.1f} s)"
        )
        lines = [f"Ingested {', '.join(self.files)}: {head}"]
        for skip in self.skipped[:MAX_SKIPS_SHOWN]:
            lines.append(f"  skipped {skip}")
        if self.skipped_count > MAX_SKIPS_SHOWN:
            lines.append(f"  … and {self.skipped_count - MAX_SKIPS_SHOWN} more skipped")
        lines.extend(f"  note: {t}" for t in self.truncated[:MAX_SKIPS_SHOWN])
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [vars(s) for s in self.skipped],
            "skipped_count": self.skipped_count,
            "chunks_added": self.chunks_added,
            "seconds": round(self.seconds, 2),
            "truncated": self.truncated,
        }


def ingest_files(
    paths: Iterable[Path | str],
    store,
    embedder,
    chunk_tokens: int,
    chunk_overlap: int,
    progress: Progress | None = None,
    shard: tuple[int, int] | None = None,
) -> IngestReport:
    """Ingest every file in ``paths`` into ``store``.

    ``shard=(k, n)``: only the records whose position (counting every good, distinct record of the
    files) is ``k`` modulo ``n`` (one of ``n`` parallel workers, :mod:`rag.bulk`); skips are still
    counted over all records, and an empty share is not an error.

    Every file's type, readability, content (text, not binary) and header (CSV) are checked
    before any write; a record-level problem skips that record; a file that breaks off
    part-way (a truncated .gz, a malformed JSON array) stops the run once the papers read
    before the break are committed, and the error says how many went in."""
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("No files given: pass one or more abstract files (.txt, .jsonl, .json, .csv).")
    for f in files:
        check_readable(f)
    report = IngestReport(files=[f.name for f in files])
    salt = index_salt(chunk_tokens, chunk_overlap, MODEL_ID)
    started = time.perf_counter()
    totals = [estimate_records(f) for f in files]
    total = None if None in totals else sum(t for t in totals if t)
    done = 0
    seen: dict[str, str] = {}
    broken: list[InputError] = []
    changed = False
    try:
        pending: list[_Prepared] = []
        papers = _papers(files, report, seen, broken)
        if shard is not None:
            papers = (p for i, p in enumerate(papers) if i % shard[1] == shard[0])
        for prepared in _prepared(papers, store, salt, chunk_tokens, chunk_overlap, report):
            pending.append(prepared)
            if sum(len(p.nodes) for p in pending) >= WRITE_CHUNKS:
                changed |= _write(pending, store, embedder, report)
                done += sum(p.papers for p in pending)
                pending = []
                if progress:
                    progress(done, total)
        if pending:
            changed |= _write(pending, store, embedder, report)
            done += sum(p.papers for p in pending)
            if progress:
                progress(done, total)
        if broken:
            raise broken[0]
    except InputError as exc:  # a file that broke part-way: say what was kept
        if report.new or report.updated:
            raise InputError(
                f"{exc} Before that, {report.new} new and {report.updated} updated papers were added; "
                "run the same command again once it is fixed: nothing is added twice."
            ) from None
        raise
    finally:
        if changed:
            store.bump_generation()
        report.seconds = time.perf_counter() - started
    if report.papers == 0 and shard is None:
        first = f" First problem: {report.skipped[0]}." if report.skipped else ""
        raise InputError(
            f"No abstracts found in {', '.join(report.files)}: nothing was added.{first} "
            "Each record needs a title and an abstract."
        )
    return report


def _papers(files: list[Path], report: IngestReport, seen: dict[str, str], broken: list[InputError]) -> Iterator[Paper]:
    """The papers of ``files`` in order; a file that breaks off ends them, its error put in ``broken``
    (so the papers read before it are still written)."""
    try:
        for f in files:
            for where, item in read_papers(f):
                if isinstance(item, str):
                    report.skip(Skip(f.name, where, item))
                elif item.paper_id in seen:
                    report.skip(Skip(f.name, where, f"duplicate of paper id '{item.paper_id}' ({seen[item.paper_id]})"))
                else:
                    seen[item.paper_id] = f"{f.name}, {where}"
                    yield item
    except InputError as exc:
        broken.append(exc)


def _batches(items: Iterator[Paper], size: int) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Prepared:
    """One batch of papers, chunked: what to write and delete, and how to count it once written."""

    papers: int
    nodes: list
    stale: list[str]
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    truncated: list[str] = field(default_factory=list)


_DONE = object()


def _prepared(papers: Iterator[Paper], store, salt, chunk_tokens, chunk_overlap, report: IngestReport) -> Iterator[_Prepared]:
    """:func:`_prepare` of each batch of ``papers``, made in a producer thread up to
    ``QUEUE_BATCHES`` ahead; an error there is raised here, and closing this stops the thread."""
    out: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in _batches(papers, BATCH_PAPERS):
                if not put(_prepare(batch, store, salt, chunk_tokens, chunk_overlap)):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    worker = threading.Thread(target=produce, name="rag-ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _prepare(batch: list[Paper], store, salt, chunk_tokens, chunk_overlap) -> _Prepared:
    existing = _with_legacy(batch, store, store.existing([p.paper_id for p in batch]))
    prepared = _Prepared(papers=len(batch), nodes=[], stale=[])
    for paper in batch:
        digest = paper.content_hash(salt)
        versions = existing.get(paper.paper_id, {})
        old = [cid for h, ids in versions.items() if h != digest for cid in ids]
        if digest in versions:
            if old:  # an earlier update was interrupted after writing the new chunks
                prepared.stale.extend(old)
                prepared.updated += 1
            else:
                prepared.unchanged += 1
            continue
        paper_nodes = make_nodes(paper, digest, chunk_tokens, chunk_overlap)
        if len(paper_nodes) > MAX_CHUNKS_PER_PAPER:
            prepared.truncated.append(
                f"'{paper.title}' ({paper.paper_id}) is {len(paper_nodes)} chunks long: only its first "
                f"{MAX_CHUNKS_PER_PAPER} are searchable. Is it a full text rather than an abstract?"
            )
            paper_nodes = paper_nodes[:MAX_CHUNKS_PER_PAPER]
        prepared.nodes.extend(paper_nodes)
        prepared.stale.extend(old)
        if versions:
            prepared.updated += 1
        else:
            prepared.new += 1
    return prepared


def _write(pending: list[_Prepared], store, embedder, report: IngestReport) -> bool:
    """Embed and write the chunks of ``pending`` (new chunks first), then delete what they replace;
    count the papers in ``report`` once they are written."""
    nodes = [n for p in pending for n in p.nodes]
    stale = [cid for p in pending for cid in p.stale]
    if nodes:
        vectors = embedder.embed([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes])
        for node, vec in zip(nodes, vectors):
            node.embedding = vec.tolist()
        store.add(nodes)
        report.chunks_added += len(nodes)
    if stale:
        store.delete(stale)
    for p in pending:
        report.new += p.new
        report.updated += p.updated
        report.unchanged += p.unchanged
        report.truncated.extend(p.truncated)
    return bool(nodes or stale)


def _with_legacy(batch: list[Paper], store, existing: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """``existing``, plus the chunks of papers stored under their legacy id (the bare slug of the same title).

    Those count as an older version of the paper, so re-ingesting a file indexed before ids
    were derived replaces its papers instead of adding them twice."""
    legacy: dict[str, list[Paper]] = {}
    for paper in batch:
        if paper.paper_id not in existing and (lid := legacy_id(paper)):
            legacy.setdefault(lid, []).append(paper)
    found = store.existing(list(legacy)) if legacy else {}
    if found:
        titles = {lid: meta.get("title") for lid, (meta, _) in store.papers(list(found)).items()}
        for lid, versions in found.items():
            for paper in legacy[lid]:
                if titles.get(lid) == paper.title:
                    existing[paper.paper_id] = versions
    return existing
