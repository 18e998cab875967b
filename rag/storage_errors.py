"""What a failed Chroma call means for the user, said in one line: disk full, read-only, damaged.

Chroma's embedded store (Rust over SQLite and HNSW files) reports disk trouble as a bare
``chromadb.errors.InternalError``; its text names the SQLite code or the step that failed.
As measured with chromadb 1.5.9:

* read-only mount: ``error returned from database: (code: 8) attempt to write a readonly database``
  (already when the client opens);
* full disk (a 2 MB tmpfs): ``Error in compaction: Failed to apply logs to the metadata segment``
  or ``Error executing plan: Error sending backfill request to compactor: Failed to apply logs …``;
* SQLite file overwritten: ``error returned from database: (code: 26) file is not a database``;
* two processes writing one index: ``Error finding id``, ``Failed to apply logs to the hnsw
  segment writer``.

A full disk and a damaged index give the same text, so an unclear failure is settled by
looking at the disk itself (free space, then a small probe write).
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import IndexDamagedError, IndexReadOnlyError, RagError, StorageError

#: Below this much free space, a failed write is taken for a full disk.
LOW_SPACE_BYTES = 64 * 1024 * 1024
PROBE_BYTES = 1024 * 1024

_READ_ONLY = ("readonly database", "read-only file system", "(code: 8)", "os error 30", "permission denied", "os error 13")
_FULL = ("no space left", "disk is full", "(code: 13)", "os error 28", "quota exceeded", "os error 122")
_DAMAGED = (
    "file is not a database", "malformed", "(code: 11)", "(code: 26)", "failed to apply logs", "error finding id",
    "hnsw", "segment", "compaction", "backfill", "corrupt", "no such table", "disk i/o error", "(code: 10)",
)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


def disk_full(where: str) -> StorageError:
    return StorageError(
        f"No space left on the device holding {where}: free space and run the same command again; "
        "nothing already ingested is lost."
    )


def read_only(where: str) -> IndexReadOnlyError:
    return IndexReadOnlyError(
        f"The index at {where} is read-only: make it writable, or point RAG_INDEX_DIR at a writable copy."
    )


def damaged(where: str, detail: str) -> IndexDamagedError:
    detail = " ".join(detail.split())[:160]
    return IndexDamagedError(
        f"The index at {where} is damaged ({detail}): move it aside and re-ingest, e.g. `rag ingest FILE`."
    )


def storage_error(exc: BaseException, where: str, local_dir: Path | None) -> RagError | None:
    """The user-facing error for a failed storage call, or ``None`` when it is not a storage failure.

    ``local_dir`` is the directory of an embedded index (probed when the text is unclear);
    ``None`` for a Chroma server, whose disk we cannot look at."""
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL_ERRNOS:
            return disk_full(where)
        if exc.errno in _READ_ONLY_ERRNOS:
            return read_only(where)
        return None
    if not _is_storage_type(exc):
        return None
    text = str(exc).lower()
    if any(s in text for s in _READ_ONLY):
        return read_only(where)
    if any(s in text for s in _FULL):
        return disk_full(where)
    if not any(s in text for s in _DAMAGED):
        return None
    state = _probe(local_dir) if local_dir is not None else None
    if state == "full":
        return disk_full(where)
    if state == "read-only":
        return read_only(where)
    return damaged(where, str(exc))


def _is_storage_type(exc: BaseException) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError):
        return True
    try:
        from chromadb.errors import InternalError
    except ImportError:  # pragma: no cover - chromadb is a dependency
        return False
    return isinstance(exc, InternalError)


def _probe(directory: Path) -> str | None:
    """``"full"``, ``"read-only"`` or ``None`` (the disk looks fine) for the disk holding ``directory``."""
    try:
        st = os.statvfs(directory)
        if st.f_bavail * st.f_frsize < LOW_SPACE_BYTES:
            return "full"
    except OSError:
        pass
    probe = directory / f".space-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            return "full"
        if exc.errno in _READ_ONLY_ERRNOS:
            return "read-only"
        return None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


@contextmanager
def translated(where: str, local_dir: Path | None) -> Iterator[None]:
    """Re-raise a storage failure inside the block as the matching :class:`RagError`."""
    try:
        yield
    except RagError:
        raise
    except Exception as exc:
        err = storage_error(exc, where, local_dir)
        if err is None:
            raise
        raise err from exc


class GuardedCollection:
    """A Chroma collection whose every call reports storage failures as :class:`RagError`s.

    llama-index's ``ChromaVectorStore`` calls the collection it is given, so wrapping it here
    covers dense retrieval too."""

    def __init__(self, collection: Any, where: str, local_dir: Path | None):
        self._collection = collection
        self._where = where
        self._local_dir = local_dir

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with translated(self._where, self._local_dir):
                return value(*args, **kwargs)

        return call

    def __bool__(self) -> bool:  # ChromaVectorStore checks ``if not self._collection``
        return True
