"""The support checker's caches and window pruning: each window is embedded at most once, most are never
embedded, and no feature, verdict or eval score changes (compared with the checker as it was, with no cache)."""

import json
import random

import numpy as np
import pytest
from conftest import DATA

from eval import harness
from rag.grounding import Grounder
from rag.support import AnswerChecker, SupportChecker
from rag.support.checker import contradictions, hard_failures
from rag.support.text import content_terms, strip_markers, term_recall
from rag.support.windows import sentence_windows
from rag.types import Source

CLAIMS = DATA.parents[1] / "eval" / "data" / "claims.jsonl"


class CountingEmbedder:
    """The real embedder, counting the texts it embeds."""

    def __init__(self, inner, scale: float = 1.0):
        self.inner, self.scale = inner, scale
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts.extend(texts)
        return self.inner.embed(texts) * np.float32(self.scale)


class Original(SupportChecker):
    """The checker before any cache (commit f19da47): every check embeds all windows of its sources, and the claim."""

    def features(self, claim, texts):
        claim = strip_markers(claim)
        source = " ".join(texts)
        windows = [w for t in texts for w in sentence_windows(t)]
        vectors = self.embedder.embed(windows)
        window_terms, source_terms = [content_terms(w) for w in windows], content_terms(source)
        claim_vec = self.embedder.embed([claim])[0]
        cos = vectors @ claim_vec if len(windows) else np.zeros(0)
        claim_terms = content_terms(claim)
        recall = np.array([term_recall(claim_terms, terms) for terms in window_terms]) if windows else np.zeros(0)
        best = int(np.argmax(0.5 * cos + 0.5 * recall)) if len(windows) else -1
        window = windows[best] if best >= 0 else ""
        return {
            "cos": float(cos[best]) if best >= 0 else 0.0,
            "recall": float(recall[best]) if best >= 0 else 0.0,
            "source_recall": term_recall(claim_terms, source_terms),
            "hard": hard_failures(claim, source, window),
            "contradictions": contradictions(claim, window),
            "window": window,
        }


@pytest.fixture(scope="module")
def embedder():
    from rag.embedding import MiniLMEmbedding

    return MiniLMEmbedding()


@pytest.fixture(scope="module")
def pairs():
    rows = [json.loads(line) for line in CLAIMS.read_text().splitlines()]
    return [(r["claim"], r["source"]) for r in rows[:60]]


def test_a_text_gets_the_same_vector_bits_whatever_batch_it_is_embedded_in(embedder, pairs):
    """What the vector memo rests on: a window embedded for one check is the one another check would get."""
    windows = [w for _, s in pairs[:6] for w in sentence_windows(s)]
    together = embedder.embed(windows)
    assert np.array_equal(together, np.stack([embedder.embed([w])[0] for w in windows]))


def test_each_window_is_embedded_at_most_once_and_most_are_never_embedded(embedder, pairs):
    counting = CountingEmbedder(embedder)
    checker = SupportChecker(embedder=counting)
    sources = list(dict.fromkeys(s for _, s in pairs))[:6]
    quoted = [sentence_windows(s)[1] for s in sources]  # an extractive answer's sentence quotes its source
    for i, claim in enumerate(quoted):  # ALCE: against the cited sources together, each alone, the others
        cited = [sources[i], sources[(i + 1) % 6]]
        for combo in (cited, cited[:1], cited[1:], cited[::-1]):
            checker.check(claim, combo)
    for claim, source in pairs[:10]:  # and claims against the source they were written from
        checker.check(claim, [source])
    windows = {w for s in sources + [s for _, s in pairs[:10]] for w in sentence_windows(s)}
    assert len(counting.texts) == len(set(counting.texts))  # nothing embedded twice, claims included
    assert len(set(counting.texts) & windows) < 0.8 * len(windows)  # all of them without pruning


@pytest.mark.slow  # about 40 s each: every claim against every source, twice
@pytest.mark.parametrize("prune", [True, False])
def test_features_and_verdicts_equal_the_uncached_checkers_exactly(embedder, pairs, prune):
    rng = random.Random(12)
    sources = list(dict.fromkeys(s for _, s in pairs))
    quoted = [w for s in sources[:8] for w in sentence_windows(s)[:3]]  # claims that match a window exactly
    cached, plain = SupportChecker(embedder=embedder, prune=prune), Original(embedder=embedder)
    for claim in [c for c, _ in rng.sample(pairs, 25)] + rng.sample(quoted, 10):
        texts = rng.sample(sources, rng.randint(1, 3))
        assert cached.features(claim, texts) == plain.features(claim, texts)
        assert cached.check(claim, texts) == plain.check(claim, texts)


def test_an_embedder_without_unit_vectors_gets_every_window_scored(embedder, pairs):
    """The pruning bound assumes unit vectors; scaled ones switch it off, and nothing changes."""
    scaled = CountingEmbedder(embedder, scale=3.0)
    cached, plain = SupportChecker(embedder=scaled), Original(embedder=scaled)
    for claim, source in pairs[:6]:
        assert cached.features(claim, [source]) == plain.features(claim, [source])
    assert not cached.prune


def test_grounding_gives_the_same_text_with_the_cached_checker(embedder, pairs):
    sources = list(dict.fromkeys(s for _, s in pairs))[:3]
    numbered = [Source(i + 1, f"p{i}", f"Paper {i}", s, 1.0) for i, s in enumerate(sources)]
    text = " ".join([f"{sentence_windows(sources[1])[0]} [1]", pairs[0][0], f"{pairs[3][0]} [3]"])
    counting = CountingEmbedder(embedder)
    got = Grounder(AnswerChecker(SupportChecker(embedder=counting))).ground(text, numbered)
    assert got == Grounder(AnswerChecker(Original(embedder=embedder))).ground(text, numbered)
    assert len(counting.texts) == len(set(counting.texts))


def _run(make, index, out, monkeypatch):
    from rag.engine import Engine
    from rag.settings import Settings

    monkeypatch.setattr(harness, "make_judge", lambda kind, engine: make(embedder=engine.embedder))
    with Engine(Settings(index_dir=index, sample_on_empty=False), notify=lambda m: None) as engine:
        harness.run_eval(DATA / "tiny_questions.jsonl", out, engine, judge="rules")
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("timings", None)
    metrics = json.loads((out / "metrics.json").read_text())
    for part in [metrics["summary"], *metrics["by_type"].values()]:
        for key in ("latency_p50_s", "latency_p95_s"):
            part.pop(key, None)
    metrics["run"].pop("started"), metrics["run"].pop("duration_s")
    return json.dumps(rows, sort_keys=True), json.dumps(metrics, sort_keys=True)


def test_eval_scores_are_byte_identical_with_and_without_caches_and_pruning(tiny_index, tmp_path, monkeypatch):
    cached = _run(SupportChecker, tiny_index, tmp_path / "cached", monkeypatch)
    original = _run(Original, tiny_index, tmp_path / "original", monkeypatch)
    assert any(v for row in json.loads(cached[0]) for v in row.get("verdicts") or [])  # it did check sentences
    assert cached == original


def test_the_caches_are_bounded(embedder, pairs):
    checker = SupportChecker(embedder=embedder, cache_size=3)
    checker._windows_of.memo.size = 5
    for claim, source in pairs[:8]:
        checker.check(claim, source)
    assert len(checker._windows_of.texts) <= 3 and len(checker._windows_of.memo) <= 5
    assert np.isfinite(checker.check(pairs[0][0], pairs[0][1]).score)
