"""The support checker's per-text window cache: it embeds each sentence window once, and changes no score."""

import json
import random

import numpy as np
import pytest
from conftest import DATA

from eval import harness
from rag.support import SupportChecker
from rag.support.windows import sentence_windows

CLAIMS = DATA.parents[1] / "eval" / "data" / "claims.jsonl"


class CountingEmbedder:
    """The real embedder, counting the texts it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts.extend(texts)
        return self.inner.embed(texts)


class PerCallWindows:
    """What the checker did before the cache: each check builds and embeds its sources' windows as one set."""

    def __init__(self, checker):
        self.checker = checker

    def __call__(self, texts):
        from rag.support.text import content_terms

        windows = [w for t in texts for w in sentence_windows(t)]
        vectors = self.checker.embedder.embed(windows)
        return windows, vectors, [content_terms(w) for w in windows], content_terms(" ".join(texts))

    def claim_vector(self, claim):
        return self.checker.embedder.embed([claim])[0]


def uncached(embedder) -> SupportChecker:
    checker = SupportChecker(embedder=embedder, cache_size=0)
    checker._windows_of = PerCallWindows(checker)
    return checker


@pytest.fixture(scope="module")
def embedder():
    from rag.embedding import MiniLMEmbedding

    return MiniLMEmbedding()


@pytest.fixture(scope="module")
def pairs():
    rows = [json.loads(line) for line in CLAIMS.read_text().splitlines()]
    return [(r["claim"], r["source"]) for r in rows[:60]]


def test_each_window_is_embedded_once_however_the_sources_are_combined(embedder, pairs):
    counting = CountingEmbedder(embedder)
    checker = SupportChecker(embedder=counting)
    sources = list(dict.fromkeys(s for _, s in pairs))[:6]
    claims = [c for c, _ in pairs[:5]]
    for claim in claims:  # ALCE checks a sentence citing [1, 2, 3] against all, each alone and each pair
        for combo in ([0, 1, 2], [0], [1], [2], [1, 2], [0, 2], [0, 1], [3, 4, 5], [5, 4, 3]):
            checker.check(claim, [sources[i] for i in combo])
    distinct = {w for s in sources for w in sentence_windows(s)} | set(claims)
    assert len(counting.texts) == len(distinct)  # per set of sources, it embedded far more


def test_cached_features_equal_uncached_ones_exactly(embedder, pairs):
    rng = random.Random(12)
    sources = list(dict.fromkeys(s for _, s in pairs))
    cached, plain = SupportChecker(embedder=embedder), uncached(embedder)
    for claim, _ in rng.sample(pairs, 25):
        texts = rng.sample(sources, rng.randint(1, 3))
        assert cached.features(claim, texts) == plain.features(claim, texts)
        assert cached.check(claim, texts) == plain.check(claim, texts)


def test_eval_scores_are_byte_identical_with_and_without_the_cache(tiny_index, tmp_path, monkeypatch):
    from rag.engine import Engine
    from rag.settings import Settings

    runs = {}
    for name, make in (("cached", SupportChecker), ("uncached", lambda embedder: uncached(embedder))):
        monkeypatch.setattr(harness, "make_judge", lambda kind, engine, make=make: make(embedder=engine.embedder))
        with Engine(Settings(index_dir=tiny_index, sample_on_empty=False), notify=lambda m: None) as engine:
            harness.run_eval(DATA / "tiny_questions.jsonl", tmp_path / name, engine, judge="rules")
        rows = [json.loads(line) for line in (tmp_path / name / "results.jsonl").read_text().splitlines()]
        for row in rows:
            row.pop("timings", None)
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        for part in [metrics["summary"], *metrics["by_type"].values()]:
            for key in ("latency_p50_s", "latency_p95_s"):
                part.pop(key, None)
        metrics["run"].pop("started"), metrics["run"].pop("duration_s")
        runs[name] = (json.dumps(rows, sort_keys=True), json.dumps(metrics, sort_keys=True))
    assert any(v for row in json.loads(runs["cached"][0]) for v in row.get("verdicts") or [])  # it did check sentences
    assert runs["cached"] == runs["uncached"]


def test_the_cache_is_bounded(embedder, pairs):
    checker = SupportChecker(embedder=embedder, cache_size=3)
    for claim, source in pairs[:8]:
        checker.check(claim, source)
    assert len(checker._windows_of.texts) <= 3 and len(checker._windows_of.claims) <= 3
    assert np.isfinite(checker.check(pairs[0][0], pairs[0][1]).score)
