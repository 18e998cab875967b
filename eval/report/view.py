"""What a report shows, computed once from a run: :class:`ReportView` and its formatting helpers.

Markdown and HTML are both drawn from it (``markdown.py``, ``html_page.py``), so they carry
the same content. Scores point up (higher = better) except latency, tokens, cost and errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..rows import CheckerInfo, EvalRow, RunMetrics

MISSING = "–"
ABSTRACT_CHARS_MD = 600
TYPE_COLUMNS = ("n", "{hit}", "mrr", "citation_recall", "citation_precision", "faithfulness", "correctness")
COMBINED_KEYS = ("faithfulness", "citation_recall", "correctness")  # and hit@k
COMBINED_NOTE = (
    "Combined score = mean of the non-null values of faithfulness, citation recall, correctness "
    "and {hit} for one answer (lower = worse); answerable questions only, 100% scores not listed."
)
PLOT_FILES = ("scores_by_type.png", "score_distributions.png", "latency.png", "tokens.png", "abstention.png")


# --- formatting -----------------------------------------------------------------


def metric_kind(key: str) -> str:
    """How a metric is measured, from its name: 'seconds', 'cost', 'count', 'score' (0..1, not a share) or 'rate'."""
    if key == "mrr" or key.startswith("ndcg"):
        return "score"
    if key.endswith("_s"):
        return "seconds"
    if key.startswith("cost"):
        return "cost"
    if "tokens" in key or key in ("n", "errors"):
        return "count"
    return "rate"


def number(value) -> float | None:
    """``value`` as a float, or None when it is null, NaN, a bool or not a number."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and not math.isnan(value) else None


def format_metric(key: str, value) -> str:
    """96.7% for rates, 0.945 for MRR/nDCG, '0.12 s' for latency, '$0.0123' (or 'n/a') for cost,
    '1,234' for counts, '–' for null."""
    kind = metric_kind(key)
    if number(value) is None:
        if value is None or isinstance(value, float):
            return "n/a" if kind == "cost" else MISSING
        return str(value)
    if kind == "seconds":
        return f"{value:.2f} s"
    if kind == "cost":
        return f"${value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    if kind == "rate" and 0.0 <= value <= 1.0:
        return f"{value * 100:.1f}%"
    if kind == "score":
        return f"{value:.3f}"
    return f"{value:,.0f}" if kind == "count" else f"{value:.3g}"


def verdict_mark(supported, label: str | None) -> tuple[str, str, str]:
    """``(css class, mark, words)`` for a sentence verdict: ✓ supported, ✗ contradicts the source,
    ? not stated in the source (an unsupported verdict without a label, as older runs wrote), ? unchecked."""
    if supported is True:
        return "ok", "✓", "supported"
    if supported is False:
        if label == "contradicted":
            return "bad", "✗", "contradicts the source"
        return "unstated", "?", "not stated in the source"
    return "unknown", "?", "unchecked"


def _score(value, digits: int = 2) -> str:
    value = number(value)
    return MISSING if value is None else f"{value:.{digits}f}"


def truncate(text: str, limit: int) -> str:
    """Whitespace collapsed, cut at a word boundary near ``limit`` characters, with '…'."""
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


# --- what the report shows ------------------------------------------------------


def hit_key(metrics: RunMetrics) -> str:
    """The hit@k key the run's metrics carry (hit@5 when none does)."""
    return metrics.hit_key


def combined_score(row: EvalRow, hit: str = "hit@5") -> float | None:
    """Mean of the non-null faithfulness, citation_recall, correctness and hit@k of one answer."""
    values = [v for v in (number(row.metrics.get(key)) for key in (*COMBINED_KEYS, hit)) if v is not None]
    return sum(values) / len(values) if values else None


def gold_papers(row: EvalRow) -> list[str]:
    """The question's gold papers: its gold titles, then each gold id not already named by one of
    them, as "title (id)" where the run saw that paper and as the bare id otherwise."""
    seen = {s.paper_id: s.title for s in row.sources} | {r.paper_id: r.title for r in row.retrieved}
    out = list(row.gold_titles)
    for pid in row.gold_ids:
        title = seen.get(pid)
        if title and title in row.gold_titles:
            continue
        out.append(f"{title} ({pid})" if title else pid)
    return out


@dataclass
class SourceView:
    number: str
    title: str
    paper_id: str
    evidence: str
    text: str
    url: str | None
    cited: bool
    gold: bool


@dataclass
class Card:
    """One question as the worst-answers section shows it (all text raw, escaped by the renderer)."""

    id: str
    type: str
    question: str
    gold: list[str]  # titles or ids, see gold_papers; empty for an unanswerable question
    combined: str  # '' outside the worst-answers list, where it would mean nothing
    scores: list[tuple[str, str]]
    answer: str
    abstained: bool
    verdicts: list[dict]  # sentence, supported (bool | None), label, score (str), cited, overcited
    missing_facts: list[str]
    sources: list[SourceView]

    @classmethod
    def from_row(cls, row: EvalRow, hit: str, ranked: bool = False) -> Card:
        cited = {c.number for c in row.citations}
        return cls(
            id=str(row.id or MISSING),
            type=str(row.type or MISSING),
            question=row.question,
            gold=gold_papers(row),
            combined=format_metric("combined", combined_score(row, hit)) if ranked else "",
            scores=[(k, format_metric(k, v)) for k, v in row.metrics.items() if not k.startswith("key_facts")],
            answer=row.answer,
            abstained=row.abstained,
            verdicts=[
                {"sentence": str(v.sentence), "supported": v.supported, "label": v.label, "score": _score(v.score),
                 "cited": list(v.cited), "overcited": list(v.overcited)}
                for v in row.verdicts
            ],
            missing_facts=row.missing_facts,
            sources=[
                SourceView(number=str(s.number), title=str(s.title or MISSING),
                           paper_id=str(s.paper_id or MISSING), evidence=_score(s.evidence),
                           text=str(s.text or ""), url=s.url,
                           cited=s.number in cited, gold=row.is_gold(s.paper_id, s.title))
                for s in row.sources
            ],
        )


@dataclass
class ReportView:
    """Everything both renderers show, already selected and formatted."""

    title: str
    run: list[tuple[str, str]]
    summary: list[tuple[str, str, str]]  # key, formatted value, definition
    definitions: dict[str, str]
    type_columns: list[str]
    type_rows: list[list[str]]
    checker: str
    plots: list  # report_plots.Plot
    combined_note: str
    worst: list[Card]
    wrong_abstentions: list[Card]
    wrong_answers: list[Card]
    errors: list[dict] = field(default_factory=list)  # id, type, question, error
    more: dict[str, list[str]] = field(default_factory=dict)  # section -> ids not shown in full

    @classmethod
    def build(cls, results: list[EvalRow], metrics: RunMetrics, plots: list, worst: int = 10) -> ReportView:
        run = metrics.run
        hit = hit_key(metrics)
        ok = [r for r in results if not r.failed]
        scored = [(s, r.id, r) for r in ok
                  if r.answerable and not r.abstained and (s := combined_score(r, hit)) is not None and s < 1.0]
        scored.sort(key=lambda item: item[:2])
        limit = max(worst, 0)
        sections = {
            "wrong_abstentions": [r for r in ok if r.answerable and r.abstained],
            "wrong_answers": [r for r in ok if not r.answerable and not r.abstained],
        }
        columns, rows = _type_table(metrics, results)
        backend, judge = _shown(run and run.backend), _shown(run and run.judge)
        duration = number(run and run.duration_s)
        return cls(
            title=f"Evaluation report: {backend} backend, {judge} judge",
            run=[("backend", backend), ("judge", judge), ("questions", _shown(run and run.questions_file)),
                 ("n", str(len(results) if run is None or run.n is None else run.n)),
                 ("started", _shown(run and run.started)),
                 ("duration", MISSING if duration is None else f"{duration:.1f} s"),
                 ("settings hash", _shown(run and run.settings_hash))],
            summary=[(k, format_metric(k, v), metrics.definitions.get(k, "")) for k, v in metrics.summary.items()],
            definitions=dict(metrics.definitions),
            type_columns=columns,
            type_rows=rows,
            checker=_checker_line(metrics.checker),
            plots=plots,
            combined_note=COMBINED_NOTE.format(hit=hit),
            worst=[Card.from_row(r, hit, ranked=True) for _, _, r in scored[:limit]],
            wrong_abstentions=[Card.from_row(r, hit) for r in sections["wrong_abstentions"][:limit]],
            wrong_answers=[Card.from_row(r, hit) for r in sections["wrong_answers"][:limit]],
            errors=[{"id": str(r.id or MISSING), "type": str(r.type or MISSING), "question": r.question,
                     "error": str(r.error)}
                    for r in results if r.failed],
            more={name: [str(r.id or "?") for r in rows_[limit:]]
                  for name, rows_ in sections.items() if len(rows_) > limit},
        )


def _shown(value) -> str:
    return MISSING if value is None else str(value)


def _type_table(metrics: RunMetrics, results: list[EvalRow]) -> tuple[list[str], list[list[str]]]:
    """Columns and formatted rows per question type; 'abstained' is counted from the results."""
    by_type = metrics.by_type
    wanted = [c.format(hit=hit_key(metrics)) for c in TYPE_COLUMNS]
    columns = [c for c in wanted if c == "n" or any(c in m for m in by_type.values())]
    rows = []
    for name, values in by_type.items():
        mine = [r for r in results if r.type == name]
        values = {"n": len(mine), **values}
        done = [r for r in mine if not r.failed]
        share = sum(r.abstained for r in done) / len(done) if done else None
        rows.append([str(name), *(format_metric(c, values.get(c)) for c in columns), format_metric("abstained", share)])
    return ["type", *columns, "abstained"], rows


def _checker_line(checker: CheckerInfo | None) -> str:
    if checker is None:
        return "Checker: not measured in this run."
    accuracy = format_metric("balanced_accuracy", checker.balanced_accuracy)
    return (f"Checker ({checker.kind}): balanced accuracy {accuracy} on "
            f"{_shown(checker.held_out_pairs)} held-out labelled pairs "
            f"(threshold {_score(checker.threshold)}).")


# --- markdown -------------------------------------------------------------------


SECTIONS = (
    ("worst", "Lowest combined scores"),
    ("wrong_abstentions", "Wrong abstentions (answerable, but the system abstained)"),
    ("wrong_answers", "Wrong non-abstentions (unanswerable, but the system answered)"),
)
