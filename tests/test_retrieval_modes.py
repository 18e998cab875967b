"""The `retrieval` setting: hybrid (dense + BM25 fused), or BM25 or dense alone (ablations), on tests/data/tiny.jsonl."""

import json
import shutil

import pytest

from rag.errors import ConfigError
from rag.query import Query
from rag.retrieval import RETRIEVAL_MODES, hybrid_search
from rag.settings import Settings

#: A paper naming a made-up sensor; the question pairs that name with words that paraphrase the reef paper.
RARE = {"id": "2501.00011", "title": "Flood Forecasting from River Gauge Networks",
        "abstract": "We forecast river floods six hours ahead from upstream gauge readings with a recurrent network. "
                    "Readings from the Zorblax-7 sensors were dropped as unreliable. "
                    "Forecast skill improves over persistence at every station."}
RARE_QUESTION = "Zorblax-7 listening to underwater sounds of marine creatures"
REEF = "1903.00002"  # "Coral Reef Acoustic Monitoring with Hydrophone Arrays"


@pytest.fixture(scope="module")
def engine(tiny_index, tmp_path_factory):
    from rag.engine import Engine

    root = tmp_path_factory.mktemp("modes")
    shutil.copytree(tiny_index, root / "index")
    corpus = root / "rare.jsonl"
    corpus.write_text(json.dumps(RARE) + "\n")
    engine = Engine(Settings(index_dir=root / "index", sample_on_empty=False), notify=lambda m: None)
    assert engine.ingest([corpus]).new == 1
    yield engine
    engine.close()


def search(engine, question: str, mode: str, k: int = 5):
    return hybrid_search(question, k, engine.store, engine.embedder, engine.lexical(), 50, mode=mode)


@pytest.mark.parametrize("mode", RETRIEVAL_MODES)
def test_every_mode_finds_the_paper_a_plain_question_is_about(engine, mode):
    sources = search(engine, "lattice signature scheme with short public keys", mode)
    assert sources[0].paper_id == "2205.00003"
    assert [s.number for s in sources] == list(range(1, len(sources) + 1))
    assert len({s.paper_id for s in sources}) == len(sources)  # grouped by paper
    scores = [s.score for s in sources]
    assert scores == sorted(scores, reverse=True)  # higher = more relevant, in every mode
    assert 0.5 < sources[0].evidence <= 1.0  # evidence is scored the same way whatever retrieved the paper


def test_bm25_alone_finds_the_exact_rare_term_and_dense_alone_ranks_by_meaning(engine):
    assert search(engine, RARE_QUESTION, "bm25")[0].paper_id == RARE["id"]  # the exact match on Zorblax-7
    dense = [s.paper_id for s in search(engine, RARE_QUESTION, "dense", k=9)]
    assert dense[0] == REEF and dense.index(RARE["id"]) > 0  # meaning: underwater sounds of marine creatures
    paraphrase = "listening to noises made by animals underwater"  # no content word of the reef abstract
    assert search(engine, paraphrase, "dense")[0].paper_id == REEF
    assert REEF not in [s.paper_id for s in search(engine, paraphrase, "bm25")]


def test_bm25_alone_returns_only_papers_sharing_a_term(engine):
    assert search(engine, "xylophone quasar", "bm25") == []
    assert len(search(engine, "xylophone quasar", "dense")) == 5  # dense always ranks something


def test_the_engine_searches_in_the_configured_mode(engine):
    from rag.engine import Engine

    engine.close()  # one holder of the embedded index at a time
    with Engine(engine.settings.replace(retrieval="bm25"), notify=lambda m: None) as bm25_engine:
        got = [s.paper_id for s in bm25_engine.retrieve(Query(RARE_QUESTION, k=3))]
        assert got == [s.paper_id for s in search(bm25_engine, RARE_QUESTION, "bm25", k=3)]
        assert bm25_engine.settings.settings_hash() != engine.settings.settings_hash()  # runs in different modes differ


def test_an_unknown_mode_is_refused():
    with pytest.raises(ConfigError, match="retrieval .RAG_RETRIEVAL."):
        Settings.load(environ={"RAG_RETRIEVAL": "sparse"})
    with pytest.raises(ConfigError, match="Unknown retrieval mode 'sparse'"):
        hybrid_search("q", 1, None, None, None, 5, mode="sparse")
