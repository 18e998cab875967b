"""The same question on the same index gives the same papers, scores and answer in every process."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.query import Query
from rag.settings import Settings
from rag.store import EXACT_SEARCH_CHUNKS, LARGE_SEARCH_EF, Store

TESTS = Path(__file__).parent
QUESTIONS = TESTS.parent / "eval" / "data" / "questions.jsonl"
TWIN = {"title": "Sparse Attention Kernels for Long Contexts",
        "abstract": "We write sparse attention kernels that skip masked blocks. They run 3.1x faster than dense kernels at 64k tokens."}


def twins_index(tmp_path: Path, name: str, ids: list[str]) -> Engine:
    """An index holding tests/data/tiny.jsonl and two papers alike in all but id, added in the order of ``ids``."""
    corpus = tmp_path / f"{name}.jsonl"
    lines = (TESTS / "data" / "tiny.jsonl").read_text().splitlines()
    corpus.write_text("\n".join(lines + [json.dumps({"id": pid, **TWIN}) for pid in ids]) + "\n")
    engine = Engine(Settings(index_dir=tmp_path / name, sample_on_empty=False), notify=lambda msg: None)
    engine.ingest([corpus])
    return engine


def test_equal_chunks_come_in_id_order_whatever_the_ingest_order(tmp_path):
    """Both retrievers score the twins' chunks alike: chunk id (paper id first) decides, not insertion order."""
    orders = []
    for name, ids in (("ab", ["twin-a", "twin-b"]), ("ba", ["twin-b", "twin-a"])):
        with twins_index(tmp_path, name, ids) as engine:
            sources = engine.retrieve(Query("sparse attention kernels skipping masked blocks", k=3))
            assert sources[0].evidence == sources[1].evidence
            orders.append([s.paper_id for s in sources[:2]])
    assert orders == [["twin-a", "twin-b"], ["twin-a", "twin-b"]]


def test_fused_order_does_not_depend_on_the_order_the_library_returns(tiny_engine, monkeypatch):
    """Equal RRF scores (a chunk first for one retriever only, another first for the other) are ordered by
    paper id: llama-index keeps them in the order it met them, which we do not rely on."""
    from llama_index.core.retrievers import QueryFusionRetriever

    question = "photonic hardware throughput"
    expected = tiny_engine.retrieve(Query(question, k=8))
    real = QueryFusionRetriever.retrieve
    monkeypatch.setattr(QueryFusionRetriever, "retrieve", lambda self, q: list(reversed(real(self, q))))
    assert tiny_engine.retrieve(Query(question, k=8)) == expected


def test_an_index_made_before_is_searched_exhaustively_once_opened(tmp_path):
    settings = Settings(index_dir=tmp_path / "idx", sample_on_empty=False)
    store = Store(settings)
    with warnings.catch_warnings():  # Chroma's "legacy embedding function config" (we pass vectors ourselves)
        warnings.simplefilter("ignore", DeprecationWarning)
        store.collection.modify(configuration={"hnsw": {"ef_search": 100}})  # Chroma's default, as older indexes have
    store.close()
    store = Store(settings)
    try:
        assert store.collection.get_model().configuration_json["hnsw"]["ef_search"] >= EXACT_SEARCH_CHUNKS
    finally:
        store.close()


def test_a_collection_past_exhaustive_search_gets_the_large_breadth_and_back(tiny_index_copy, monkeypatch):
    import rag.store

    def breadth() -> int:
        store = Store(Settings(index_dir=tiny_index_copy, sample_on_empty=False))
        try:
            return store.collection.get_model().configuration_json["hnsw"]["ef_search"]
        finally:
            store.close()

    assert breadth() == EXACT_SEARCH_CHUNKS
    monkeypatch.setattr(rag.store, "EXACT_SEARCH_CHUNKS", 5)  # the tiny collection is now "large"
    assert breadth() == LARGE_SEARCH_EF
    monkeypatch.undo()
    assert breadth() == EXACT_SEARCH_CHUNKS  # shrunk back (here: the limit moved): exhaustive again


def probe(index_dir: Path, seed: int) -> list[dict]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    proc = subprocess.run(
        [sys.executable, str(TESTS / "determinism_probe.py"), str(index_dir), str(QUESTIONS)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.slow
def test_two_processes_give_the_same_papers_scores_and_answers(sample_index):
    settings, engine, _ = sample_index
    engine.close()  # the index is held by one process at a time: let the probes open it, one after the other
    first, second = probe(settings.index_dir, 1), probe(settings.index_dir, 2)
    assert len(first) == len(QUESTIONS.read_text().splitlines())
    differ = [a["id"] for a, b in zip(first, second) if a != b]
    assert differ == [], f"{len(differ)} questions differ between the two processes: {differ}"
