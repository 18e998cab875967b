"""Bulk ingest: several processes share the records of the same files, all writing to one Chroma server.

Each worker reads every file (reading is cheap beside embedding), counts the good, distinct
records the same way, and takes those at its positions modulo the number of workers, so
duplicates and skips come out as in one process. Each worker embeds with its share of the
cores (onnxruntime's intra-op threads) and commits its own batches; re-running resumes, as
a single ingest does. An embedded store (``PersistentClient``) belongs to one process, so
workers need ``RAG_CHROMA_URL``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from .errors import ConfigError, InputError
from .ingestion import IngestReport
from .settings import Settings

MAX_WORKERS = 64


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse ``workers`` that cannot run: out of range, or an embedded store."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}.")
    if workers > 1 and not settings.chroma_url:
        raise ConfigError(
            f"--workers {workers} needs a Chroma server: the embedded store is held by one process. "
            "Start one (`chroma run --path DIR --port 8000`) and set RAG_CHROMA_URL=http://127.0.0.1:8000 "
            "(or --chroma-url), or ingest without --workers."
        )


def ingest_parallel(paths: Iterable[Path | str], settings: Settings, workers: int) -> IngestReport:
    """Ingest ``paths`` with ``workers`` processes into the Chroma server of ``settings``; one merged report."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    check_workers(settings, workers)
    files = [str(p) for p in paths]
    if not files:
        raise InputError("No files given: pass one or more abstract files (.txt, .jsonl, .json, .csv).")
    threads = max(1, (os.cpu_count() or 1) // workers)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(_work, files, settings.model_dump(), (k, workers), threads) for k in range(workers)]
        reports = [job.result() for job in jobs]
    merged = _merge(reports)
    merged.seconds = time.perf_counter() - started
    if merged.papers == 0:
        first = f" First problem: {merged.skipped[0]}." if merged.skipped else ""
        raise InputError(
            f"No abstracts found in {', '.join(merged.files)}: nothing was added.{first} "
            "Each record needs a title and an abstract."
        )
    return merged


def _work(files: list[str], settings: dict, shard: tuple[int, int], threads: int) -> IngestReport:
    """One worker: its share of the records, embedded with ``threads`` intra-op threads."""
    from .embedding import MiniLMEmbedding
    from .ingestion import ingest_files
    from .store import Store

    s = Settings(**settings)
    store = Store(s)
    try:
        embedder = MiniLMEmbedding(device=s.embed_device, threads=threads)
        return ingest_files(files, store, embedder, s.chunk_tokens, s.chunk_overlap, shard=shard)
    finally:
        store.close()


def _merge(reports: list[IngestReport]) -> IngestReport:
    """One report for all workers: their counts added; skips as every worker saw them (the first's)."""
    first = reports[0]
    merged = IngestReport(files=first.files, skipped=first.skipped, skipped_count=first.skipped_count)
    for r in reports:
        merged.new += r.new
        merged.updated += r.updated
        merged.unchanged += r.unchanged
        merged.chunks_added += r.chunks_added
        merged.truncated.extend(r.truncated)
    return merged
