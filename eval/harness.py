"""`rag eval`: run every question through the engine, score it, write results and reports.

Outputs in the run directory: ``results.jsonl`` (one line a question), ``metrics.json``,
``report.md`` and ``report.html`` (with ``plots/``). Files are written under temporary
names and renamed at the end, so a run directory never holds a half-written report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from rag.errors import ConfigError, InputError, RagError, ServiceError
from rag.query import Query
from rag.redact import redact_text
from rag.support import AnswerChecker, SupportChecker
from rag.support.checker import load_calibration

from . import metrics as M
from .rows import CheckerInfo, EvalRow, RetrievedPaper, RunInfo, RunMetrics, verdict_from_dict

#: List prices in USD per million tokens (input, output), for cost estimates only.
PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}
MAX_CONSECUTIVE_ERRORS = 3
#: The backend a retrieval-only run's rows carry: no answer was asked for.
RETRIEVAL_ONLY = "none (retrieval only)"


@dataclass
class Question:
    id: str
    question: str
    gold_titles: list[str] = field(default_factory=list)
    gold_ids: list[str] = field(default_factory=list)
    answer: str = ""
    key_facts: list[str] = field(default_factory=list)
    type: str = "untyped"
    relevance: dict[str, int] = field(default_factory=dict)  # graded judgments by paper id (BEIR qrels); empty: binary

    @property
    def answerable(self) -> bool:
        return bool(self.gold_titles or self.gold_ids)

    def is_gold(self, paper_id: str, title: str) -> bool:
        return title in self.gold_titles or paper_id in self.gold_ids


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` for each non-blank line; the object is a :class:`str` reason
    when the line is not valid JSON."""
    if not path.is_file():
        raise InputError(f"No such file: {path}." if not path.exists() else f"{path} is a directory, not a JSON-lines file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}): re-save it as UTF-8.") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, _BadJson(f"invalid JSON ({exc.msg})")


class _BadJson(str):
    """Stands in for a line that did not parse."""


def load_questions(path: Path) -> list[Question]:
    """Read a question file (one JSON object a line); problems are reported with line numbers."""
    out: list[Question] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, row in json_lines(path):
        if isinstance(row, _BadJson):
            problems.append(f"line {n}: {row}")
            continue
        if not isinstance(row, dict) or not str(row.get("question") or "").strip():
            problems.append(f"line {n}: needs a non-empty \"question\"")
            continue
        qid = str(row.get("id") or f"line{n}")
        if qid in seen:
            problems.append(f"line {n}: duplicate id {qid!r}")
            continue
        seen.add(qid)
        out.append(
            Question(
                id=qid,
                question=str(row["question"]),
                gold_titles=_strings(row.get("gold_titles")),
                gold_ids=_strings(row.get("gold_ids")),
                answer=str(row.get("answer") or ""),
                key_facts=_strings(row.get("key_facts")),
                type=str(row.get("type") or "untyped"),
            )
        )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError(f"{path} has bad lines: {'; '.join(problems[:5])}{more}. Fix them and run again.")
    if not out:
        raise InputError(f"{path} holds no questions.")
    return out


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class Scorer:
    """Scores one answer: citations and faithfulness, from the core's per-sentence verdicts."""

    def __init__(self, judge, skip_lines: tuple[str, ...] = ()):
        self.judge = judge
        self.checker = AnswerChecker(judge, skip_lines=skip_lines)

    def score(self, answer) -> dict[str, Any]:
        verdicts = self.checker.sentence_verdicts(answer)
        recall, precision = M.citation_scores(verdicts)
        cited = sorted({c.number for c in answer.citations})
        claims = [c for v in verdicts for c in self._claims(v.sentence)]
        return {
            "citation_recall": recall,
            "citation_precision": precision,
            "faithfulness": M.faithfulness(claims, cited, self.checker.supports(answer)),
            "verdicts": [v.to_dict() for v in verdicts],
        }

    def _claims(self, sentence: str) -> list[str]:
        split = getattr(self.judge, "atomic_claims", None)
        return split(sentence) if split else [sentence]


def make_judge(kind: str, engine) -> Any:
    """``rules``: the offline checker; ``llm``: the LLM judge; ``auto``: llm when an endpoint is configured."""
    settings = engine.settings
    if kind == "auto":
        kind = "llm" if settings.resolved_backend() == "openai" else "rules"
    if kind == "llm":
        from .judge import LLMJudge

        return LLMJudge(settings, settings.index_dir / "judge_cache.jsonl")
    if kind != "rules":
        raise ConfigError(f"Unknown judge '{kind}': use rules, llm or auto.")
    return SupportChecker(embedder=engine.embedder)


def run_eval(
    questions_file: Path,
    out_dir: Path,
    engine,
    backend: str | None = None,
    judge: str = "auto",
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    answers: bool = True,
) -> RunMetrics:
    questions = load_questions(questions_file)[: limit or None]  # bad files fail before any work
    return run_questions(questions, str(questions_file), out_dir, engine, backend, judge, progress, answers)


def run_questions(
    questions: list[Question],
    source: str,
    out_dir: Path,
    engine,
    backend: str | None = None,
    judge: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    answers: bool = True,
    depth: int = 10,
) -> RunMetrics:
    """Score ``questions`` (read from ``source``) and write the run to ``out_dir``.

    ``answers=False`` scores retrieval alone (no answerer, no checker); ``depth``: papers ranked per
    question for the retrieval metrics (10; 100 adds recall@100)."""
    from rag.answerers.extractive import PREAMBLE

    out_dir.mkdir(parents=True, exist_ok=True)
    engine.ensure_ready()
    checker = make_judge(judge, engine) if answers else None
    scorer = Scorer(checker, skip_lines=(PREAMBLE,)) if answers else None
    backend_name = engine.answerer(backend).name if answers else RETRIEVAL_ONLY
    started = time.time()
    results: list[EvalRow] = []
    partial = out_dir / "results.jsonl.partial"
    errors_in_a_row = 0
    with partial.open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions, start=1):
            try:
                row = evaluate_one(q, engine, scorer, backend, depth) if scorer else evaluate_retrieval(q, engine, depth)
                errors_in_a_row = 0
            except ServiceError as exc:  # one failing request should not sink a long run
                errors_in_a_row += 1
                if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                    raise ServiceError(f"{exc} ({errors_in_a_row} questions in a row failed; stopped. Partial results: {partial})") from None
                row = _error_row(q, str(exc))
            except RagError as exc:
                if isinstance(exc, (ConfigError,)):
                    raise
                row = _error_row(q, str(exc))
            except Exception as exc:  # a bug or an odd reply on one question: record it, go on with the next
                errors_in_a_row += 1
                if errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                    raise
                row = _error_row(q, f"unexpected {type(exc).__name__}: {exc}")
            results.append(row)
            fh.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            if progress:
                progress(i, len(questions))
    metrics = aggregate(results, min_evidence=engine.settings.min_evidence)
    metrics.run = RunInfo(
        questions_file=source,
        n=len(results),
        backend=backend_name,
        judge=getattr(checker, "name", "rules") if checker is not None else "none",
        settings_hash=engine.settings.settings_hash(),
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        duration_s=round(time.time() - started, 1),
        k=engine.settings.top_k,
    )
    metrics.checker = _checker_info(checker) if checker is not None else None
    metrics.warnings = _failed(results) + _unknown_gold(questions, engine)
    _write(out_dir, results, metrics, partial)
    return metrics


def _retrieval_scores(q: Question, ranked: list, depth: int) -> tuple[list[bool], dict[str, Any]]:
    """Whether each ranked source is a right paper, and the question's retrieval metrics (none when unanswerable)."""
    relevant = [q.is_gold(s.paper_id, s.title) for s in ranked]
    if not q.answerable:
        return relevant, {}
    graded = bool(q.relevance)
    return relevant, M.retrieval_metrics(
        relevant,
        n_relevant=max(len(q.gold_titles), len(q.gold_ids)),
        grades=[q.relevance.get(s.paper_id, 0) for s in ranked] if graded else None,
        ideal_grades=list(q.relevance.values()) if graded else None,
        recall_depths=(depth,) if depth > 10 else (),
    )


def _retrieved(ranked: list, relevant: list[bool]) -> list[RetrievedPaper]:
    """The top 10 as a row keeps them."""
    return [RetrievedPaper(rank=s.number, paper_id=s.paper_id, title=s.title, score=s.score, relevant=r)
            for s, r in zip(ranked[:10], relevant[:10])]


def evaluate_retrieval(q: Question, engine, depth: int = 10) -> EvalRow:
    """Retrieval alone: rank ``depth`` papers for the question and score them; nothing is answered."""
    t0 = time.perf_counter()
    evidence = engine.evidence(Query(q.question, k=depth))
    ranked = list(evidence.sources[:depth])
    relevant, m = _retrieval_scores(q, ranked, depth)
    return EvalRow(
        id=q.id, question=q.question, type=q.type, gold_titles=q.gold_titles, gold_ids=q.gold_ids,
        answerable=q.answerable, backend=RETRIEVAL_ONLY, retrieved=_retrieved(ranked, relevant), metrics=m,
        timings={"retrieve_s": round(evidence.retrieve_s, 4), "total_s": round(time.perf_counter() - t0, 4)},
    )


def evaluate_one(q: Question, engine, scorer: Scorer, backend: str | None, depth: int = 10) -> EvalRow:
    t0 = time.perf_counter()
    top_k = engine.settings.top_k
    query = Query(q.question, k=top_k, backend=backend)
    evidence = engine.evidence(query.replace(k=max(depth, top_k)))  # retrieved once: scored on depth, answered on top_k
    answer = engine.answer(query, evidence.top(top_k), streaming=False).answer
    retrieved = list(evidence.sources[:depth]) if q.answerable else []
    t1 = time.perf_counter()
    relevant, m = _retrieval_scores(q, retrieved, depth)
    verdicts: list[dict] = []
    if not answer.abstained:
        scored = scorer.score(answer)
        verdicts = scored.pop("verdicts")
        m.update(scored)
    else:
        m.update({"citation_recall": None, "citation_precision": None, "faithfulness": None})
    correct, found, missing = M.correctness("" if answer.abstained else answer.text, q.key_facts)
    m.update({"correctness": correct if q.answerable else None, "key_facts_found": found, "key_facts_missing": missing})
    timings = dict(answer.timings)
    timings["check_s"] = time.perf_counter() - t1
    timings["total_s"] = t1 - t0
    return EvalRow(
        id=q.id,
        question=q.question,
        type=q.type,
        gold_titles=q.gold_titles,
        gold_ids=q.gold_ids,
        answerable=q.answerable,
        answer=answer.text,
        abstained=answer.abstained,
        backend=answer.backend,
        sources=list(answer.sources),
        citations=list(answer.citations),
        retrieved=_retrieved(retrieved, relevant),
        verdicts=[verdict_from_dict(v) for v in verdicts],
        metrics=m,
        timings={k: round(v, 4) for k, v in timings.items()},
        usage=answer.usage,
        cost_usd=cost(answer.backend, answer.usage, engine.settings),
        error=None,
        top_evidence=evidence.sources[0].evidence if evidence.sources else 0.0,  # no source: always abstains
    )


def _failed(results: list[EvalRow]) -> list[str]:
    failed = [r for r in results if r.failed]
    if not failed:
        return []
    first = failed[0]
    return [f"{len(failed)} of {len(results)} question(s) failed and are not scored, "
            f"e.g. {first.id}: {first.error}"]


def _error_row(q: Question, message: str) -> EvalRow:
    return EvalRow(id=q.id, question=q.question, type=q.type, gold_titles=q.gold_titles, gold_ids=q.gold_ids,
                   answerable=q.answerable, error=redact_text(message))


def cost(backend: str, usage: dict[str, int], settings) -> float | None:
    if not backend.startswith("openai:") or settings.openai_base_url or not usage:
        return None
    model = backend.split(":", 1)[1]
    price = PRICES.get(model)
    if not price:
        return None
    return (usage.get("prompt_tokens", 0) * price[0] + usage.get("completion_tokens", 0) * price[1]) / 1e6


SUMMARY_KEYS = ["hit@5", "recall@5", "mrr", "ndcg@10", "citation_recall", "citation_precision", "faithfulness", "correctness"]


def aggregate(results: list[EvalRow], min_evidence: float | None = None) -> RunMetrics:
    """Run-level metrics, overall and per question type, and the abstention curve over min_evidence thresholds
    (``min_evidence``: the configured one, marked on it); ``run``, ``checker`` and ``warnings`` are left to the caller."""

    deep = [key for key in ("recall@100",) if any(key in r.metrics for r in results)]

    def summarise(rows: list[EvalRow]) -> dict[str, Any]:
        ok = [r for r in rows if not r.failed]
        answered = [r for r in ok if r.backend != RETRIEVAL_ONLY]  # a retrieval-only row neither answers nor abstains
        out: dict[str, Any] = {"n": len(rows)}
        for key in SUMMARY_KEYS[:4] + deep + SUMMARY_KEYS[4:]:
            out[key] = M.mean([r.metrics.get(key) for r in ok])
        out.update(M.abstention_metrics([r.answerable for r in answered], [r.abstained for r in answered]))
        totals = [r.total_s for r in ok if r.total_s is not None]
        out["latency_p50_s"] = M.percentile(totals, 50)
        out["latency_p95_s"] = M.percentile(totals, 95)
        out["prompt_tokens"] = sum(r.usage.get("prompt_tokens", 0) for r in ok)
        out["completion_tokens"] = sum(r.usage.get("completion_tokens", 0) for r in ok)
        costs = [r.cost_usd for r in ok if r.cost_usd is not None]
        out["cost_usd"] = sum(costs) if costs else None
        out["errors"] = len(rows) - len(ok)
        return out

    summary = summarise(results)
    summary.pop("n")
    types = sorted({r.type for r in results})
    return RunMetrics(
        summary=summary,
        by_type={t: summarise([r for r in results if r.type == t]) for t in types},
        definitions={k: M.DEFINITIONS[k] for k in summary if k in M.DEFINITIONS},
        abstention_curve=M.abstention_curve([r.answerable for r in results if not r.failed],
                                            [r.top_evidence for r in results if not r.failed], configured=min_evidence),
    )


def _checker_info(checker) -> CheckerInfo:
    if not isinstance(checker, SupportChecker):
        return CheckerInfo(kind=getattr(checker, "name", "llm"), balanced_accuracy=None)
    cal = load_calibration()
    held = cal.get("held_out", {})
    return CheckerInfo(
        kind="rules",
        threshold=checker.params["threshold"],
        balanced_accuracy=held.get("balanced_accuracy"),
        held_out_pairs=held.get("pairs"),
        held_out_file=held.get("file"),
    )


def _unknown_gold(questions: list[Question], engine) -> list[str]:
    """Gold titles and gold ids that no indexed paper has: a question file written for another collection."""
    titles = {t for q in questions for t in q.gold_titles}
    ids = {i for q in questions for i in q.gold_ids}
    if not titles and not ids:
        return []
    known_titles: set[str] = set()
    known_ids: set[str] = set()
    for _, _, metas in engine.store.iter_records():
        for meta in metas:
            known_titles.add(meta.get("title", ""))
            known_ids.add(meta.get("paper_id", ""))
    out = []
    for what, missing in (("title", sorted(titles - known_titles)), ("id", sorted(ids - known_ids))):
        if missing:
            out.append(f"{len(missing)} gold {what}(s) are not in the collection, e.g. {missing[0]!r}")
    return out


def _write(out_dir: Path, results: list[EvalRow], metrics: RunMetrics, partial: Path) -> None:
    from .report import write_reports

    tmp = out_dir / ".metrics.json.tmp"
    tmp.write_text(json.dumps(metrics.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    write_reports(out_dir, results, metrics)
    partial.replace(out_dir / "results.jsonl")
    tmp.replace(out_dir / "metrics.json")
