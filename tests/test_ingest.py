"""Ingest into a real embedded Chroma store in a temp dir."""

import json

import pytest
from conftest import TINY

from rag.chunking import cl100k, make_nodes
from rag.engine import Engine
from rag.errors import InputError
from rag.query import Query
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
    assert "9.9x" in engine.retrieve(Query("photonic accelerator speedup", k=1))[0].text


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
        assert len(cl100k().encode(node.get_content(), disallowed_special=())) <= 64
        assert node.get_content(metadata_mode=MetadataMode.EMBED).startswith("title: Sparse Kernels")
        assert node.metadata["chunk"] == i and node.metadata["paper_id"] == "p"
        assert ("abstract" in node.metadata) == (i == 0)
        assert node.get_content().rstrip().endswith(".")  # sentence-aligned
    assert [n.node_id for n in nodes] == [n.node_id for n in make_nodes(paper, "h" * 16, 64, 16)]


def test_a_json_array_broken_part_way_keeps_the_records_before_the_break(tiny_settings, tmp_path):
    bad = tmp_path / "bad.json"
    good = [json.dumps({"id": f"a{i}", "title": f"Array paper {i}", "abstract": f"Abstract {i} about sparse kernels, long enough to keep."})
            for i in range(70)]  # more than one batch
    bad.write_text("[" + ",\n".join(good) + ',\n{"title": "A", "abstract": "x"} "oops"]')
    engine = Engine(tiny_settings, notify=lambda m: None)
    with pytest.raises(InputError, match=r"bad.json is not valid JSON at record 71 \(line 71\).* Before that, 78 new and 0 updated"):
        engine.ingest([TINY, bad])
    assert len(engine.store.existing([f"a{i}" for i in range(70)])) == 70


def test_an_implausible_year_is_skipped_and_questions_still_work(tiny_settings, tmp_path):
    f = tmp_path / "years.jsonl"
    f.write_text(json.dumps({"id": "y1", "title": "Far Future", "abstract": "A paper from a year no calendar reaches, about sparse attention.",
                             "year": 10**30}) + "\n")
    engine = Engine(tiny_settings, notify=lambda m: None)
    report = engine.ingest([TINY, f])
    assert report.new == 8 and [(s.where, s.reason) for s in report.skipped] == [("line 1", "year 1000000000000000000000000000000 is outside 1000-2100")]
    assert engine.retrieve(Query("sparse attention", k=3))


def test_papers_without_ids_in_any_script_are_all_kept(tiny_settings, tmp_path):
    f = tmp_path / "scripts.jsonl"
    titles = ["注意力就是你所需要的一切", "深度残差学习", "Η προσοχή είναι το μόνο που χρειάζεστε", "Attention!", "Attention?"]
    f.write_text("".join(json.dumps({"title": t, "abstract": f"An abstract for {t}, long enough to be kept as one."}) + "\n" for t in titles))
    report = Engine(tiny_settings, notify=lambda m: None).ingest([f])
    assert (report.new, report.skipped_count) == (5, 0)


def test_reingesting_a_file_indexed_under_legacy_slug_ids_updates_it(tiny_settings, tmp_path):
    """Indexes built before ids were derived hold papers under their bare slug: they are replaced, not doubled."""
    from rag.readers import read_papers, slugify

    f = tmp_path / "old.jsonl"
    rows = [{"title": "Sparse Kernels for Attention!", "abstract": "We write sparse attention kernels that run twice as fast on GPUs."},
            {"title": "Quantised Adapters", "abstract": "Low-rank adapters trained in four bits match sixteen-bit fine-tuning."}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    engine = Engine(tiny_settings, notify=lambda m: None)
    for _, paper in read_papers(f):  # what an earlier version wrote
        old = Paper(slugify(paper.title), paper.title, paper.abstract)
        engine.store.add(_embedded(engine, make_nodes(old, old.content_hash("old"), 128, 32)))
    report = engine.ingest([f])
    assert (report.new, report.updated) == (0, 2)
    stored = {m["paper_id"] for m in engine.store.collection.get(include=["metadatas"])["metadatas"]}
    assert stored == {p.paper_id for _, p in read_papers(f)} and not stored & {"sparse-kernels-for-attention", "quantised-adapters"}


def test_a_legacy_paper_with_the_same_slug_but_another_title_is_left_alone(tiny_settings, tmp_path):
    engine = Engine(tiny_settings, notify=lambda m: None)
    other = Paper("attention", "Attention?", "A different paper entirely, about sparse attention kernels on TPUs.")
    engine.store.add(_embedded(engine, make_nodes(other, other.content_hash("old"), 128, 32)))
    f = tmp_path / "new.jsonl"
    f.write_text(json.dumps({"title": "Attention!", "abstract": "Attention is what we study here, with kernels for GPUs."}) + "\n")
    report = engine.ingest([f])
    assert (report.new, report.updated) == (1, 0)
    assert engine.store.existing(["attention"])  # still there: its title differs
