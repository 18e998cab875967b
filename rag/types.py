"""Typed values at the seams: papers in, sources and answers out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Paper:
    """One abstract and what we know about its paper."""

    paper_id: str
    title: str
    abstract: str
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    categories: tuple[str, ...] = ()

    def content_hash(self, salt: str = "") -> str:
        """Changes whenever anything we index about the paper changes (``salt``: index settings)."""
        data = asdict(self)
        data["salt"] = salt
        blob = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on what retrieval may return (inclusive years)."""

    year_from: int | None = None
    year_to: int | None = None
    categories: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.year_from is not None or self.year_to is not None or bool(self.categories)


@dataclass
class Source:
    """A retrieved paper, numbered as the answerer sees it.

    ``score`` is the fused retrieval score: higher means more relevant.
    ``evidence`` (0..1, higher = stronger) is how well the paper matches the question,
    used to decide whether to abstain. ``passages`` are its best-matching chunks.
    """

    number: int
    paper_id: str
    title: str
    text: str
    score: float
    evidence: float = 0.0
    passages: list[str] = field(default_factory=list)
    url: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"] = list(self.authors)
        data["categories"] = list(self.categories)
        return data


@dataclass(frozen=True)
class Citation:
    """A source number the answer uses, and the paper it points to."""

    number: int
    paper_id: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """Everything needed to show, check and reproduce an answer; finished, it is never changed.

    ``text`` carries ``[n]`` markers; every marker refers to one of ``sources`` and
    appears in ``citations``. ``abstained`` is true when the collection does not
    answer the question (``text`` then says so and lists the nearest papers).
    """

    question: str
    text: str
    sources: list[Source]
    citations: list[Citation]
    abstained: bool
    backend: str
    settings_hash: str = ""
    search_query: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    dropped_citations: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Sentences (as shown) that are not grounded: they cited something that is not a source (whatever else
    #: they cite), or the grounding step found no source that supports them (those are also in ``unsupported``).
    flagged: list[str] = field(default_factory=list)
    #: Sentences (as shown) that the grounding step (rag/grounding.py) found no source to support, kept and marked.
    unsupported: list[str] = field(default_factory=list)

    def source(self, number: int) -> Source | None:
        return next((s for s in self.sources if s.number == number), None)

    def references(self) -> list[str]:
        """One line per cited source: ``[n] Title (paper id) url``."""
        lines = []
        for cit in self.citations:
            src = self.source(cit.number)
            url = f" {src.url}" if src and src.url else ""
            lines.append(f"[{cit.number}] {cit.title} ({cit.paper_id}){url}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "settings_hash": self.settings_hash,
            "search_query": self.search_query,
            "timings": self.timings,
            "usage": self.usage,
            "dropped_citations": self.dropped_citations,
            "flagged": self.flagged,
            "unsupported": self.unsupported,
            "notes": self.notes,
        }
