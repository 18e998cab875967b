"""Ingest pipeline and query path (issue 12): what batching, caching and workers must not change."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY
from llama_index.core.schema import MetadataMode

from rag import ingestion
from rag.chunking import index_salt, make_nodes
from rag.embedding import MODEL_ID, choose_providers
from rag.engine import Engine
from rag.errors import ConfigError
from rag.minilm import OnnxEncoder, choose_runtime
from rag.readers import read_papers
from rag.settings import Settings
from test_chroma_server import chroma_server  # noqa: F401  (the `chroma run` fixture)


def test_bulk_batching_stores_each_chunk_with_its_own_vector_and_id(tiny_settings, monkeypatch):
    """Chunks are embedded many papers at a time, sorted by length: each must still get its own vector."""
    monkeypatch.setattr(ingestion, "BATCH_PAPERS", 3)  # several prepared batches, written together
    engine = Engine(tiny_settings, notify=lambda m: None)
    engine.ingest([TINY])
    got = engine.store.collection.get(include=["embeddings", "metadatas", "documents"])
    stored = {cid: (meta, np.asarray(vec)) for cid, meta, vec in zip(got["ids"], got["metadatas"], got["embeddings"])}
    salt = index_salt(tiny_settings.chunk_tokens, tiny_settings.chunk_overlap, MODEL_ID)
    expected = []
    for _, paper in read_papers(TINY):
        expected += make_nodes(paper, paper.content_hash(salt), tiny_settings.chunk_tokens, tiny_settings.chunk_overlap)
    assert sorted(stored) == sorted(n.node_id for n in expected)
    for node in expected:
        meta, vec = stored[node.node_id]
        assert meta["chunk"] == int(node.node_id.rsplit("#", 1)[1])
        alone = engine.embedder.embed([node.get_content(metadata_mode=MetadataMode.EMBED)])[0]
        assert float(vec @ alone) > 0.9999, node.node_id


def _question_runs(monkeypatch, question):
    """How many times the model itself is run on ``question``."""
    runs = []
    original = OnnxEncoder.encode

    def counting(self, texts):
        runs.extend(t for t in texts if t == question)
        return original(self, texts)

    monkeypatch.setattr(OnnxEncoder, "encode", counting)
    return runs


def test_the_question_is_embedded_once_per_ask(tiny_engine, monkeypatch):
    question = "How many hydrophones were deployed on the reefs?"
    runs = _question_runs(monkeypatch, question)
    answer = tiny_engine.ask(question)
    assert answer.citations, answer.text  # the extractive answerer used the vector too
    assert len(runs) == 1


class _Counting:
    """A pass-through proxy that counts calls to some of its object's methods."""

    def __init__(self, inner, counts, names, wrap=()):
        self._inner, self._counts, self._names, self._wrap = inner, counts, names, wrap

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name not in self._names:
            return attr

        def call(*args, **kwargs):
            self._counts[name] = self._counts.get(name, 0) + 1
            out = attr(*args, **kwargs)
            return _Counting(out, self._counts, self._names) if name in self._wrap else out

        return call


def test_a_warm_ask_makes_at_most_one_readiness_round_trip(tiny_engine):
    tiny_engine.ask("What do coral reefs sound like?")  # cold: counts, BM25 load
    store = tiny_engine.store
    counts: dict[str, int] = {}
    names = {"get_collection", "count", "heartbeat", "list_collections"}
    store.client = _Counting(store.client, counts, names, wrap={"get_collection"})
    store.collection = _Counting(store.collection, counts, names)
    tiny_engine.ask("How many hydrophones were deployed on the reefs?")
    assert sum(counts.values()) <= 1, counts


def test_provider_selection_falls_back_to_the_cpu_with_a_note():
    assert choose_providers("auto", ["CPUExecutionProvider"]) == (["CPUExecutionProvider"], None)
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == (["CPUExecutionProvider"], None)
    assert choose_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0][0] == "CUDAExecutionProvider"
    providers, note = choose_providers("cuda", ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert providers == ["CPUExecutionProvider"] and "onnxruntime-gpu" in note


def test_torch_embeds_only_on_a_gpu_that_onnxruntime_cannot_use():
    cpu_only, with_cuda = ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]
    asked: list[str] = []

    def gpu_ok() -> None:
        asked.append("probe")

    assert choose_runtime("cpu", cpu_only, gpu_ok) == ("onnxruntime", None) and not asked  # torch is never imported
    assert choose_runtime("auto", with_cuda, gpu_ok) == ("onnxruntime", None) and not asked
    assert choose_runtime("cuda", cpu_only, gpu_ok) == ("torch", None)
    assert choose_runtime("auto", cpu_only, gpu_ok) == ("torch", None)
    assert choose_runtime("cuda", cpu_only, lambda: "torch sees no CUDA device") == ("onnxruntime", "torch sees no CUDA device")
    with pytest.raises(ConfigError, match="RAG_EMBED_DEVICE"):
        choose_runtime("tpu", cpu_only, gpu_ok)  # type: ignore[arg-type]


def test_a_gpu_that_torch_cannot_load_the_model_on_falls_back_to_the_cpu_with_the_reason(monkeypatch):
    import rag.minilm as minilm

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(minilm, "torch_gpu", lambda: None)
    monkeypatch.setattr(minilm, "TorchEncoder", broken)
    encoder = minilm.load_encoder.__wrapped__("cuda")
    assert encoder.runtime == "onnxruntime" and encoder.providers == ["CPUExecutionProvider"]
    assert "CUDA driver version is insufficient" in encoder.note and "on the CPU" in encoder.note
    assert encoder.encode(["sparse attention"]).shape == (1, 384)


def test_without_torch_the_reason_is_in_the_note(monkeypatch):
    import rag.minilm as minilm

    monkeypatch.setattr(minilm, "torch_gpu", lambda: "torch sees no CUDA device")
    encoder = minilm.load_encoder.__wrapped__("cuda")
    if "CUDAExecutionProvider" in encoder.providers:
        pytest.skip("this onnxruntime has CUDA")
    assert encoder.note.endswith("Torch was not used: torch sees no CUDA device.")


def test_an_engine_asked_for_cuda_without_it_embeds_on_the_cpu_and_says_so(tiny_settings):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    notes: list[str] = []
    engine = Engine(tiny_settings.replace(embed_device="cuda"), notify=notes.append)
    vec = engine.embedder.embed(["sparse attention kernels"])
    assert engine.embedder.providers == ["CPUExecutionProvider"]
    assert abs(float(np.linalg.norm(vec[0])) - 1.0) < 1e-5
    assert any("no CUDA provider" in n for n in notes)


def test_workers_with_the_embedded_store_are_refused_with_what_to_do(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "ingest", "--index-dir", str(tmp_path / "idx"), "--workers", "2", str(TINY)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "needs a Chroma server" in proc.stderr and "RAG_CHROMA_URL" in proc.stderr
    assert not (tmp_path / "idx" / "chroma").exists()  # refused before anything was opened


def test_a_shard_takes_every_nth_distinct_record(tiny_settings, tmp_path):
    rows = [json.loads(line) for line in TINY.read_text().splitlines()]
    engine = Engine(tiny_settings, notify=lambda m: None)
    counts = [ingestion.ingest_files([TINY], engine.store, engine.embedder, 128, 32, shard=(k, 3)).new for k in range(3)]
    assert counts == [3, 3, 2] and sum(counts) == len(rows)


@pytest.mark.slow
def test_two_workers_into_a_chroma_server_match_one_worker(chroma_server, tmp_path):
    rows = [json.loads(line) for line in TINY.read_text().splitlines()]
    many = tmp_path / "many.jsonl"
    with many.open("w") as fh:
        for copy in range(3):
            for r in rows:
                fh.write(json.dumps(dict(r, id=f"{r['id']}v{copy}", title=f"{r['title']} ({copy})")) + "\n")
    results = {}
    for workers in (1, 2):
        settings = Settings(index_dir=tmp_path / f"cache{workers}", chroma_url=chroma_server,
                            collection=f"workers-{workers}", sample_on_empty=False)
        engine = Engine(settings, notify=lambda m: None)
        report = engine.ingest([many], workers=workers)
        assert (report.new, report.chunks_added > 0) == (24, True)
        again = engine.ingest([many], workers=workers)
        assert (again.new, again.unchanged) == (0, 24)
        hits = [s.paper_id for s in engine.retrieve("How many hydrophones were deployed on the reefs?")]
        results[workers] = (engine.stats().papers, engine.store.count(), hits)
    assert results[1] == results[2]
