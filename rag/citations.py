"""Citation markers: parse ``[1]``, ``[1, 2]``, ``[1-3]``; keep only numbers that are sources.

Answers are normalised to one number per marker (``[1][2]``), so everything
downstream (the UI's links, the checker, the eval) reads them with ``\\[(\\d+)\\]``.
A number that is not among the sources is dropped (so is a range wider than
:data:`MAX_RANGE`, as a whole), and a marker left empty is removed with the space before
it: a citation we cannot back is never shown as one. :func:`flagged_sentences` names the
sentences that cited such a number, so they are not passed off as grounded.
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
    """Numbers in a marker's inside, ranges expanded, in order, without repeats
    (a range wider than :data:`MAX_RANGE` is no citation and gives no numbers)."""
    return _parse(inner)[0]


def _parse(inner: str) -> tuple[list[int], list[int]]:
    """``(numbers, rejected)``: ``rejected`` are the ends of ranges too wide to be citations."""
    numbers: list[int] = []
    rejected: list[int] = []
    for m in _NUMBER_OR_RANGE.finditer(re.sub(r"(?i)sources?|and", ",", inner)):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            lo, hi = hi, lo
        if hi - lo > MAX_RANGE:  # "[1-300]" is invalid as a whole, not "[1]"
            rejected.extend((lo, hi))
            continue
        numbers.extend(range(lo, hi + 1))
    return list(dict.fromkeys(numbers)), list(dict.fromkeys(rejected))


def clean_citations(text: str, valid: Iterable[int]) -> tuple[str, list[int], list[int]]:
    """Normalise markers and drop numbers outside ``valid``.

    Returns ``(text, used, dropped)``: ``used`` are the valid numbers in order of
    first use, ``dropped`` the invalid ones that were removed (for a range too wide to be
    a citation, like ``[1-300]``, both its ends).
    """
    allowed = set(valid)
    used: list[int] = []
    dropped: list[int] = []

    def repl(m: re.Match) -> str:
        numbers, rejected = _parse(m.group(1))
        keep = [n for n in numbers if n in allowed]
        dropped.extend(n for n in numbers if n not in allowed)
        dropped.extend(rejected)
        used.extend(keep)
        return "".join(f"[{n}]" for n in keep)

    out = _MARKER.sub(repl, text)
    while dropped and (again := _MARKER.sub(repl, out)) != out:  # "[1 [9]]" -> "[1 ]" is a marker too
        out = again
    out = re.sub(r"[ \t]+([.,;:!?)])", r"\1", out) if dropped else out  # "claim [9]." -> "claim."
    return out, list(dict.fromkeys(used)), list(dict.fromkeys(dropped))


class CitationFilter:
    """Cleans citation markers in streamed text, chunk by chunk.

    Text outside brackets passes straight through; from a ``[`` on, it is held until the
    marker closes (then cleaned) or is clearly not a marker (then released as is); a marker
    is held however long it is, so a long list of numbers is cleaned like any other.
    ``"".join(feed(c) for c in chunks) + flush()`` equals ``clean_citations("".join(chunks))``
    up to the trailing-space tidy-up.
    """

    def __init__(self, valid: Iterable[int]):
        self.valid = set(valid)
        self.held = ""

    def feed(self, chunk: str) -> str:
        out = []
        for ch in chunk:
            if self.held:  # "[" + marker characters, possibly nested: "[1 [2"
                self.held += ch
                if ch == "]":
                    cleaned = clean_citations(self.held, self.valid)[0]
                    if _could_be_marker(cleaned[cleaned.rfind("[") :]):  # "[1 [9]" -> "[1 ": may close yet
                        self.held = cleaned
                    else:
                        out.append(cleaned)
                        self.held = ""
                elif not _could_be_marker(self.held[self.held.rfind("[") :]):
                    out.append(self.held)
                    self.held = ""
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


def strip_markers(text: str) -> str:
    """``text`` without anything the parser would read as a citation marker ("[3]", "[1, 2]",
    "[Source 4]"): for quoting source text, whose own reference numbers are not our sources."""
    out = _MARKER.sub("", text)
    if out == text:
        return text
    return re.sub(r"[ \t]+([.,;:!?)])", r"\1", re.sub(r"[ \t]{2,}", " ", out)).strip()


def flagged_sentences(text: str, valid: Iterable[int]) -> list[tuple[str, list[str]]]:
    """Sentences of a raw answer that cite something that is not a source:
    ``(sentence as cleaned, the offending markers as written)``, in order."""
    allowed = set(valid)
    if not any(_bad(m, allowed) for m in _MARKER.finditer(text)):
        return []
    from .chunking import split_sentences

    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        previous = ""
        for sentence in split_sentences(line):
            cleaned = clean_citations(sentence, allowed)[0]
            bad = [m.group(0) for m in _MARKER.finditer(sentence) if _bad(m, allowed)]
            if not re.search(r"\w", _MARKER.sub("", cleaned)):  # a stray "[9]." belongs to the sentence before
                cleaned = previous
            if bad and cleaned:
                if out and out[-1][0] == cleaned:
                    out[-1][1].extend(bad)
                else:
                    out.append((cleaned, bad))
            previous = cleaned
    return out


def _bad(m: re.Match, allowed: set[int]) -> bool:
    numbers, rejected = _parse(m.group(1))
    return bool(rejected) or any(n not in allowed for n in numbers)
