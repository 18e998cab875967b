"""Ingest into a real embedded Chroma store in a temp dir."""

import json

import pytest
from conftest import TINY

from rag.chunking import count_tokens, make_nodes
from rag.engine import Engine
from rag.errors import InputError
from rag.types import Paper


def chunk_ids(engine):
    return sorted(engine.store.collection.get(include=[])["ids"])


def test_ingest_then_reingest_adds_nothing(tiny_settings):
    engine = Engine(tiny_settings, notify=lambda m: None)
    first = engine.ingest([TINY])
    assert (first.new, first.updated, first.unchanged, first.skipped) == (8, 0, 0, [])
    ids = chunk_ids(engine)
    generation = engine.store.generation
    second = engine.ingest([TINY])
    assert (second.new, second.updated, second.unchanged, second.chunks_added) == (0, 0, 8, 0)
    assert chunk_ids(engine) == ids
    assert engine.store.generation == generation  # nothing changed, BM25 cache stays valid
    assert "0 new, 0 updated, 8 unchanged, 0 skipped" in second.summary()


def test_changed_abstract_replaces_its_old_chunks(tiny_settings, tmp_path):
    engine = Engine(tiny_settings, notify=lambda m: None)
    engine.ingest([TINY])
    rows = [json.loads(line) for line in TINY.read_text().splitlines()]
    rows[0]["abstract"] = "A completely rewritten abstract about photonic accelerators, now with 9.9x speedups on sparse layers."
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = engine.ingest([changed])
    assert (report.new, report.updated, report.unchanged) == (0, 1, 7)
    got = engine.store.collection.get(where={"paper_id": rows[0]["id"]}, include=["documents", "metadatas"])
    assert len({m["content_hash"] for m in got["metadatas"]}) == 1
    assert all("9.9x" in d or "photonic" in d for d in got["documents"])
    assert "9.9x" in engine.retrieve("photonic accelerator speedup", k=1)[0].text


def test_interrupted_update_is_finished_by_the_next_run(tiny_settings):
    engine = Engine(tiny_settings, notify=lambda m: None)
    engine.ingest([TINY])
    # simulate a crash after the new chunks of an update were written but before the old ones were deleted
    stale = Paper("2101.00001", "Photonic Tensor Cores for Sparse Matrix Multiplication", "An older version of the abstract. " * 3)
    engine.store.add(_embedded(engine, make_nodes(stale, "stalehash0000000", 128, 32)))
    report = engine.ingest([TINY])
    assert (report.updated, report.unchanged) == (1, 7)
    metas = engine.store.collection.get(where={"paper_id": "2101.00001"}, include=["metadatas"])["metadatas"]
    assert {m["content_hash"] for m in metas} != {"stalehash0000000"} and len({m["content_hash"] for m in metas}) == 1


def _embedded(engine, nodes):
    for node, vec in zip(nodes, engine.embedder.embed([n.get_content() for n in nodes])):
        node.embedding = vec.tolist()
    return nodes


def test_skips_are_reported_with_file_and_line_and_the_rest_goes_in(tiny_settings, tmp_path):
    f = tmp_path / "mixed.jsonl"
    good = json.dumps({"id": "g1", "title": "Good Paper", "abstract": "A perfectly fine abstract about graph neural networks and their training."})
    f.write_text(good + "\n{broken\n" + json.dumps({"title": "No abstract"}) + "\n" + good + "\n")
    report = Engine(tiny_settings, notify=lambda m: None).ingest([f])
    assert report.new == 1
    assert [(s.file, s.where) for s in report.skipped] == [("mixed.jsonl", "line 2"), ("mixed.jsonl", "line 3"), ("mixed.jsonl", "line 4")]
    assert "duplicate of paper id 'g1'" in report.skipped[2].reason
    assert "skipped mixed.jsonl, line 2: invalid JSON" in report.summary()


def test_a_file_with_no_valid_records_is_an_error_and_writes_nothing(tiny_settings, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"title": "only a title"}\nnot json\n')
    engine = Engine(tiny_settings, notify=lambda m: None)
    with pytest.raises(InputError, match="No abstracts found in bad.jsonl.*line 1: no abstract"):
        engine.ingest([f])
    assert engine.store.count() == 0


def test_all_files_are_checked_before_anything_is_written(tiny_settings, tmp_path):
    engine = Engine(tiny_settings, notify=lambda m: None)
    pdf = tmp_path / "paper.pdf"
    pdf.write_text("%PDF")
    with pytest.raises(InputError, match="Unknown file type .pdf"):
        engine.ingest([TINY, pdf])
    assert engine.store.count() == 0


def test_chunks_keep_the_title_and_stay_near_the_token_budget():
    abstract = " ".join(f"Sentence number {i} describes one more finding about sparse attention kernels." for i in range(30))
    paper = Paper("p", "Sparse Kernels", abstract, year=2024, categories=("cs.LG",))
    nodes = make_nodes(paper, "h" * 16, 64, 16)
    assert len(nodes) > 3
    from llama_index.core.schema import MetadataMode

    for i, node in enumerate(nodes):
        assert count_tokens(node.get_content()) <= 64
        assert node.get_content(metadata_mode=MetadataMode.EMBED).startswith("title: Sparse Kernels")
        assert node.metadata["chunk"] == i and node.metadata["paper_id"] == "p"
        assert ("abstract" in node.metadata) == (i == 0)
        assert node.get_content().rstrip().endswith(".")  # sentence-aligned
    assert [n.node_id for n in nodes] == [n.node_id for n in make_nodes(paper, "h" * 16, 64, 16)]


def test_a_broken_json_array_fails_before_any_file_is_written(tiny_settings, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"title": "A", "abstract": "x"}, ')
    engine = Engine(tiny_settings, notify=lambda m: None)
    with pytest.raises(InputError, match="bad.json is not valid JSON"):
        engine.ingest([TINY, bad])
    assert engine.store.count() == 0
