"""A JSON array file read one item at a time, in bounded memory."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError
from .textio import MAX_LINE_BYTES, BadLine, too_long


class JsonArray:
    """The items of a JSON array file, decoded one at a time from a sliding window of text.

    Memory stays near :data:`MAX_LINE_BYTES` whatever the file's size: an item longer than
    that is skipped by scanning over it (a reason stands in for it); a malformed array stops
    with an :class:`InputError` saying at which record and line, after the items before it."""

    _CHUNK = 1 << 16
    _SPACE = re.compile(r"[ \t\r\n]*")
    _IN_STRING = re.compile(r'[\\"]')
    _IN_VALUE = re.compile(r'[\[\]{}",]')

    def __init__(self, path: Path, fh: IO[bytes]):
        self.path = path
        self.stream = io.TextIOWrapper(fh, encoding="utf-8-sig")
        self.decoder = json.JSONDecoder()
        self.buf, self.pos, self.eof, self.line = "", 0, False, 1  # line: the line number at buf[0]

    def items(self) -> Iterator[tuple[str, Any]]:
        self._peek()
        self.pos += 1  # the opening "[" (the caller saw it)
        n = 0
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                n += 1
                yield f"record {n}", self._item(n)
                c = self._peek()
                self.pos += 1
                if c == "]":
                    break
                if c != ",":
                    self.pos -= 1
                    raise self._error(n, "the file ends before the closing ]" if not c else f"expected , or ] after it, found {c!r}")
        if self._peek():
            raise self._error(n, "there is more text after the closing ]")

    def _item(self, n: int) -> Any:
        self._peek()
        while True:
            try:
                item, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buf) - 16
                if self.eof or not cut:
                    self.pos = exc.pos
                    raise self._error(n, exc.msg) from None
            except RecursionError:
                raise self._error(n, "it is nested too deeply") from None
            else:
                if end < len(self.buf) or self.eof:  # one ending at the window's edge may go on (a number)
                    self.pos = end
                    return item
            if len(self.buf) - self.pos > MAX_LINE_BYTES:
                self._skip_value(n)
                return BadLine(too_long())
            self._more()

    def _skip_value(self, n: int) -> None:
        depth, in_string = 0, False
        while True:
            if self.pos >= len(self.buf) and self._more():
                continue
            if in_string:
                m = self._IN_STRING.search(self.buf, self.pos)
                if not m:
                    self.pos = len(self.buf)
                elif m.group() == "\\":  # skip the escaped character, once it is read
                    if m.end() < len(self.buf):
                        self.pos = m.end() + 1
                    else:
                        self.pos = m.start()
                        if not self._more():
                            self.pos = len(self.buf)
                else:
                    self.pos, in_string = m.end(), False
                    if depth == 0:
                        return
            else:
                m = self._IN_VALUE.search(self.buf, self.pos)
                if not m:
                    self.pos = len(self.buf)
                elif m.group() == '"':
                    self.pos, in_string = m.end(), True
                elif m.group() in "[{":
                    self.pos, depth = m.end(), depth + 1
                elif depth == 0:  # the "," or "]" after a long number or literal
                    self.pos = m.start()
                    return
                elif m.group() == ",":
                    self.pos = m.end()
                else:
                    self.pos, depth = m.end(), depth - 1
                    if depth == 0:
                        return
            if self.eof and self.pos >= len(self.buf):
                raise self._error(n, "the file ends inside it")

    def _peek(self) -> str:
        """The next character that is not white space ("" at the end), without consuming it."""
        while True:
            self.pos += len(self._SPACE.match(self.buf, self.pos).group(0))  # type: ignore[union-attr]  # matches empty
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stream.read(self._CHUNK)
        except UnicodeDecodeError:
            raise InputError(
                f"{self.path} is not valid UTF-8 after line {self.line + self.buf.count(chr(10))}: re-save it as UTF-8."
            ) from None
        if not chunk:
            self.eof = True
            return False
        if self.pos > self._CHUNK:  # drop what is already read
            self.line += self.buf.count("\n", 0, self.pos)
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += chunk
        return True

    def _error(self, n: int, what: str) -> InputError:
        line = self.line + self.buf.count("\n", 0, min(self.pos, len(self.buf)))
        return InputError(
            f"{self.path} is not valid JSON at record {n} (line {line}): {what}. "
            "Fix it, or write one JSON object per line."
        )
