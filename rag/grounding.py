"""Grounded by construction: an LLM answer checked sentence by sentence against its sources.

A model's ``[n]`` markers are not trusted alone. After generation, each sentence that states
something (:func:`~rag.support.statements.is_claim`) is checked with the support checker:

* its cited sources support it: kept as written;
* another retrieved source supports it: its citation is corrected (or attached, when it cited
  nothing) to the best supporting source;
* no source supports it: kept and marked (``unsupported="mark"``: listed in ``Answer.flagged``
  and ``Answer.unsupported``) or removed (``"remove"``); ``notes`` say so either way.

Lead-ins, wrap-ups and abstention lines are left alone. The text keeps its lines and list items;
only the sentences whose citations change are rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Sequence

from .citations import SIMPLE_MARKER
from .support.statements import LIST_ITEM, is_claim, parse_sentence
from .support.verdicts import AnswerChecker
from .types import Source

#: Every note the grounding step writes starts with this (the UI shows these notes).
NOTE_PREFIX = "grounding: "
Mode = Literal["mark", "remove"]


@dataclass(frozen=True)
class Grounded:
    """The answer text after grounding, and what was done to it."""

    text: str
    #: Sentences (as they now read) that no source supports, kept and marked.
    unsupported: list[str] = field(default_factory=list)
    #: Sentences no source supports, taken out of the text.
    removed: list[str] = field(default_factory=list)
    #: ``(sentence, old citations, new citations)`` for every citation attached or corrected.
    recited: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Grounder:
    """Checks answer sentences against the sources with one :class:`AnswerChecker` (verdicts are cached
    per sentence and sources; the checker embeds each source's windows once)."""

    def __init__(self, checker: AnswerChecker, unsupported: Mode = "mark", skip_lines: Sequence[str] = ()):
        if unsupported not in ("mark", "remove"):
            raise ValueError(f"unsupported must be 'mark' or 'remove', not {unsupported!r}")
        self.checker = checker
        self.mode = unsupported
        self.skip = tuple(skip_lines)

    def ground(self, text: str, sources: Sequence[Source]) -> Grounded:
        texts = {s.number: s.text for s in sources}
        unsupported: list[str] = []
        removed: list[str] = []
        recited: list[tuple[str, list[int], list[int]]] = []
        lines = []
        for line in text.split("\n"):
            stripped = line.strip()
            item = LIST_ITEM.match(stripped)
            if not stripped or stripped in self.skip:
                lines.append(line)
                continue
            head = line[: len(line) - len(line.lstrip())] + (item.group(0) if item else "")
            kept = []
            for unit in _units(stripped[item.end():] if item else stripped):
                new = self._sentence(unit, texts, unsupported, removed, recited)
                if new:
                    kept.append(new)
            if kept:
                lines.append(head + " ".join(kept))
        out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") if removed else "\n".join(lines)
        return Grounded(out, unsupported, removed, recited, _notes(unsupported, removed, recited, self.mode))

    def _sentence(self, unit: str, texts: dict[int, str], unsupported: list[str], removed: list[str],
                  recited: list[tuple[str, list[int], list[int]]]) -> str:
        """The sentence as it should read (empty: removed); records what was done."""
        if not is_claim(unit):
            return unit
        st = parse_sentence(unit)
        claim = re.sub(r"([.!?])[.!?]+$", r"\1", st.text)  # "Claim. [2]." reads "Claim.."
        cited = [n for n in st.cited if n in texts]
        if cited and self.checker.verdict(claim, cited, texts).supported:
            return unit
        best: tuple[float, int] | None = None
        for n in texts:
            v = self.checker.verdict(claim, [n], texts)
            if v.supported and (best is None or v.score > best[0]):
                best = (v.score, n)
        if best is not None:
            new = with_citations(claim, [best[1]])
            recited.append((new, cited, [best[1]]))
            return new
        if self.mode == "remove":
            removed.append(unit)
            return ""
        unsupported.append(unit)
        return unit


def _units(line: str) -> list[str]:
    """The sentences of a line, a stray "[2]." joined to the sentence before it."""
    from .chunking import split_sentences

    units: list[str] = []
    for sent in split_sentences(line) or [line]:
        if units and not re.search(r"[A-Za-z0-9]", SIMPLE_MARKER.sub("", sent)):
            units[-1] = f"{units[-1]} {sent}"
        else:
            units.append(sent)
    return units


_END = re.compile(r"([.!?]+[\"'’”)]*)$")


def with_citations(sentence: str, numbers: Sequence[int]) -> str:
    """``sentence`` (without markers) with ``[n]`` markers before its final punctuation: "Claim [1]."."""
    markers = "".join(f"[{n}]" for n in numbers)
    m = _END.search(sentence)
    if not m:
        return f"{sentence} {markers}"
    return f"{sentence[: m.start()].rstrip()} {markers}{m.group(1)}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _notes(unsupported: list[str], removed: list[str], recited: list[tuple[str, list[int], list[int]]],
           mode: Mode) -> list[str]:
    notes = []
    attached = [r for r in recited if not r[1]]
    corrected = [r for r in recited if r[1]]
    if attached:
        notes.append(f"{_plural(len(attached), 'sentence', 'sentences')} cited nothing: attached the citation "
                     f"of the source that supports {'it' if len(attached) == 1 else 'each'}")
    for sentence, old, new in corrected:
        was = "".join(f"[{n}]" for n in old)
        now = "".join(f"[{n}]" for n in new)
        notes.append(f'corrected citation {was} to {now}: "{parse_sentence(sentence).text}"')
    if unsupported:
        verb = "is" if len(unsupported) == 1 else "are"
        notes.append(f"{_plural(len(unsupported), 'sentence', 'sentences')} {verb} not supported by any source "
                     "and marked: check before trusting")
    if removed:
        verb = "was" if len(removed) == 1 else "were"
        notes.append(f"{_plural(len(removed), 'sentence', 'sentences')} not supported by any source {verb} removed")
    return [NOTE_PREFIX + n for n in notes]
