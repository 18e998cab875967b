"""`rag eval`, `rag eval compare` and the LLM judge, end to end on the tiny corpus."""

import json

import pytest
from conftest import DATA
from fake_openai import FakeOpenAI

from eval.harness import Scorer, load_questions, run_eval
from eval.judge import LLMJudge
from rag.engine import Engine
from rag.errors import InputError
from rag.settings import Settings

QUESTIONS = DATA / "tiny_questions.jsonl"
ROOT = DATA.parents[1]


@pytest.fixture
def index_dir(tiny_index):
    return tiny_index  # read only: the rules judge writes nothing into the index


@pytest.fixture
def rag(run_cli, monkeypatch, index_dir):
    """`rag ARGS` in-process over the tiny index: (exit code, stdout, stderr)."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_SAMPLE_ON_EMPTY", "false")
    return run_cli


def test_rag_eval_writes_all_four_files(rag, tmp_path):
    from rag.support.checker import SupportChecker, load_calibration

    out = tmp_path / "run"
    code, stdout, stderr = rag("eval", "--questions", QUESTIONS, "--out", out)
    assert code == 0, stderr
    assert "4 questions, backend extractive, judge rules" in stdout
    for name in ("results.jsonl", "metrics.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob("*.partial")) and not list(out.glob(".*tmp"))
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3", "t4"]
    t1, t2, _, t4 = rows
    assert t1["metrics"]["hit@5"] == 1.0 and t1["metrics"]["correctness"] == 1.0
    assert t1["citations"][0]["paper_id"] == "1903.00002"
    assert t1["verdicts"] and all(v["supported"] for v in t1["verdicts"])  # quotes are supported
    assert t2["metrics"]["mrr"] == 1.0  # gold_ids work like gold_titles
    assert t4["abstained"] and t4["metrics"]["citation_recall"] is None and "hit@5" not in t4["metrics"]
    metrics = json.loads((out / "metrics.json").read_text())
    s = metrics["summary"]
    assert s["abstention_recall"] == 1.0 and s["errors"] == 0
    assert s["faithfulness"] == 1.0 and s["citation_recall"] == 1.0
    assert set(metrics["by_type"]) == {"single", "multi", "unanswerable"}
    assert "share of answer sentences supported" in metrics["definitions"]["citation_recall"]
    # the run names the checker it used (its measured accuracy is tested in test_checker.py)
    held_out = load_calibration()["held_out"]
    assert metrics["checker"]["kind"] == "rules"
    assert metrics["checker"]["threshold"] == SupportChecker().params["threshold"]
    assert metrics["checker"]["held_out_pairs"] == len((ROOT / held_out["file"]).read_text().splitlines())
    assert "data:image/png;base64," in (out / "report.html").read_text()
    # verdict labels, and the abstention curve from each question's top evidence score
    assert all(v["label"] == "supported" for v in t1["verdicts"])
    assert all(isinstance(r["top_evidence"], float) for r in rows)
    configured = [p for p in metrics["abstention_curve"] if p["configured"]]
    assert [p["threshold"] for p in configured] == [Settings().min_evidence]
    assert t4["top_evidence"] < configured[0]["threshold"] and configured[0]["abstain_unanswerable"] == 1.0
    assert (out / "plots" / "abstention.png").stat().st_size > 0


def test_compare_two_runs(rag, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert rag("eval", "--questions", QUESTIONS, "--out", a, "--limit", "2")[0] == 0
    assert rag("eval", "--questions", QUESTIONS, "--out", b)[0] == 0
    code, out, err = rag("eval", "compare", a, b)
    assert code == 0, err
    assert "abstention_recall" in out and "faithfulness" in out
    code, _, err = rag("eval", "compare", a, tmp_path / "nope")
    assert code == 2 and "nope" in err


def test_bad_question_file_names_the_line(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "fine?"}\n{broken\n{"id": "c"}\n')
    with pytest.raises(InputError, match=r"line 2: invalid JSON.*line 3: needs a non-empty \"question\""):
        load_questions(f)


def test_hallucinated_llm_answer_is_caught(index_dir, tmp_path):
    """A real HTTP answerer that makes things up: the checker marks the made-up sentence."""
    settings = Settings(index_dir=index_dir, sample_on_empty=False, backend="openai", model="test-model", max_retries=0)
    with FakeOpenAI() as fake:
        fake.enqueue(
            "The study deployed arrays of 16 hydrophones on three reefs [1]. "
            "The classifier reached 99.9% accuracy on whale songs recorded in the Arctic [1]."
        )
        engine = Engine(settings.replace(openai_base_url=fake.base_url), notify=lambda m: None)
        q = load_questions(QUESTIONS)[:1]
        qfile = tmp_path / "one.jsonl"
        qfile.write_text(QUESTIONS.read_text().splitlines()[0] + "\n")
        metrics = run_eval(qfile, tmp_path / "run", engine, judge="rules")
    row = json.loads((tmp_path / "run" / "results.jsonl").read_text())
    assert row["backend"] == "openai:test-model" and q[0].id == row["id"]
    assert [v["supported"] for v in row["verdicts"]] == [True, False]
    assert row["metrics"]["citation_recall"] == 0.5 and row["metrics"]["faithfulness"] == 0.5
    assert row["usage"]["prompt_tokens"] == 11 and row["cost_usd"] is None  # local server: no price
    assert metrics.summary["prompt_tokens"] == 11


def test_llm_judge_asks_per_claim_and_caches(index_dir, tmp_path):
    with FakeOpenAI(default="yes") as fake:
        settings = Settings(index_dir=tmp_path, openai_base_url=fake.base_url, model="judge-model", max_retries=0)
        judge = LLMJudge(settings, tmp_path / "cache.jsonl")
        fake.enqueue("- The study used 16 hydrophones.\n- The study lasted 11 months.", "yes", "no")
        claims = judge.atomic_claims("The study used 16 hydrophones for 11 months [1].")
        assert claims == ["The study used 16 hydrophones.", "The study lasted 11 months."]
        verdicts = [judge.check(c, "We deploy arrays of 16 hydrophones for 11 months.") for c in claims]
        assert [v.supported for v in verdicts] == [True, False]
        asked = len(fake.requests)
        prompt = fake.requests[1]["body"]["messages"][0]["content"]
        assert "Claim: The study used 16 hydrophones." in prompt and "[1] We deploy arrays" in prompt
        again = LLMJudge(settings, tmp_path / "cache.jsonl")  # a new run reads the cache
        assert [again.check(c, "We deploy arrays of 16 hydrophones for 11 months.").supported for c in claims] == [True, False]
        assert len(fake.requests) == asked
        scorer = Scorer(again)
        assert scorer._claims("The study used 16 hydrophones for 11 months [1].") == claims


def test_a_reply_that_is_not_a_chat_completion_fails_that_question_only(index_dir, tmp_path):
    """A non-JSON 200 (a proxy's HTML page) is recorded as that question's error; the run goes on."""
    from fake_openai import Reply

    settings = Settings(index_dir=index_dir, sample_on_empty=False, backend="openai", model="test-model", max_retries=0)
    with FakeOpenAI(default="The study deployed arrays of 16 hydrophones [1].") as fake:
        fake.enqueue(Reply(raw="<html>Bad gateway</html>"), Reply(payload={"object": "list"}))
        engine = Engine(settings.replace(openai_base_url=fake.base_url), notify=lambda m: None)
        metrics = run_eval(QUESTIONS, tmp_path / "run", engine, judge="rules", limit=3)
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3"]
    assert "not an OpenAI chat completion (the body is not JSON)" in rows[0]["error"]
    assert "no 'choices'" in rows[1]["error"] and "OPENAI_BASE_URL" in rows[1]["error"]
    assert rows[2]["error"] is None and rows[2]["answer"]
    assert metrics.summary["errors"] == 2
    assert any("2 of 3 question(s) failed" in w and "t1" in w for w in metrics.warnings)


def test_a_sentence_citing_a_non_source_is_scored_unsupported():
    from types import SimpleNamespace

    from rag.support.checker import Verdict

    class Agreeable:  # a judge that supports everything: only the flag can fail a sentence
        def check(self, claim, sources):
            return Verdict(True, 1.0, [])

    answer = SimpleNamespace(
        text="Speed doubles [1]. It also cures cancer [1].",
        sources=[SimpleNamespace(number=1, text="Speed doubles.")],
        citations=[SimpleNamespace(number=1)],
        flagged=["It also cures cancer [1]."],
        abstained=False,
    )
    scored = Scorer(Agreeable()).score(answer)
    assert [v["supported"] for v in scored["verdicts"]] == [True, False]
    assert scored["citation_recall"] == 0.5
    assert "cited a number that is not a source" in scored["verdicts"][1]["reasons"]


def test_the_llm_judge_uses_the_chat_client_without_the_answer_prompts(tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "answer_system.txt").write_text("Answer {broken}", encoding="utf-8")  # the judge must not load it
    settings = Settings(index_dir=tmp_path, openai_base_url="http://127.0.0.1:9/v1", model="judge-model", prompts_dir=prompts)
    judge = LLMJudge(settings, tmp_path / "cache.jsonl")
    assert judge.name == "llm:judge-model" and type(judge.llm).__name__ == "ChatClient"


def test_eval_retrieves_once_per_question(index_dir, tmp_path, monkeypatch):
    import rag.retrieval

    searches = []
    real = rag.retrieval.hybrid_search

    def counting(question, k, *args, **kwargs):
        searches.append((question, k))
        return real(question, k, *args, **kwargs)

    monkeypatch.setattr(rag.retrieval, "hybrid_search", counting)
    with Engine(Settings(index_dir=index_dir, sample_on_empty=False, backend="extractive"), notify=lambda m: None) as engine:
        run_eval(QUESTIONS, tmp_path / "run", engine, judge="rules")
    questions = [q.question for q in load_questions(QUESTIONS)]
    assert searches == [(q, 10) for q in questions]  # one search each, scored on 10 and answered on the first top_k
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert all(len(r["sources"]) <= 5 for r in rows) and rows[0]["metrics"]["hit@5"] == 1.0


def test_sentence_verdicts_carry_the_judges_label_except_for_a_flagged_sentence():
    from types import SimpleNamespace

    from rag.support.checker import Verdict

    class Contrary:  # a judge for which every source says the opposite
        def check(self, claim, sources):
            return Verdict(False, 0.1, ["negation only in the source"], label="contradicted")

    answer = SimpleNamespace(
        text="Speed doubles [1]. It also cures cancer [1]. Nothing cited here.",
        sources=[SimpleNamespace(number=1, text="Speed does not double.")],
        citations=[SimpleNamespace(number=1)],
        flagged=[],
        abstained=False,
    )
    verdicts = Scorer(Contrary()).score(answer)["verdicts"]
    assert [v["label"] for v in verdicts] == ["contradicted", "contradicted", "not_stated"]

    class Agreeable:
        def check(self, claim, sources):
            return Verdict(True, 1.0, [])

    flagged = SimpleNamespace(**{**vars(answer), "flagged": ["It also cures cancer [1]."]})
    verdicts = Scorer(Agreeable()).score(flagged)["verdicts"]
    assert [(v["supported"], v["label"]) for v in verdicts] == [(True, "supported"), (False, "not_stated"),
                                                               (False, "not_stated")]
