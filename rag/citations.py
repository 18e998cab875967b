"""Citation markers: parse ``[1]``, ``[1, 2]``, ``[1-3]``; keep only numbers that are sources.

Answers are normalised to one number per marker (``[1][2]``), so everything
downstream (the UI's links, the checker, the eval) reads them with ``\\[(\\d+)\\]``.
A number that is not among the sources is dropped, and a marker left empty is removed
with the space before it: a citation we cannot back is never shown as one.
:class:`CitationFilter` does the same incrementally for streamed text.
"""

from __future__ import annotations

import re
from typing import Iterable

# "[1]", "[1, 2]", "[1-3]", "[1–3; 5]", "[Source 2]", "[sources 1 and 3]"
_MARKER = re.compile(
    r"\[\s*(?:sources?\s*)?(\d{1,3}(?:\s*(?:[,;–—-]|and)\s*(?:sources?\s*)?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)
_NUMBER_OR_RANGE = re.compile(r"(\d{1,3})\s*(?:[–—-]\s*(\d{1,3}))?")
MAX_RANGE = 20  # "[1-300]" is not a citation anyone means
SIMPLE_MARKER = re.compile(r"\[(\d+)\]")


def parse_marker(inner: str) -> list[int]:
    """Numbers in a marker's inside, ranges expanded, in order, without repeats."""
    numbers: list[int] = []
    for m in _NUMBER_OR_RANGE.finditer(re.sub(r"(?i)sources?|and", ",", inner)):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            lo, hi = hi, lo
        if hi - lo > MAX_RANGE:
            hi = lo
        numbers.extend(range(lo, hi + 1))
    return list(dict.fromkeys(numbers))


def find_citations(text: str) -> list[int]:
    """Every number cited in ``text`` (any marker form), in order of first use."""
    found: list[int] = []
    for m in _MARKER.finditer(text):
        found.extend(parse_marker(m.group(1)))
    return list(dict.fromkeys(found))


def clean_citations(text: str, valid: Iterable[int]) -> tuple[str, list[int], list[int]]:
    """Normalise markers and drop numbers outside ``valid``.

    Returns ``(text, used, dropped)``: ``used`` are the valid numbers in order of
    first use, ``dropped`` the invalid ones that were removed.
    """
    allowed = set(valid)
    used: list[int] = []
    dropped: list[int] = []

    def repl(m: re.Match) -> str:
        numbers = parse_marker(m.group(1))
        keep = [n for n in numbers if n in allowed]
        dropped.extend(n for n in numbers if n not in allowed)
        used.extend(keep)
        return "".join(f"[{n}]" for n in keep)

    out = _MARKER.sub(repl, text)
    out = re.sub(r"[ \t]+([.,;:!?)])", r"\1", out) if dropped else out  # "claim [9]." -> "claim."
    return out, list(dict.fromkeys(used)), list(dict.fromkeys(dropped))


class CitationFilter:
    """Cleans citation markers in streamed text, chunk by chunk.

    Text outside brackets passes straight through; from a ``[`` on, it is held until the
    marker closes (then cleaned) or is clearly not a marker (then released as is).
    ``"".join(feed(c) for c in chunks) + flush()`` equals ``clean_citations("".join(chunks))``
    up to the trailing-space tidy-up.
    """

    _MAX_HELD = 200

    def __init__(self, valid: Iterable[int]):
        self.valid = set(valid)
        self.held = ""

    def feed(self, chunk: str) -> str:
        out = []
        for ch in chunk:
            if self.held:
                self.held += ch
                if ch == "]":
                    out.append(clean_citations(self.held, self.valid)[0])
                    self.held = ""
                elif ch == "[" or len(self.held) > self._MAX_HELD or not _could_be_marker(self.held):
                    release, self.held = (self.held[:-1], "[") if ch == "[" else (self.held, "")
                    out.append(release)
            elif ch == "[":
                self.held = ch
            else:
                out.append(ch)
        return "".join(out)

    def flush(self) -> str:
        rest, self.held = self.held, ""
        return rest


#: Characters a marker can hold ("[1, 2]", "[1-3]", "[Source 2]", "[sources 1 and 3]"): a bracket
#: holding only these may still become a marker; any other character releases it as text.
_PARTIAL = re.compile(r"^\[[\d\s,;–—\-sourceand]*$", re.IGNORECASE)


def _could_be_marker(held: str) -> bool:
    return bool(_PARTIAL.match(held))
