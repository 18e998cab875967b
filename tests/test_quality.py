"""Retrieval and answer quality on the bundled sample with our question set (eval/data/questions.jsonl).

Floors a little under what we measured, so a regression fails here; the numbers
themselves are reported by `rag eval` (see README).
"""

import json
from pathlib import Path

import pytest

QUESTIONS = Path(__file__).parents[1] / "eval" / "data" / "questions.jsonl"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(sample_index):
    _, engine, _ = sample_index
    out = []
    for line in QUESTIONS.read_text().splitlines():
        q = json.loads(line)
        out.append((q, engine.ask(q["question"])))
    return out


def test_first_run_ingested_the_sample_and_said_so(sample_index):
    _, engine, messages = sample_index
    assert "is empty: ingesting the bundled sample corpus" in messages[0]
    assert "247 new" in messages[1]
    assert engine.stats().papers == 247


def test_right_paper_in_the_top_5(runs):
    answerable = [(q, a) for q, a in runs if q["gold_titles"]]
    hits = sum(any(s.title in q["gold_titles"] for s in a.sources[:5]) for q, a in answerable)
    assert hits / len(answerable) >= 0.95


def test_extractive_answers_cite_a_right_paper(runs):
    answerable = [(q, a) for q, a in runs if q["gold_titles"]]
    cited = sum(any(c.title in q["gold_titles"] for c in a.citations) for q, a in answerable)
    assert cited / len(answerable) >= 0.9


def test_abstains_on_unanswerable_but_rarely_on_answerable(runs):
    unanswerable = [a for q, a in runs if not q["gold_titles"]]
    answerable = [a for q, a in runs if q["gold_titles"]]
    assert sum(a.abstained for a in unanswerable) / len(unanswerable) >= 0.5
    assert sum(a.abstained for a in answerable) / len(answerable) <= 0.1
