"""Hybrid retrieval over a real embedded Chroma store holding tests/data/tiny.jsonl."""

import json
import shutil

import numpy as np
import pytest

from rag.query import Query
from rag.retrieval import evidence_score
from rag.types import Filters


def test_best_match_comes_first_and_scores_point_up(tiny_engine):
    sources = tiny_engine.retrieve(Query("How much faster is generation with a small draft model proposing tokens?", k=5))
    assert sources[0].title == "Speculative Decoding with Tiny Draft Models"
    scores = [s.score for s in sources]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert [s.number for s in sources] == [1, 2, 3, 4, 5]
    assert len({s.paper_id for s in sources}) == 5  # grouped by paper


def test_sources_carry_the_paper_metadata_and_full_abstract(tiny_engine):
    (src,) = tiny_engine.retrieve(Query("lattice signature public key size", k=1))
    assert src.paper_id == "2205.00003" and src.year == 2022 and src.categories == ("cs.CR",)
    assert src.authors == ("Alice Rivest", "Bob Shamir")
    assert src.text.startswith("Post-quantum signatures") and src.text.endswith("faster than Dilithium.")
    assert src.passages and all(p in src.text for p in src.passages)
    assert len(src.passages) == len(set(src.passages))  # a chunk found by both retrievers appears once


RARE = [  # three papers on one theme; only the first names the made-up sensor "Zorblax-7"
    {"id": "2501.00011", "title": "Flood Forecasting from River Gauge Networks",
     "abstract": "We forecast river floods six hours ahead from upstream gauge readings with a recurrent network. "
                 "Readings from the Zorblax-7 sensors were dropped as unreliable. "
                 "Forecast skill improves over persistence at every station."},
    {"id": "2501.00012", "title": "Rainfall Nowcasting with Radar Mosaics",
     "abstract": "We nowcast rainfall from radar mosaics with an optical-flow model and a learned correction. "
                 "Forecast skill improves over persistence for the first ninety minutes at every station."},
    {"id": "2501.00013", "title": "Snowpack Estimation from Satellite Imagery",
     "abstract": "We estimate snow water equivalent from satellite imagery and station readings with gradient boosting. "
                 "Errors fall by a third against the operational product at every station."},
]
#: The rare term, with words that paraphrase the reef paper (1903.00002) without sharing a word with it.
RARE_QUESTION = "Zorblax-7 listening to underwater sounds of marine creatures"


@pytest.fixture(scope="module")
def rare_engine(tiny_index, tmp_path_factory):
    from rag.engine import Engine
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("rare")
    shutil.copytree(tiny_index, root / "index")
    corpus = root / "rare.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in RARE))
    engine = Engine(Settings(index_dir=root / "index", sample_on_empty=False), notify=lambda m: None)
    assert engine.ingest([corpus]).new == 3
    return engine


def dense_ranking(engine, question: str) -> list[str]:
    """Papers by their best chunk's cosine to the question: what the dense side alone would rank."""
    q = engine.embedder.embed([question])[0]
    got = engine.store.collection.get(include=["embeddings", "metadatas"])
    best: dict[str, float] = {}
    for vec, meta in zip(got["embeddings"], got["metadatas"]):
        best[meta["paper_id"]] = max(best.get(meta["paper_id"], -1.0), float(np.dot(vec, q)))
    return sorted(best, key=best.get, reverse=True)


def test_exact_rare_term_is_found_by_the_lexical_side(rare_engine):
    dense = dense_ranking(rare_engine, RARE_QUESTION)
    assert dense[0] == "1903.00002" and dense.index("2501.00011") > 0  # the dense side alone misses it
    top = rare_engine.retrieve(Query(RARE_QUESTION, k=2))
    assert [s.paper_id for s in top] == ["2501.00011", "1903.00002"]  # BM25's exact match decides
    assert rare_engine.retrieve(Query("672 bytes", k=1))[0].paper_id == "2205.00003"


def test_paraphrase_is_found_by_the_dense_side(tiny_engine):
    top = tiny_engine.retrieve(Query("listening to underwater noises made by sea creatures", k=1))[0]
    assert top.paper_id == "1903.00002"


def test_evidence_is_higher_for_on_topic_questions(tiny_engine):
    on = tiny_engine.retrieve(Query("How long does it take to prove a ResNet-18 inference in zero knowledge?", k=1))[0]
    off = tiny_engine.retrieve(Query("Who painted the ceiling of the Sistine Chapel?", k=1))[0]
    assert on.evidence > 0.5 > 0.2 > off.evidence


def test_evidence_score_is_monotone_in_both_signals():
    assert evidence_score(0.6, 0.5) > evidence_score(0.4, 0.5) > evidence_score(0.05, 0.5)
    assert evidence_score(0.4, 0.9) > evidence_score(0.4, 0.2)
    assert 0.0 <= evidence_score(-1, 0) <= evidence_score(1, 1) <= 1.0


def test_year_and_category_filters_apply_to_both_retrievers(tiny_engine):
    recent = tiny_engine.retrieve(Query("language model memory", k=8, filters=Filters(year_from=2023)))
    assert recent and all(s.year >= 2023 for s in recent)
    window = tiny_engine.retrieve(Query("forecasting", k=8, filters=Filters(year_from=2019, year_to=2020)))
    assert {s.year for s in window} <= {2019, 2020} and window
    crypto = tiny_engine.retrieve(Query("proofs and signatures", k=8, filters=Filters(categories=("cs.CR",))))
    assert {s.paper_id for s in crypto} == {"2205.00003", "2403.00008"}
    either = tiny_engine.retrieve(Query("anything", k=8, filters=Filters(categories=("stat.ML", "cs.AR"))))
    assert {s.paper_id for s in either} == {"1807.00007", "2101.00001"}
    assert tiny_engine.retrieve(Query("anything", k=8, filters=Filters(year_from=2030))) == []


def test_bm25_index_is_cached_and_rebuilt_when_the_collection_changes(tiny_engine, tmp_path):
    first = tiny_engine.lexical()
    assert tiny_engine.lexical() is first
    cache = tiny_engine.settings.index_dir / "bm25" / tiny_engine.settings.collection
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "new1", "title": "Quantum Annealing for Protein Folding",
                                 "abstract": "We fold proteins on a quantum annealer with 5000 qubits and beat classical heuristics."}) + "\n")
    tiny_engine.ingest([extra])
    assert tiny_engine.lexical() is not first
    assert tiny_engine.retrieve(Query("quantum annealer qubits", k=1))[0].paper_id == "new1"
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1  # the stale cache was removed


def test_k_must_be_positive(tiny_engine):
    from rag.errors import InputError

    with pytest.raises(InputError):
        tiny_engine.retrieve(Query("x", k=0))


def test_papers_by_chunk_id_equal_papers_by_metadata(tiny_engine):
    """Retrieval reads the sources' chunks by id (from the BM25 index), which must give what the metadata filter gives."""
    pids = [s.paper_id for s in tiny_engine.retrieve(Query("lattice signature scheme signing time", k=3))]
    by_meta = tiny_engine.store.papers(pids)
    by_id = tiny_engine.store.papers(pids, tiny_engine.lexical().bm25.chunks_of(pids))
    assert set(by_id) == set(by_meta) == set(pids)
    for pid in pids:
        assert by_id[pid][0] == by_meta[pid][0]  # chunk 0's metadata, the full abstract
        assert sorted(map(tuple, by_id[pid][1])) == sorted(map(tuple, by_meta[pid][1]))  # every chunk's vector
    # a paper the ids miss (a stale list) is still found, by its metadata
    assert set(tiny_engine.store.papers(pids, tiny_engine.lexical().bm25.chunks_of(pids[:1]))) == set(pids)
