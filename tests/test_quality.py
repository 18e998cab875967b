"""Retrieval and answer quality on the bundled sample with our question set (eval/data/questions.jsonl).

Floors a little under what we measured, so a regression fails here; the numbers
themselves are reported by `rag eval` (see README).
"""

import json
from pathlib import Path

import pytest

from rag.query import Query

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


# -- the abstention threshold, pinned near its default ------------------------------------------------


@pytest.fixture(scope="module")
def top_evidence(sample_index):
    """(answerable?, question, the best source's evidence) per question: one retrieval pass."""
    settings, engine, _ = sample_index
    out = []
    for line in QUESTIONS.read_text().splitlines():
        q = json.loads(line)
        sources = engine.retrieve(Query(q["question"], k=settings.top_k))
        out.append((bool(q["gold_titles"]), q["question"], sources[0].evidence if sources else 0.0))
    return out


def abstention_rates(top_evidence, threshold):
    """Share of unanswerable, then of answerable, questions the engine abstains on at ``threshold``."""
    un = [e for answerable, _, e in top_evidence if not answerable]
    ans = [e for answerable, _, e in top_evidence if answerable]
    return sum(e < threshold for e in un) / len(un), sum(e < threshold for e in ans) / len(ans)


#: Measured at the default min_evidence (0.34) on the 20 unanswerable and 120 answerable questions:
#: abstains on 13/20 and 5/120. The bands allow one question either way, no more:
#: 0.20 gives 11/20 and 0/120, 0.40 gives 16/20 and 10/120; both fail.
UNANSWERABLE_BAND = (0.55, 0.75)  # 12..14 of 20
ANSWERABLE_BAND = (0.03, 0.055)  # 4..6 of 120


def test_abstention_at_the_default_threshold_sits_in_a_tight_band(sample_index, top_evidence):
    settings, engine, _ = sample_index
    un, ans = abstention_rates(top_evidence, settings.min_evidence)
    assert UNANSWERABLE_BAND[0] < un < UNANSWERABLE_BAND[1], un
    assert ANSWERABLE_BAND[0] < ans < ANSWERABLE_BAND[1], ans
    for moved in (0.20, 0.40):  # the bands are tight enough to tell a moved threshold apart
        un_m, ans_m = abstention_rates(top_evidence, moved)
        assert not (UNANSWERABLE_BAND[0] < un_m < UNANSWERABLE_BAND[1] and ANSWERABLE_BAND[0] < ans_m < ANSWERABLE_BAND[1])
    # the engine's own decision matches the rule used above, on the questions nearest the threshold
    ranked = sorted(top_evidence, key=lambda t: abs(t[2] - settings.min_evidence))
    below = next(t for t in ranked if t[2] < settings.min_evidence)
    above = next(t for t in ranked if t[2] >= settings.min_evidence)
    assert engine.ask(below[1]).abstained and not engine.ask(above[1]).abstained
