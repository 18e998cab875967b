"""One process at a time on an embedded index: an exclusive ``flock`` on ``INDEX_DIR/.lock``.

Chroma's ``PersistentClient`` is safe across threads, not across processes: two processes on
one directory lose vectors ("Error finding id") or leave segments no command can read. So a
process takes this lock before it opens the embedded store and holds it while any of its
stores is open (threads of that process share it: the UI keeps serving while it ingests an
upload). The file records the holder's PID and command, for the message a waiting process
shows. The OS drops an ``flock`` when its process ends, so even ``kill -9`` leaves no stale lock.
A Chroma server needs no lock: it serialises its clients itself.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the embedded index is unguarded there
    fcntl = None  # type: ignore[assignment]

from .errors import IndexBusyError
from .storage_errors import read_only

LOCK_NAME = ".lock"
POLL_SECONDS = 0.1

_guard = threading.Lock()
_held: dict[str, list[int]] = {}  # resolved index dir -> [fd, number of open stores]


def acquire(index_dir: Path, timeout: float, notify: Callable[[str], None]) -> str:
    """Hold the lock on ``index_dir`` for this process (waiting up to ``timeout`` seconds).

    Returns the key to :func:`release` it with. Raises :class:`IndexBusyError` when another
    process still holds it after ``timeout``, :class:`IndexReadOnlyError` when the directory
    cannot be written."""
    key = str(Path(index_dir).resolve())
    with _guard:
        if key in _held:
            _held[key][1] += 1
            return key
        fd = _open(Path(index_dir))
        try:
            _wait(fd, Path(index_dir), timeout, notify)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{_command()}\n".encode(), 0)
        _held[key] = [fd, 1]
        return key


def release(key: str) -> None:
    """Give up one store's hold; the lock goes when the last store of this process is closed."""
    with _guard:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _held[key]
            os.close(entry[0])  # closing the descriptor drops the flock


def holder(index_dir: Path) -> str:
    """``PID N (COMMAND)`` of the process recorded in the lock file, as far as it says."""
    try:
        pid, _, command = (Path(index_dir) / LOCK_NAME).read_text().partition("\n")
    except OSError:
        return "another process"
    pid, command = pid.strip(), command.strip()
    if not pid.isdigit():
        return "another process"
    return f"PID {pid} ({command})" if command else f"PID {pid}"


def _open(index_dir: Path) -> int:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        return os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise read_only(str(index_dir)) from None
        raise


def _wait(fd: int, index_dir: Path, timeout: float, notify: Callable[[str], None]) -> None:
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        who = holder(index_dir)
        if time.monotonic() >= deadline:
            raise IndexBusyError(
                f"The index at {index_dir} is in use by {who}: stop it, or use a Chroma server with RAG_CHROMA_URL"
                f" (waited {timeout:g} s; RAG_LOCK_TIMEOUT sets how long)."
            )
        if not told:
            notify(f"Waiting for the index at {index_dir}: in use by {who} (up to {timeout:g} s)…")
            told = True
        time.sleep(POLL_SECONDS)


def _command() -> str:
    """The program and its subcommand (``rag ui``), never the rest of the command line."""
    argv = sys.argv or ["python"]
    prog = Path(argv[0]).name
    if prog == "__main__.py":
        prog = f"python -m {Path(argv[0]).parent.name}"
    elif prog in ("-c", ""):
        prog = "python -c"
    words = [prog] + [a for a in argv[1:2] if prog != "python -c" and re.fullmatch(r"[a-z][\w-]*", a)]
    return " ".join(words)[:80]
