"""Typed values of an eval run: an :class:`EvalRow` per question (a line of ``results.jsonl``)
and :class:`RunMetrics` for ``metrics.json``.

``to_dict`` writes the JSON shape these files have always had, key for key and in the same
order; ``from_dict`` reads it back, filling defaults for keys that an older or hand-made file
lacks, so earlier run directories still load (``rag eval compare`` reads old ``metrics.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping, TypeVar

from rag.support.verdicts import SentenceVerdict
from rag.types import Citation, Source

T = TypeVar("T")


def _build(cls: type[T], data: Mapping[str, Any], required: dict[str, Any], tuples: tuple[str, ...] = ()) -> T:
    """``cls`` from the keys of ``data`` it has fields for; ``required``: defaults for its fields without one."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {**required, **{k: v for k, v in data.items() if k in names}}
    for key in tuples:
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key] or ())
    return cls(**kwargs)


def source_from_dict(data: Mapping[str, Any]) -> Source:
    return _build(Source, data, {"number": 0, "paper_id": "", "title": "", "text": "", "score": 0.0},
                  tuples=("authors", "categories"))


def citation_from_dict(data: Mapping[str, Any]) -> Citation:
    return _build(Citation, data, {"number": 0, "paper_id": "", "title": ""})


def verdict_from_dict(data: Mapping[str, Any]) -> SentenceVerdict:
    return _build(SentenceVerdict, data, {"sentence": "", "cited": [], "supported": False})


@dataclass(frozen=True)
class RetrievedPaper:
    """A paper in the top 10 retrieved for an answerable question; ``relevant``: it is a gold paper."""

    rank: int
    paper_id: str
    title: str
    score: float  # fused retrieval score, higher = more relevant
    relevant: bool

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "paper_id": self.paper_id, "title": self.title, "score": self.score,
                "relevant": self.relevant}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetrievedPaper:
        return _build(cls, data, {"rank": 0, "paper_id": "", "title": "", "score": 0.0, "relevant": False})


@dataclass
class EvalRow:
    """One question of a run: what was asked, what came back, and how it scored.

    ``metrics`` maps a metric name (``hit@5``, ``mrr``, ``citation_recall``, ``correctness``, …) to its
    score for this question (``None`` when it does not apply), plus ``key_facts_found`` and
    ``key_facts_missing`` (lists). A failed question has ``error`` set, no ``backend`` and no scores.
    ``top_evidence``: the best retrieved paper's evidence score, which the engine compares with
    ``min_evidence`` to abstain (None on failed questions and older runs).
    """

    id: str
    question: str
    type: str = "untyped"
    gold_titles: list[str] = field(default_factory=list)
    gold_ids: list[str] = field(default_factory=list)
    answerable: bool = False
    answer: str = ""
    abstained: bool = False
    backend: str | None = None  # None only on failed questions, whose line has no "backend" key
    sources: list[Source] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[RetrievedPaper] = field(default_factory=list)
    verdicts: list[SentenceVerdict] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    error: str | None = None
    top_evidence: float | None = None

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def total_s(self) -> float | None:
        return self.timings.get("total_s")

    @property
    def missing_facts(self) -> list[str]:
        return [str(f) for f in self.metrics.get("key_facts_missing") or []]

    def is_gold(self, paper_id: str, title: str) -> bool:
        return title in self.gold_titles or paper_id in self.gold_ids

    def to_dict(self) -> dict[str, Any]:
        """The ``results.jsonl`` line, as a dict."""
        data: dict[str, Any] = {
            "id": self.id, "question": self.question, "type": self.type, "gold_titles": list(self.gold_titles),
            "gold_ids": list(self.gold_ids), "answerable": self.answerable, "answer": self.answer,
            "abstained": self.abstained,
        }
        if self.backend is not None:
            data["backend"] = self.backend
        data.update({
            "sources": [s.to_dict() for s in self.sources],
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [r.to_dict() for r in self.retrieved],
            **({"top_evidence": self.top_evidence} if self.top_evidence is not None else {}),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "metrics": dict(self.metrics),
            "timings": dict(self.timings),
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "error": self.error,
        })
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalRow:
        """A ``results.jsonl`` line; a missing key takes its default (``answerable``: whether it has gold papers)."""
        gold_titles = [str(t) for t in data.get("gold_titles") or []]
        gold_ids = [str(i) for i in data.get("gold_ids") or []]
        return cls(
            id=str(data.get("id", "")),
            question=str(data.get("question") or ""),
            type=str(data.get("type") or "untyped"),
            gold_titles=gold_titles,
            gold_ids=gold_ids,
            answerable=bool(data.get("answerable", bool(gold_titles or gold_ids))),
            answer=str(data.get("answer") or ""),
            abstained=bool(data.get("abstained")),
            backend=data.get("backend"),
            sources=[source_from_dict(s) for s in data.get("sources") or []],
            citations=[citation_from_dict(c) for c in data.get("citations") or []],
            retrieved=[RetrievedPaper.from_dict(r) for r in data.get("retrieved") or []],
            verdicts=[verdict_from_dict(v) for v in data.get("verdicts") or []],
            metrics=dict(data.get("metrics") or {}),
            timings=dict(data.get("timings") or {}),
            usage=dict(data.get("usage") or {}),
            cost_usd=data.get("cost_usd"),
            error=data.get("error"),
            top_evidence=data.get("top_evidence"),
        )


# --- metrics.json ---------------------------------------------------------------


@dataclass
class RunInfo:
    """How a run was made. Every field is optional: older or hand-made files may lack any."""

    questions_file: str | None = None
    n: int | None = None
    backend: str | None = None
    judge: str | None = None
    settings_hash: str | None = None
    started: str | None = None  # "YYYY-MM-DD HH:MM:SS UTC"
    duration_s: float | None = None
    k: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        return _build(cls, data, {})


@dataclass
class CheckerInfo:
    """The support checker a run used and its measured accuracy; the threshold and held-out
    figures are written for the rules checker only."""

    kind: str
    balanced_accuracy: float | None = None
    threshold: float | None = None
    held_out_pairs: int | None = None
    held_out_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.kind != "rules":
            return {"kind": self.kind, "balanced_accuracy": self.balanced_accuracy}
        return {"kind": self.kind, "threshold": self.threshold, "balanced_accuracy": self.balanced_accuracy,
                "held_out_pairs": self.held_out_pairs, "held_out_file": self.held_out_file}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckerInfo:
        return _build(cls, data, {"kind": "–"})


@dataclass
class RunMetrics:
    """``metrics.json``: ``summary`` and ``by_type`` map metric names to values (``None`` when not
    measured); ``definitions`` gives each summary metric's one-line meaning. ``abstention_curve``: per
    min_evidence threshold, the abstention rates it would give (see :func:`eval.metrics.abstention_curve`)."""

    summary: dict[str, Any] = field(default_factory=dict)
    by_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    run: RunInfo | None = None
    checker: CheckerInfo | None = None
    warnings: list[str] = field(default_factory=list)
    abstention_curve: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"summary": dict(self.summary), "by_type": {t: dict(m) for t, m in self.by_type.items()},
                                "definitions": dict(self.definitions)}
        if self.run is not None:
            data["run"] = self.run.to_dict()
        if self.checker is not None:
            data["checker"] = self.checker.to_dict()
        if self.abstention_curve:
            data["abstention_curve"] = [dict(point) for point in self.abstention_curve]
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunMetrics:
        run, checker = data.get("run"), data.get("checker")
        return cls(
            summary=dict(_mapping(data.get("summary"))),
            by_type={str(t): dict(_mapping(m)) for t, m in _mapping(data.get("by_type")).items()},
            definitions={str(k): str(v) for k, v in _mapping(data.get("definitions")).items()},
            run=RunInfo.from_dict(run) if isinstance(run, Mapping) else None,
            checker=CheckerInfo.from_dict(checker) if isinstance(checker, Mapping) and checker else None,
            warnings=[str(w) for w in data.get("warnings") or []],
            abstention_curve=[dict(p) for p in data.get("abstention_curve") or [] if isinstance(p, Mapping)],
        )

    @property
    def hit_key(self) -> str:
        """The hit@k key the run's summary carries (hit@5 when none does)."""
        return next((key for key in self.summary if key.startswith("hit@")), "hit@5")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
