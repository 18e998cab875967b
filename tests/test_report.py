"""The eval report writer (report.md, report.html, plots/) and the run comparer, on hand-made runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from eval.compare import compare_runs
from eval.report import write_reports
from rag.errors import InputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
XSS = "Results hold. <script>alert(1)</script> <img src=x onerror=alert(2)> More text."


def _row(qid, qtype, *, answerable=True, abstained=False, scores=None, text="An abstract.", verdicts=()):
    scores = {"hit@5": 1.0, "mrr": 1.0, "citation_recall": 1.0, "citation_precision": 1.0,
              "faithfulness": 1.0, "correctness": 1.0, "key_facts_found": [], "key_facts_missing": [],
              **(scores or {})}
    return {
        "id": qid, "question": f"Question {qid}?", "type": qtype, "answerable": answerable,
        "gold_titles": [f"Gold {qid}"] if answerable else [], "gold_ids": [],
        "answer": "I cannot answer that." if abstained else f"Answer to {qid} [1].", "abstained": abstained,
        "backend": "extractive",
        "sources": [{"number": 1, "paper_id": f"p-{qid}", "title": f"Gold {qid}", "score": 0.03,
                     "evidence": 0.71, "text": text, "url": None}],
        "citations": [] if abstained else [{"number": 1, "paper_id": f"p-{qid}", "title": f"Gold {qid}"}],
        "retrieved": [], "verdicts": list(verdicts), "metrics": scores,
        "timings": {"retrieve_s": 0.01, "answer_s": 0.05, "total_s": 0.1 + 0.05 * int(qid[-1]), "check_s": 0.01},
        "usage": {"prompt_tokens": 100, "completion_tokens": 20}, "cost_usd": None, "error": None,
    }


def make_results() -> list[dict]:
    bad_verdicts = [{"sentence": "The method is 1.8x faster [1].", "cited": [1], "supported": True, "score": 0.83,
                     "overcited": []},
                    {"sentence": "It runs on TPUs [1].", "cited": [1], "supported": False, "label": "contradicted",
                     "score": 0.12, "overcited": []},
                    {"sentence": "It is cheap [1].", "cited": [1], "supported": False, "label": "not_stated",
                     "score": 0.3, "overcited": []},
                    {"sentence": "It is green [1].", "cited": [1], "supported": False, "score": 0.2,  # an older run's
                     "overcited": []}]
    null_citations = {"citation_recall": None, "citation_precision": None, "faithfulness": None}
    return [
        _row("q001", "single"),  # perfect: never among the worst
        _row("q002", "multi", text=XSS, verdicts=bad_verdicts,  # combined (0 + 0.5 + 0 + 1) / 4
             scores={"faithfulness": 0.0, "citation_recall": 0.5, "correctness": 0.0, "key_facts_missing": ["A100"]}),
        _row("q003", "single", scores={"citation_recall": 0.5, "correctness": 0.5}),  # combined 0.75
        _row("q004", "unanswerable", answerable=False, scores={"hit@5": None, "mrr": None, "correctness": None}),
        _row("q005", "single", abstained=True, scores=null_citations),  # a wrong abstention
        {"id": "q006", "question": "Question q006?", "type": "single", "error": "ServiceError: endpoint returned 500"},
    ]


def make_metrics(**summary) -> dict:
    return {
        "run": {"questions_file": "eval/data/questions.jsonl", "n": 6, "backend": "extractive", "judge": "rules",
                "settings_hash": "ab12cd34ef56", "started": "2026-11-28 20:30:00 UTC", "duration_s": 1.5, "k": 5},
        "summary": {"hit@5": 0.967, "mrr": 0.945, "faithfulness": 0.5, "latency_p50_s": 0.12, "latency_p95_s": 0.3,
                    "prompt_tokens": 1234, "cost_usd": None, "errors": 1, "weird_key": 0.5, **summary},
        "by_type": {"single": {"n": 4, "hit@5": 1.0, "mrr": 1.0, "faithfulness": 1.0, "correctness": 0.75},
                    "multi": {"n": 1, "hit@5": 1.0, "mrr": 1.0, "faithfulness": 0.0, "correctness": 0.0},
                    "unanswerable": {"n": 1, "hit@5": None, "mrr": None, "faithfulness": 1.0, "correctness": None}},
        "definitions": {"hit@5": "share of answerable questions with a gold paper in the top 5",
                        "mrr": "mean reciprocal rank of the first gold paper",
                        "latency_p50_s": "median seconds per question"},
        "checker": {"kind": "rules", "balanced_accuracy": 0.86, "threshold": 0.55, "held_out_pairs": 120},
        "abstention_curve": [{"threshold": t, "abstain_unanswerable": u, "abstain_answerable": a, "configured": t == 0.34}
                             for t, u, a in ((0.3, 0.5, 0.0), (0.34, 1.0, 0.25), (0.4, 1.0, 0.5))],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    write_reports(out, make_results(), make_metrics())
    return out, (out / "report.md").read_text(encoding="utf-8"), (out / "report.html").read_text(encoding="utf-8")


def _line(md: str, start: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(start))


def test_writes_both_reports_and_real_pngs(report):
    out, md, _ = report
    pngs = sorted((out / "plots").glob("*.png"))
    assert {p.name for p in pngs} == {"scores_by_type.png", "score_distributions.png", "latency.png", "tokens.png",
                                      "abstention.png"}
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    for png in pngs:
        assert f"(plots/{png.name})" in md


def test_summary_table_formats_each_kind_of_value_with_its_definition(report):
    md = report[1]
    assert "extractive" in md.splitlines()[0] and "ab12cd34ef56" in md and "eval/data/questions.jsonl" in md
    assert "| hit@5 | 96.7% | share of answerable questions with a gold paper in the top 5 |" in md
    assert "| mrr | 0.945 | mean reciprocal rank of the first gold paper |" in md
    assert "| latency_p50_s | 0.12 s | median seconds per question |" in md
    assert "| prompt_tokens | 1,234 |" in md
    assert "| cost_usd | n/a |" in md
    assert "| weird_key | 50.0% |  |" in md  # unknown key, no definition: still a row


def test_per_type_rows_show_metrics_and_the_abstained_share(report):
    md = report[1]
    # single: q001, q003, q005 (abstained) answered without error -> 1 of 3 abstained; q006 errored
    assert _line(md, "| single |").split(" | ")[1:3] == ["4", "100.0%"]
    assert _line(md, "| single |").rstrip(" |").endswith("33.3%")
    assert "| multi | 1 | 100.0% | 1.000 |" in md
    assert _line(md, "| unanswerable |").startswith("| unanswerable | 1 | – | – |")
    assert "balanced accuracy 86.0% on 120 held-out labelled pairs" in md


def test_worst_answers_lowest_combined_first_then_wrong_abstentions_and_errors(report):
    md = report[1]
    worst = md[md.index("## Worst answers"):md.index("## Wrong abstentions")]
    assert "Combined score = mean of the non-null values" in worst
    assert worst.index("### 1. q002 · multi · combined 37.5%") < worst.index("### 2. q003 · single · combined 75.0%")
    assert "q001" not in worst and "q005" not in worst  # perfect, and abstained: listed elsewhere
    assert "- ✓ 0.83 The method is 1.8x faster \\[1\\]." in worst  # brackets escaped: no live markdown links
    assert "- ✗ 0.12 It runs on TPUs \\[1\\]. — contradicts the source, cites [1]" in worst
    assert "- ? 0.30 It is cheap \\[1\\]. — not stated in the source, cites [1]" in worst
    assert "- ? 0.20 It is green \\[1\\]. — not stated in the source, cites [1]" in worst
    assert "**Missing key facts:** A100" in worst
    assert "`p-q002` — evidence 0.71" in worst
    wrong = md[md.index("## Wrong abstentions"):md.index("## Errors")]
    assert "q005" in wrong.split("## Wrong non-abstentions")[0]
    assert "q004" in wrong.split("## Wrong non-abstentions")[1]
    assert "| q006 | single | Question q006? | ServiceError: endpoint returned 500 |" in md
    assert "<script>" not in md  # escaped in the markdown too


def test_html_embeds_plots_and_shows_hostile_text_as_text(report):
    html = report[2]
    assert html.count('<img src="data:image/png;base64,') >= 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert re.search(r"<[^<>]*onerror", html) is None  # the payload never becomes an attribute
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert html.count("<details>") == 4  # the one source of each card: q002, q003, q005, q004
    assert '<span class="badge ok" title="supported">✓ 0.83</span>' in html
    assert '<span class="badge bad" title="contradicts the source">✗ 0.12</span>' in html
    assert '<span class="badge unstated" title="not stated in the source">? 0.30</span>' in html


def test_importing_the_report_module_does_not_import_matplotlib():
    code = "import sys, eval.report, eval.compare; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_degenerate_runs_still_render(tmp_path):
    all_abstained = [_row("q001", "single", abstained=True, scores={"faithfulness": None, "citation_recall": None})]
    metrics = {"run": {}, "summary": {"faithfulness": None, "cost_usd": None}}
    write_reports(tmp_path, all_abstained, metrics)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| faithfulness | – |" in md and "| cost_usd | n/a |" in md
    assert "No per-type breakdown in this run." in md
    assert "Checker: not measured in this run." in md
    assert "None." in md  # no worst answers among answered questions
    assert not (tmp_path / "plots" / "scores_by_type.png").exists()

    write_reports(tmp_path, [], {})  # nothing at all
    assert "report" in (tmp_path / "report.html").read_text(encoding="utf-8").lower()


def test_a_plot_without_data_leaves_no_stale_file(tmp_path):
    write_reports(tmp_path, make_results(), make_metrics())
    assert (tmp_path / "plots" / "tokens.png").exists()
    no_tokens = make_results()
    for row in no_tokens:
        row["usage"] = {"prompt_tokens": 0, "completion_tokens": 0}
    write_reports(tmp_path, no_tokens, make_metrics())
    assert not (tmp_path / "plots" / "tokens.png").exists()
    assert "tokens.png" not in (tmp_path / "report.md").read_text(encoding="utf-8")


def _run_dir(root, name, summary, by_type=None):
    path = root / name
    path.mkdir()
    metrics = {"run": {"n": 140, "questions_file": "q.jsonl"}, "summary": summary, "by_type": by_type or {}}
    (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


def test_compare_runs_shows_changes_and_their_direction(tmp_path):
    a = _run_dir(tmp_path, "a", {"hit@5": 0.90, "mrr": 0.8, "faithfulness": 0.7, "latency_p50_s": 1.0, "cost_usd": 0.01, "errors": 2, "old_only": 0.5},
                 {"single": {"hit@5": 0.9, "faithfulness": 0.8}})
    b = _run_dir(tmp_path, "b", {"hit@5": 0.95, "mrr": 0.85, "faithfulness": 0.7, "latency_p50_s": 2.0, "cost_usd": 0.005, "errors": 0},
                 {"single": {"hit@5": 1.0, "faithfulness": 0.7}, "multi": {"hit@5": 0.5}})
    text = compare_runs(a, b)
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert rows["hit@5"].split()[1:] == ["90.0%", "95.0%", "+5.0", "pp", "better"]
    assert rows["mrr"].split()[1:] == ["0.800", "0.850", "+0.050", "better"]
    assert rows["faithfulness"].split()[1:] == ["70.0%", "70.0%", "same"]
    assert rows["latency_p50_s"].split()[1:] == ["1.00", "s", "2.00", "s", "+1.00", "s", "worse"]
    assert rows["cost_usd"].split()[1:] == ["$0.0100", "$0.0050", "-$0.0050", "better"]
    assert rows["errors"].split()[1:] == ["2", "0", "-2", "better"]
    assert rows["old_only"].split()[1:] == ["50.0%", "–", "–"]
    assert "hit@5 90.0% → 100.0% (+10.0 pp better);  faithfulness 80.0% → 70.0% (-10.0 pp worse)" in rows["single"]
    assert "faithfulness – → – (–)" in rows["multi"]


def test_compare_runs_says_which_path_is_missing_or_broken(tmp_path):
    good = _run_dir(tmp_path, "good", {"hit@5": 0.9})
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "nope")) + ".*rag eval --out"):
        compare_runs(good, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No metrics.json"):
        compare_runs(tmp_path / "empty", good)
    broken = _run_dir(tmp_path, "broken", {})
    (broken / "metrics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(broken / "metrics.json")) + " is not valid JSON"):
        compare_runs(good, broken)


def test_abstention_plot_needs_a_curve(tmp_path):
    metrics = make_metrics()
    del metrics["abstention_curve"]  # an older run's metrics.json
    write_reports(tmp_path, make_results(), metrics)
    assert not (tmp_path / "plots" / "abstention.png").exists()
    assert "abstention.png" not in (tmp_path / "report.md").read_text(encoding="utf-8")

