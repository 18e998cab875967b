"""`rag eval --beir`: BEIR's corpus, queries and graded qrels, scored with graded nDCG@10.

The fixture tests/data/beir-tiny holds 8 documents (one untitled), 4 queries (one from another
split) and graded test qrels (with a header line and CRLF line ends, as BEIR ships them)."""

import json
import math
from pathlib import Path

import pytest

from eval.beir import beir_candidates, load_beir
from eval.metrics import ndcg, retrieval_metrics
from rag.errors import InputError
from rag.readers import read_papers

BEIR_TINY = Path(__file__).parent / "data" / "beir-tiny"
LOG2_3 = math.log2(3)


def test_graded_ndcg_uses_the_grade_as_gain_with_a_log2_discount():
    # grade 1 ranked first, grade 2 second: DCG = 1 + 2/log2(3); ideal = 2 + 1/log2(3)
    assert ndcg([1, 2], [1, 2]) == pytest.approx((1 + 2 / LOG2_3) / (2 + 1 / LOG2_3))
    assert ndcg([1, 2], [1, 2]) == pytest.approx(0.859719, abs=1e-6)
    # an unjudged paper at rank 1 pushes the grade-2 one to rank 2; a judged one never retrieved lowers the ideal
    assert ndcg([0, 2], [2, 1]) == pytest.approx((2 / LOG2_3) / (2 + 1 / LOG2_3))
    assert ndcg([0] * 10 + [2], [2]) == 0.0  # rank 11 is past the cut
    assert ndcg([2, 1], [2, 1, 0]) == 1.0  # grade 0 is not relevant
    m = retrieval_metrics([True, True], n_relevant=2, grades=[1, 2], ideal_grades=[1, 2], recall_depths=(100,))
    assert m["ndcg@10"] == pytest.approx(0.859719, abs=1e-6) and m["recall@100"] == 1.0
    assert retrieval_metrics([True, True], n_relevant=2)["ndcg@10"] == 1.0  # binary without grades, as before


def test_beir_corpus_records_are_read_by_the_jsonl_reader():
    papers = {p.paper_id: p for _, p in read_papers(BEIR_TINY / "corpus.jsonl")}
    assert len(papers) == 8
    d1 = papers["d1"]
    assert d1.title == "Saffron Crocus Harvest Yields in Kashmir" and d1.abstract.startswith("We measured saffron")
    assert d1.url == "https://example.org/d1"  # from BEIR's "metadata": {"url": ...}
    assert papers["d7"].title == "Volcanic ash grounded flights across northern Europe for six days in 2010…"


def test_a_record_with_neither_title_nor_text_is_still_skipped(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"_id": "x", "title": "", "abstract": "A" * 60}) + "\n" + json.dumps({"_id": "y", "title": ""}) + "\n")
    assert [r for _, r in read_papers(f)] == ["no title", "no title"]  # only BEIR's "text" stands in for a title


def test_load_beir_turns_queries_and_graded_qrels_into_questions():
    data = load_beir(BEIR_TINY)
    assert data.name == "beir-tiny" and data.collection == "beir-beir-tiny" and data.judgments == 6
    by_id = {q.id: q for q in data.questions}
    assert list(by_id) == ["q1", "q2", "q3"]  # q9 is not judged in the test split
    assert by_id["q1"].relevance == {"d1": 1, "d2": 2} and by_id["q1"].question == "saffron crocus harvest yield"
    assert by_id["q2"].gold_ids == ["d4"] and by_id["q2"].relevance == {"d4": 2}  # grade 0 is not gold


def test_a_beir_run_fetches_enough_chunks_to_rank_100_papers():
    from types import SimpleNamespace as Stats

    assert beir_candidates(Stats(papers=3633, chunks=13327), 50) == 404  # NFCorpus: 3.7 chunks a paper
    assert beir_candidates(Stats(papers=8, chunks=8), 50) == 110
    assert beir_candidates(Stats(papers=10, chunks=500), 50) == 1000  # capped
    assert beir_candidates(Stats(papers=0, chunks=0), 200) == 200


def test_load_beir_says_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_beir(tmp_path / "nope")
    with pytest.raises(InputError, match="splits found: test .use --split"):
        load_beir(BEIR_TINY, split="dev")
    (tmp_path / "corpus.jsonl").write_text("")
    with pytest.raises(InputError, match="no queries.jsonl"):
        load_beir(tmp_path)


def test_rag_eval_beir_scores_retrieval_with_graded_ndcg(run_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("eval", "--beir", BEIR_TINY, "--retrieval", "bm25", "--out", out)
    assert code == 0, stderr
    assert "8 new" in stderr and "collection beir-beir-tiny" in stderr
    rows = {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    # BM25 ranks: q1 d1 (grade 1) then d2 (grade 2); q2 d4 (grade 2) first; q3 d7 (grade 1) first, d8 (grade 1) never
    assert [p["paper_id"] for p in rows["q1"]["retrieved"]][:2] == ["d1", "d2"]
    assert rows["q3"]["retrieved"][0]["paper_id"] == "d7" and "d8" not in [p["paper_id"] for p in rows["q3"]["retrieved"]]
    q1, q2, q3 = (1 + 2 / LOG2_3) / (2 + 1 / LOG2_3), 1.0, 1 / (1 + 1 / LOG2_3)  # 0.8597, 1, 0.6131
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["ndcg@10"] == pytest.approx((q1 + q2 + q3) / 3)  # 0.8243
    assert summary["recall@100"] == pytest.approx((1 + 1 + 0.5) / 3) and summary["hit@5"] == 1.0
    assert summary["answered_rate"] is None and summary["citation_recall"] is None  # nothing was answered
    assert "ndcg@10              0.824" in stdout and "citation_recall" not in stdout

    # run again: the corpus is already in its own collection; the default collection was never touched
    code, _, stderr = run_cli("eval", "--beir", BEIR_TINY, "--retrieval", "bm25", "--out", tmp_path / "run2", "--limit", "1")
    assert code == 0 and "0 new, 0 updated, 8 unchanged" in stderr
    code, stdout, _ = run_cli("stats")
    assert code == 0 and "papers:      0" in stdout


def test_rag_eval_no_answers_scores_a_question_set_on_retrieval_alone(run_cli, tiny_index_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tiny_index_copy))
    questions = Path(__file__).parent / "data" / "tiny_questions.jsonl"
    code, stdout, stderr = run_cli("eval", "--questions", questions, "--no-answers", "--retrieval", "dense", "--out", tmp_path / "r")
    assert code == 0, stderr
    rows = [json.loads(line) for line in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert all(r["answer"] == "" and not r["verdicts"] for r in rows)  # nothing was answered or checked
    assert all(r["retrieved"] for r in rows if r["answerable"])
    summary = json.loads((tmp_path / "r" / "metrics.json").read_text())["summary"]
    assert summary["hit@5"] == 1.0 and "recall@100" not in summary
    assert "backend none (retrieval only), judge none" in stdout
