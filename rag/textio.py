"""Bounded reading of abstract files: a ceiling on decompression, a cap on line length, a content sniff.

No file, however hostile or broken, may take the process's memory: a line is read at
most :data:`MAX_LINE_BYTES` at a time (a longer one is drained and reported, never held
whole), and a ``.gz`` that decompresses far beyond its size stops with an :class:`InputError`.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, Iterator

from .errors import InputError

MAX_LINE_BYTES = 1 << 20
"""A line (one record of JSON lines, one line of text or CSV) longer than this is skipped unread."""

GZIP_MAX_RATIO = 100
GZIP_FLOOR_BYTES = 256 << 20
"""A ``.gz`` may decompress to ``max(GZIP_FLOOR_BYTES, GZIP_MAX_RATIO x its size)``, no more.

Abstracts compress 3-5x (the arXiv snapshot: about 3.5x); only degenerate input (a run of
zeros, one line repeated) compresses 100x, so the ratio stops decompression bombs and never
real data, and the floor leaves any small file of repetitive but honest lines alone.
A genuine file over the limit can be decompressed first (``gunzip``) and read as plain text."""

SNIFF_BYTES = 8192

_DRAIN = 1 << 16
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive, e.g. .docx or .xlsx"),
    (b"\x1f\x8b", "gzip-compressed data: name it with a .gz ending"),
    (b"BZh91AY&SY", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program"),
)


class _Ceiling(io.RawIOBase):
    """A decompressed stream that refuses to grow past ``limit`` bytes."""

    def __init__(self, path: Path, inner: io.BufferedIOBase, limit: int):
        self.path, self.inner, self.limit, self.total = path, inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.inner.readinto(buffer)
        self.total += n
        if self.total > self.limit:
            raise InputError(
                f"{self.path} decompresses to more than {self.limit >> 20} MiB, over {GZIP_MAX_RATIO}x its "
                "compressed size: it looks like a decompression bomb, so reading stopped. If the file is "
                "genuine, decompress it (gunzip) and ingest the plain file."
            )
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_binary(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed if it ends in ``.gz`` (under the ceiling)."""
    if path.suffix.lower() != ".gz":
        return path.open("rb")
    limit = max(GZIP_FLOOR_BYTES, GZIP_MAX_RATIO * path.stat().st_size)
    return io.BufferedReader(_Ceiling(path, gzip.open(path, "rb"), limit), buffer_size=_DRAIN)


def bounded_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, raw line)``, or ``(n, None)`` for a line over :data:`MAX_LINE_BYTES` (drained unread)."""
    n = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        n += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            del raw
            while True:
                rest = fh.readline(_DRAIN)
                if not rest or rest.endswith(b"\n"):
                    break
            yield n, None
        else:
            yield n, raw


class BadLine(str):
    """A reason standing in for a line (or record) that could not be read."""


def too_long() -> str:
    return f"longer than {MAX_LINE_BYTES >> 20} MiB; skipped without reading it"


def sniff(path: Path) -> str | None:
    """Why ``path`` is clearly not UTF-8 text (from its first few KB), or ``None`` when it may be.

    Catches a binary file under a text name (``photo.png`` renamed ``papers.jsonl``), UTF-16,
    and text in another encoding; one bad line further in is left to the readers to skip."""
    with open_binary(path) as fh:
        head = fh.read(SNIFF_BYTES)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return f"this is not a text file (it looks like {name})"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "this is UTF-16 text; re-save it as UTF-8"
    if b"\x00" in head:
        return "this is not a text file (it holds NUL bytes)"
    complete = len(head) < SNIFF_BYTES
    lines = head.split(b"\n")
    if not complete:
        lines = lines[:-1] or [lines[0]]  # the last line may be cut off mid-character
    bad = [i for i, line in enumerate(lines, start=1) if not _utf8(line, partial=not complete and len(lines) == 1)]
    if bad and (bad[0] == 1 or len(bad) * 2 > len(lines)):
        return f"this is not UTF-8 text (line {bad[0]}); re-save it as UTF-8"
    return None


def _utf8(data: bytes, partial: bool) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return partial and exc.reason == "unexpected end of data"
    return True
