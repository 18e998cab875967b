"""Nothing lost, nothing exposed: one process per embedded index, writes the client accepts,
a BM25 index that always matches its store, and one clear line when the disk fails us."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY

from rag.engine import Engine, sample_corpus
from rag.errors import IndexDamagedError, IndexReadOnlyError, StorageError
from rag.query import Query
from rag.settings import Settings

HOLDER = """
import sys
from pathlib import Path
from rag.engine import Engine
from rag.settings import Settings
from rag.query import Query
engine = Engine(Settings(index_dir=Path(sys.argv[1]), sample_on_empty=False), notify=lambda m: None)
engine.ingest([Path(sys.argv[2])])
print("ready", flush=True)
for line in sys.stdin:
    print(engine.store.count(), engine.retrieve(Query("lattice signature public key size", k=1))[0].paper_id, flush=True)
"""


def env_for(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_INDEX_DIR"] = str(index_dir)
    env.update(extra)
    return env


def rag(*args: str, index_dir: Path, timeout: int = 300, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True,
                          env=env_for(index_dir, **extra), timeout=timeout)


def opened(index_dir: Path) -> Engine:
    """The index, opened in this process without waiting (a stale lock would fail at once)."""
    return Engine(Settings(index_dir=index_dir, sample_on_empty=False, lock_timeout=0), notify=lambda m: None)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- one process per embedded index ---------------------------------------------------------------


def test_a_second_process_is_refused_clearly_and_writes_nothing(tmp_path):
    index = tmp_path / "idx"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(index), str(TINY)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env_for(index))
    try:
        assert holder.stdout.readline().strip() == "ready"
        extra = write_jsonl(tmp_path / "extra.jsonl", [{"id": "new1", "title": "Quantum Annealing for Protein Folding",
                            "abstract": "We fold proteins on a quantum annealer with 5000 qubits and beat classical heuristics."}])
        proc = rag("ingest", str(extra), index_dir=index, RAG_LOCK_TIMEOUT="1")
        assert proc.returncode == 3, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last == (f"error: The index at {index} is in use by PID {holder.pid} (python -c): stop it, or use a "
                        "Chroma server with RAG_CHROMA_URL (waited 1 s; RAG_LOCK_TIMEOUT sets how long).")
        assert f"Waiting for the index at {index}: in use by PID {holder.pid} (python -c)" in proc.stderr
        # the holder still serves, with its index as it was
        holder.stdin.write("check\n")
        holder.stdin.flush()
        count, top = holder.stdout.readline().split()
        assert top == "2205.00003"
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9 leaves no stale lock: the OS drops an flock with its process
        holder.wait()
    with opened(index) as engine:
        assert engine.store.count() == int(count)
        assert engine.store.existing(["new1"]) == {}


@pytest.mark.slow
def test_two_ingests_at_once_leave_a_whole_index(tmp_path):
    index = tmp_path / "idx"
    n = 160
    files = []
    for version in ("first", "second"):
        rows = [{"id": f"p{i}", "title": f"Paper {i} on sparse kernels ({version} version)",
                 "abstract": f"This is the {version} version of paper {i}. We study sparse attention kernel number {i} "
                             f"on accelerators and measure a {i % 7 + 2}x speedup over dense kernels. "
                             "The method needs no retraining and keeps accuracy within one point."}
                for i in range(n)]
        files.append(write_jsonl(tmp_path / f"{version}.jsonl", rows))
    procs = [subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(f)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env_for(index, RAG_LOCK_TIMEOUT="300"))
             for f in files]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert sum("Waiting for the index" in err for _, err in outs) == 1  # the second waited for the first
    with opened(index) as engine:
        got = engine.store.collection.get(include=["embeddings", "metadatas"])
        papers = {m["paper_id"] for m in got["metadatas"]}
        assert papers == {f"p{i}" for i in range(n)}
        assert all(len({m["content_hash"] for m in got["metadatas"] if m["paper_id"] == p}) == 1 for p in papers)
        assert len(got["ids"]) == engine.store.count()
        assert all(e is not None and len(e) == 384 for e in got["embeddings"])
        assert engine.retrieve(Query("sparse attention kernel number 42", k=1))[0].paper_id == "p42"


def test_closing_the_engine_lets_another_process_in(tmp_path):
    index = tmp_path / "idx"
    with Engine(Settings(index_dir=index, sample_on_empty=False), notify=lambda m: None) as engine:
        engine.ingest([TINY])
    proc = rag("stats", index_dir=index, RAG_LOCK_TIMEOUT="0")
    assert proc.returncode == 0, proc.stderr
    assert "papers:      8" in proc.stdout


def test_a_bump_from_a_stale_view_still_changes_the_key(tiny_engine):
    from rag.store import Store

    first, second = tiny_engine.store, Store(tiny_engine.settings)
    try:
        before = first.collection_key()
        second.collection_key()  # the second writer read the generation...
        first.bump_generation()  # ...the first bumped it...
        after_first = first.collection_key()
        second.bump_generation()  # ...and the second bumps from what it read
        after_both = first.collection_key()
    finally:
        second.close()
    assert len({before, after_first, after_both}) == 3


# -- the BM25 index always matches the store ------------------------------------------------------------


def test_a_cache_that_lost_a_document_is_rebuilt(tiny_settings):
    with Engine(tiny_settings, notify=lambda m: None) as engine:
        engine.ingest([TINY])
        engine.lexical()
    cache = tiny_settings.index_dir / "bm25" / tiny_settings.collection
    (target,) = [p for p in cache.iterdir() if p.is_dir()]
    corpus = target / "corpus.jsonl"
    lines = corpus.read_text().splitlines(keepends=True)
    corpus.write_text("".join(lines[:-1]))  # what bm25s leaves when it skips a document it cannot save
    with Engine(tiny_settings, notify=lambda m: None) as engine:
        answer = engine.ask("What signing time does the lattice signature scheme reach?")
        assert not answer.abstained and answer.citations[0].paper_id == "2205.00003"
        assert len(corpus.read_text().splitlines()) == engine.store.count() == len(lines)


def test_metadata_bm25s_cannot_save_does_not_break_questions(tiny_engine):
    from rag.chunking import make_nodes
    from rag.types import Paper

    paper = Paper("huge-year", "Harpsichord Tuning by Reinforcement Learning",
                  "An agent learns to tune harpsichord strings by ear and matches expert tuners within two cents.", year=2024)
    nodes = make_nodes(paper, "f" * 16, 128, 32)
    for node, vec in zip(nodes, tiny_engine.embedder.embed([n.get_content() for n in nodes])):
        node.metadata["year"] = 10**30  # what a record with "year": 10**30 used to store
        node.embedding = vec.tolist()
    tiny_engine.store.add(nodes)
    tiny_engine.store.bump_generation()
    assert tiny_engine.ask("What signing time does the lattice signature scheme reach?").citations[0].paper_id == "2205.00003"
    assert tiny_engine.retrieve(Query("harpsichord tuning", k=1))[0].paper_id == "huge-year"
    assert tiny_engine.lexical().n_docs == tiny_engine.store.count()


def test_a_record_with_an_absurd_year_does_not_break_ask(tmp_path):
    index = tmp_path / "idx"
    rows = [json.loads(line) for line in TINY.read_text().splitlines()]
    rows.append({"id": "far-future", "title": "Graph Kernels from the Far Future", "year": 10**30,
                 "abstract": "We study graph kernels on sparse matrices and measure their speed on many accelerators."})
    data = write_jsonl(tmp_path / "years.jsonl", rows)
    proc = rag("ingest", str(data), index_dir=index)
    assert proc.returncode == 0, proc.stderr
    proc = rag("ask", "What signing time does the lattice signature scheme reach?", index_dir=index)
    assert proc.returncode == 0, proc.stderr
    assert "[1] A Lattice-Based Signature Scheme with Short Keys (2205.00003)" in proc.stdout


# -- writes the client accepts ------------------------------------------------------------------------------


def test_writes_are_split_at_the_clients_batch_size(tiny_settings, monkeypatch):
    from chromadb.api.client import Client
    from chromadb.api.models.Collection import Collection
    from chromadb.errors import InvalidArgumentError

    sizes: list[int] = []
    real_add = Collection.add

    def add(self, ids, *args, **kwargs):  # what Chroma does above its limit
        if len(ids) > 5:
            raise InvalidArgumentError(f"Batch size of {len(ids)} is greater than max batch size of 5")
        sizes.append(len(ids))
        return real_add(self, ids, *args, **kwargs)

    monkeypatch.setattr(Client, "get_max_batch_size", lambda self: 5)
    monkeypatch.setattr(Collection, "add", add)
    engine = Engine(tiny_settings.replace(chunk_tokens=32, chunk_overlap=0), notify=lambda m: None)
    report = engine.ingest([TINY])
    assert report.new == 8 and report.chunks_added == engine.store.count() > 5
    assert len(sizes) > 1 and max(sizes) <= 5 and sum(sizes) == report.chunks_added
    got = engine.store.collection.get(include=["metadatas"])
    assert len({m["paper_id"] for m in got["metadatas"]}) == 8


def test_a_papers_chunks_stay_in_one_batch():
    from types import SimpleNamespace

    from rag.store import paper_batches

    nodes = [SimpleNamespace(metadata={"paper_id": p}) for p in "aaabbcccc"]
    batches = [[n.metadata["paper_id"] for n in b] for b in paper_batches(nodes, 5)]
    assert batches == [list("aaabb"), list("cccc")]
    assert [len(b) for b in paper_batches(nodes, 2)] == [2, 1, 2, 2, 2]  # only a paper larger than a batch is split


def test_a_huge_abstract_is_indexed_by_its_first_chunks_with_a_note(tiny_settings, tmp_path):
    from rag.ingestion import MAX_CHUNKS_PER_PAPER

    sentences = " ".join(f"Finding {i} shows that sparse kernel {i} runs faster on accelerator {i % 9}." for i in range(400))
    data = write_jsonl(tmp_path / "huge.jsonl", [
        {"id": "huge", "title": "A Full Text Pasted as an Abstract", "abstract": sentences},
        {"id": "ok", "title": "A Normal Paper", "abstract": "We measure graph kernels on sparse matrices and report speedups."},
    ])
    engine = Engine(tiny_settings.replace(chunk_tokens=32, chunk_overlap=0), notify=lambda m: None)
    report = engine.ingest([data])
    assert report.new == 2
    chunks = engine.store.collection.get(where={"paper_id": "huge"}, include=[])["ids"]
    assert len(chunks) == MAX_CHUNKS_PER_PAPER
    assert "note: 'A Full Text Pasted as an Abstract' (huge) is" in report.summary()
    assert f"only its first {MAX_CHUNKS_PER_PAPER} are searchable" in report.summary()
    assert engine.ingest([data]).unchanged == 2  # the cut is stable: nothing to redo next time


# -- one clear line when storage fails ---------------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs ({proc.stderr.strip()}): a real full or read-only disk needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)


@pytest.mark.slow  # ingests the whole sample onto a small tmpfs
def test_a_full_disk_says_so_and_the_rerun_completes_the_index(tmpfs, sample_index):
    index = tmpfs / "idx"
    proc = rag("ingest", str(sample_corpus()), index_dir=index)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: No space left on the device holding {index}: free space and run the same command again; "
        "nothing already ingested is lost.")
    remount(tmpfs, "size=256m")
    proc = rag("ingest", str(sample_corpus()), index_dir=index)
    assert proc.returncode == 0, proc.stderr
    _, reference, _ = sample_index
    with opened(index) as engine:
        got = engine.store.collection.get(include=["embeddings"])
        assert set(got["ids"]) == set(reference.store.collection.get(include=[])["ids"])
        assert all(e is not None and len(e) == 384 for e in got["embeddings"])
        assert engine.stats().papers == 247


@pytest.mark.parametrize("what", ["the whole index dir", pytest.param("only the Chroma files", marks=pytest.mark.slow)])
def test_a_read_only_index_says_so_for_every_command(tmpfs, what):
    remount(tmpfs, "size=64m")
    index = tmpfs / "idx"
    assert rag("ingest", str(TINY), index_dir=index).returncode == 0
    if what == "the whole index dir":
        remount(tmpfs, "ro")
    else:  # the lock file stays writable: Chroma itself meets the read-only files
        chroma = index / "chroma"
        subprocess.run(["mount", "--bind", str(chroma), str(chroma)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(chroma)], check=True)
    try:
        for args in (["stats"], ["ask", "What signing time does the lattice signature scheme reach?"], ["ingest", str(TINY)]):
            proc = rag(*args, index_dir=index)
            assert proc.returncode == 2, (args, proc.stderr)
            assert proc.stderr.strip().splitlines()[-1] == (
                f"error: The index at {index} is read-only: make it writable, or point RAG_INDEX_DIR at a writable copy.")
    finally:
        if what != "the whole index dir":
            subprocess.run(["umount", "-l", str(index / "chroma")], capture_output=True)


def test_a_damaged_index_says_to_move_it_aside(tmp_path):
    index = tmp_path / "idx"
    with opened(index) as engine:
        engine.ingest([TINY])
    with open(index / "chroma" / "chroma.sqlite3", "r+b") as fh:
        fh.write(b"not a database! " * 256)
    for args in (["stats"], ["ask", "lattice signatures"]):
        proc = rag(*args, index_dir=index)
        assert proc.returncode == 2, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: The index at {index} is damaged (") and "file is not a database" in last
        assert last.endswith("): move it aside and re-ingest, e.g. `rag ingest FILE`.")


def test_an_unclear_chroma_failure_is_told_apart_by_the_disk(tmp_path, monkeypatch):
    from chromadb.errors import InternalError

    from rag import storage_errors
    from rag.storage_errors import storage_error

    exc = InternalError("Error in compaction: Failed to apply logs to the metadata segment")
    monkeypatch.setattr(storage_errors, "LOW_SPACE_BYTES", 0)
    monkeypatch.setattr(storage_errors, "PROBE_BYTES", 16)
    assert isinstance(storage_error(exc, "DIR", tmp_path), IndexDamagedError)
    monkeypatch.setattr(storage_errors, "LOW_SPACE_BYTES", 2**62)  # as if the disk were full
    err = storage_error(exc, "DIR", tmp_path)
    assert type(err) is StorageError and err.exit_code == 3
    ro = storage_error(InternalError("error returned from database: (code: 8) attempt to write a readonly database"), "DIR", None)
    assert isinstance(ro, IndexReadOnlyError) and ro.exit_code == 2
    assert storage_error(ValueError("a bad argument"), "DIR", tmp_path) is None
