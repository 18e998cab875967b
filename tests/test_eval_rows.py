"""Typed eval rows (results.jsonl, metrics.json) and the report/console fixes that read them."""

from __future__ import annotations

import json
from types import SimpleNamespace

from eval.commands import summary_lines
from eval.harness import Question, _unknown_gold, aggregate
from eval.report import write_reports
from eval.rows import EvalRow, RunMetrics

# A results.jsonl line as `rag eval` writes it (texts shortened), with every nested piece filled in.
LINE = json.dumps({
    "id": "t1", "question": "How many hydrophones were deployed?", "type": "single",
    "gold_titles": ["Coral Reef Acoustic Monitoring"], "gold_ids": [], "answerable": True,
    "answer": "We deploy arrays of 16 hydrophones for 11 months [1].", "abstained": False, "backend": "extractive",
    "sources": [{"number": 1, "paper_id": "1903.00002", "title": "Coral Reef Acoustic Monitoring",
                 "text": "We deploy arrays of 16 hydrophones — in the Red Sea.", "score": 0.03333333333333333,
                 "evidence": 0.7056, "passages": ["We deploy arrays of 16 hydrophones."],
                 "url": "https://arxiv.org/abs/1903.00002", "authors": ["Jacques Cousteau"], "year": 2019,
                 "categories": ["q-bio.PE", "eess.AS"]},
                {"number": 2, "paper_id": "x", "title": "Other", "text": "", "score": 0.01, "evidence": 0.0,
                 "passages": [], "url": None, "authors": [], "year": None, "categories": []}],
    "citations": [{"number": 1, "paper_id": "1903.00002", "title": "Coral Reef Acoustic Monitoring"}],
    "retrieved": [{"rank": 1, "paper_id": "1903.00002", "title": "Coral Reef Acoustic Monitoring",
                   "score": 0.03333333333333333, "relevant": True},
                  {"rank": 2, "paper_id": "x", "title": "Other", "score": 0.01, "relevant": False}],
    "top_evidence": 0.7056,
    "verdicts": [{"sentence": "We deploy arrays of 16 hydrophones for 11 months [1].", "cited": [1],
                  "supported": True, "label": "supported", "precise": [1], "overcited": [], "score": 0.8333,
                  "reasons": ["quoted"]},
                 {"sentence": "They stay for 3 months [1].", "cited": [1], "supported": False, "label": "contradicted",
                  "precise": [], "overcited": [], "score": 0.2, "reasons": ["negation only in the source"]}],
    "metrics": {"hit@5": 1.0, "recall@5": 1.0, "mrr": 1.0, "ndcg@10": 1.0, "citation_recall": 1.0,
                "citation_precision": 1.0, "faithfulness": 1.0, "correctness": 0.5,
                "key_facts_found": ["16 hydrophones"], "key_facts_missing": ["11 months"]},
    "timings": {"retrieve_s": 0.0123, "answer_s": 0.0456, "check_s": 0.2, "total_s": 0.0579},
    "usage": {"prompt_tokens": 100, "completion_tokens": 20}, "cost_usd": 4.2e-05, "error": None,
}, ensure_ascii=False)

# A failed question's line: no "backend", nothing scored.
ERROR_LINE = json.dumps({
    "id": "t2", "question": "Q?", "type": "single", "gold_titles": [], "gold_ids": ["2205.00003"],
    "answerable": True, "answer": "", "abstained": False, "sources": [], "citations": [], "retrieved": [],
    "verdicts": [], "metrics": {}, "timings": {}, "usage": {}, "cost_usd": None, "error": "ServiceError: HTTP 500",
})


def test_a_results_line_round_trips_through_evalrow_exactly():
    for line in (LINE, ERROR_LINE):
        row = EvalRow.from_dict(json.loads(line))
        assert json.dumps(row.to_dict(), ensure_ascii=False) == line
    row = EvalRow.from_dict(json.loads(LINE))  # and the pieces are typed
    assert row.sources[0].authors == ("Jacques Cousteau",) and row.citations[0].number == 1
    assert row.retrieved[0].relevant and row.verdicts[0].supported and row.verdicts[0].score == 0.8333
    assert row.verdicts[1].label == "contradicted" and row.top_evidence == 0.7056
    assert row.missing_facts == ["11 months"] and row.total_s == 0.0579 and not row.failed
    assert EvalRow.from_dict(json.loads(ERROR_LINE)).failed


def test_a_row_from_an_older_run_without_optional_keys_still_loads():
    old = {"id": "q1", "question": "Q?", "gold_ids": ["p1"], "answer": "A [1].", "metrics": {"hit@5": 1.0},
           "sources": [{"number": 1, "paper_id": "p1", "title": "T", "text": "A.", "score": 0.1}],
           "verdicts": [{"sentence": "A [1].", "cited": [1], "supported": True, "score": 0.9}]}
    row = EvalRow.from_dict(old)  # no answerable, type, backend, retrieved, citations, timings, usage, error
    assert row.answerable and row.type == "untyped" and row.backend is None and row.error is None
    assert row.sources[0].passages == [] and row.verdicts[0].overcited == []
    assert row.verdicts[0].label == "supported" and row.top_evidence is None  # older runs had neither
    unsupported = EvalRow.from_dict({**old, "verdicts": [{"sentence": "B [1].", "cited": [1], "supported": False}]})
    assert unsupported.verdicts[0].label == "not_stated"  # never a guessed contradiction
    summary = aggregate([row]).summary
    assert summary["hit@5"] == 1.0 and summary["errors"] == 0 and summary["latency_p50_s"] is None


def test_metrics_json_round_trips_and_an_older_one_loads():
    written = {"summary": {"hit@5": 1.0, "cost_usd": None}, "by_type": {"single": {"n": 1, "hit@5": 1.0}},
               "definitions": {"hit@5": "share"},
               "run": {"questions_file": "q.jsonl", "n": 1, "backend": "extractive", "judge": "rules",
                       "settings_hash": "ab12", "started": "2026-11-28 20:30:00 UTC", "duration_s": 1.5, "k": 5},
               "checker": {"kind": "rules", "threshold": 0.59, "balanced_accuracy": 0.86, "held_out_pairs": 120,
                           "held_out_file": "claims_test.jsonl"},
               "warnings": ["1 gold title(s) are not in the collection, e.g. 'X'"]}
    text = json.dumps(written, indent=2)
    assert json.dumps(RunMetrics.from_dict(json.loads(text)).to_dict(), indent=2) == text
    llm = {**written, "checker": {"kind": "llm:gpt-4o-mini", "balanced_accuracy": None}}
    assert RunMetrics.from_dict(llm).to_dict() == llm
    older = RunMetrics.from_dict({"summary": {"hit@10": 0.5}, "run": {"n": 3}})
    assert older.run is not None and older.run.n == 3 and older.run.backend is None
    assert older.checker is None and older.by_type == {} and older.hit_key == "hit@10"
    assert older.abstention_curve == [] and "abstention_curve" not in older.to_dict()
    curve = [{"threshold": 0.34, "abstain_unanswerable": 1.0, "abstain_answerable": 0.25, "configured": True}]
    with_curve = {**written, "abstention_curve": curve}
    with_curve["warnings"] = with_curve.pop("warnings")  # written last
    assert RunMetrics.from_dict(with_curve).to_dict() == with_curve
    assert list(RunMetrics.from_dict(with_curve).to_dict()) == list(with_curve)


def test_aggregate_computes_the_abstention_curve_from_top_evidence():
    def row(qid, answerable, top, error=None):
        return EvalRow(id=qid, question="?", answerable=answerable, abstained=top < 0.34, top_evidence=top,
                       error=error, backend=None if error else "extractive")

    rows = [row("a", True, 0.5), row("b", True, 0.3), row("u", False, 0.2), row("v", False, 0.6),
            row("f", True, 0.1, error="ServiceError: 500")]  # failed: left out
    curve = aggregate(rows, min_evidence=0.34).abstention_curve
    assert [p["threshold"] for p in curve][:2] == [0.2, 0.22] and curve[-1]["threshold"] == 0.5
    at = {p["threshold"]: p for p in curve}
    assert [p["threshold"] for p in curve if p["configured"]] == [0.34]
    assert at[0.34]["abstain_answerable"] == 0.5 and at[0.34]["abstain_unanswerable"] == 0.5
    assert at[0.2]["abstain_answerable"] == 0.0 and at[0.2]["abstain_unanswerable"] == 0.0  # 0.2 is not below 0.2
    assert at[0.5]["abstain_answerable"] == 0.5 and at[0.5]["abstain_unanswerable"] == 0.5
    assert aggregate(rows).to_dict()["abstention_curve"][0]["configured"] is False  # none configured: none marked


def _gold_id_row() -> dict:
    row = json.loads(LINE)
    row.update(id="q7", gold_titles=[], gold_ids=["1903.00002"], metrics={**row["metrics"], "faithfulness": 0.0})
    return row


def test_report_names_and_marks_gold_papers_given_by_id(tmp_path):
    write_reports(tmp_path, [_gold_id_row()], {"summary": {"hit@5": 1.0}})
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "**Gold papers:** Coral Reef Acoustic Monitoring (1903.00002)" in md
    assert "none (unanswerable)" not in md and "none (unanswerable)" not in html
    assert "`1903.00002` — evidence 0.71 *cited* *gold*" in md
    assert next(line for line in md.splitlines() if "`x`" in line).endswith("evidence 0.00")  # not gold
    assert html.count('<span class="tag">gold</span>') == 1


def test_report_shows_an_unseen_gold_id_as_is(tmp_path):
    row = _gold_id_row()
    row["gold_ids"] = ["2205.00003"]
    write_reports(tmp_path, [row], {"summary": {"hit@5": 1.0}})
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Gold papers:** 2205.00003" in md and "*gold*" not in md


def _engine(*metas: dict) -> SimpleNamespace:
    return SimpleNamespace(store=SimpleNamespace(iter_records=lambda: iter([([], [], list(metas))])))


def test_gold_titles_and_gold_ids_unknown_to_the_collection_both_warn():
    engine = _engine({"paper_id": "p1", "title": "Known"})
    known = [Question("a", "?", gold_titles=["Known"]), Question("b", "?", gold_ids=["p1"])]
    assert _unknown_gold(known, engine) == []
    unknown = [Question("a", "?", gold_titles=["Lost"]), Question("b", "?", gold_ids=["p9", "p8"])]
    assert _unknown_gold(unknown, engine) == [
        "1 gold title(s) are not in the collection, e.g. 'Lost'",
        "2 gold id(s) are not in the collection, e.g. 'p8'",
    ]


def test_console_summary_shows_recall_and_ndcg():
    metrics = RunMetrics.from_dict({
        "summary": {"hit@5": 1.0, "recall@5": 0.75, "mrr": 0.5, "ndcg@10": 0.6131, "faithfulness": None},
        "run": {"n": 4, "backend": "extractive", "judge": "rules", "duration_s": 2.5},
    })
    lines = summary_lines(metrics)
    assert lines[0] == "4 questions, backend extractive, judge rules, 2.5 s"
    shown = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert shown["recall@5"] == "75.0%" and shown["ndcg@10"] == "0.613" and shown["mrr"] == "0.500"
    assert shown["faithfulness"] == "–"
