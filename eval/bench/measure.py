"""Run one collection size through the engine and the baselines; return its figures as plain data.

Every phase records wall time and this process's CPU time (user + system, Chroma's and
onnxruntime's threads included), and the peak RSS so far (``ru_maxrss``, which only grows, so the
value after a phase is the peak up to its end). Cold `rag ask` runs as a child process, timed with
its CPU time (``RUSAGE_CHILDREN``) beside `rag --help` as the process-start floor.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from .corpus import BenchQuery, generate

Notify = Callable[[str], None]


@dataclass
class Clock:
    """Wall and CPU seconds of one phase."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0  #: the process's peak RSS at the end of the phase

    def to_dict(self) -> dict[str, float]:
        return {"wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 3), "peak_rss_mb": round(self.peak_rss_mb, 1)}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def maxrss_mb(raw: float) -> float:
    """``ru_maxrss`` in MB: Linux reports it in KiB, macOS in bytes."""
    return raw / (1 << 20) if sys.platform == "darwin" else raw / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB."""
    return maxrss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


@contextmanager
def clock() -> Iterator[Clock]:
    c = Clock()
    w0, c0 = time.perf_counter(), _cpu()
    try:
        yield c
    finally:
        c.wall_s, c.cpu_s, c.peak_rss_mb = time.perf_counter() - w0, _cpu() - c0, peak_rss_mb()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered) - 1e-9) - 1))]


@dataclass
class Latency:
    """Per-query latencies and hits of one retriever over the query set."""

    seconds: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"p50_ms": round(percentile(self.seconds, 0.5) * 1000, 2), "p95_ms": round(percentile(self.seconds, 0.95) * 1000, 2),
                "hit@5": round(sum(self.hits) / len(self.hits), 4) if self.hits else None, "n": len(self.seconds)}


def timed_queries(queries: list[BenchQuery], top5: Callable[[str], list[str]]) -> Latency:
    out = Latency()
    for q in queries:
        t0 = time.perf_counter()
        found = top5(q.question)
        out.seconds.append(time.perf_counter() - t0)
        out.hits.append(q.target in found)
    return out


def dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total / 1e6


#: What a ``reuse`` run takes from the earlier run instead of measuring again (it does not ingest).
INGEST_FIGURES = ("generate", "startup", "ingest", "reingest", "ceiling")
RESULT_FILE = "result.json"  #: each size's figures, kept beside its index (``rag bench --out``)


def run_size(n: int, n_queries: int, directory: Path, seed: int = 0, notify: Notify = print, cold: bool = True,
             ceiling_chunks: int = 3000, reuse: bool = False) -> dict[str, Any]:
    """Generate ``n`` papers into ``directory``, index them in ``directory/index`` and measure everything.

    ``reuse``: the index is there already, from an earlier run with the same arguments (its figures in
    ``directory/result.json``): keep the earlier run's ingest figures and measure everything else again. The
    extra paper that run added is taken out first, so the queries search ``n`` papers and adding it is measured
    as before."""
    from rag.engine import Engine
    from rag.query import Query
    from rag.settings import Settings

    from .baselines import Bm25Only, BruteForceRRF, Chunks, LlamaIndexDense, Retriever

    say = lambda msg: notify(f"[bench {n}] {msg}")  # noqa: E731
    result: dict[str, Any] = {"papers": n, "queries": n_queries, "seed": seed}
    if reuse:
        earlier = _earlier(directory, result)
        result.update({key: earlier[key] for key in INGEST_FIGURES}, reused=True)
        collection = generate(n, n_queries, seed)  # the same queries: everything depends on the seed alone
        _, extra_file = collection.files(directory / "data")  # written by the earlier run
    else:
        with clock() as c:
            collection = generate(n, n_queries, seed)
            papers_file, extra_file = collection.write(directory / "data")
        result["generate"] = c.to_dict()
    index_dir = directory / "index"
    settings = Settings(index_dir=index_dir, backend="extractive", sample_on_empty=False, lock_timeout=60)
    engine = Engine(settings, notify=say)
    try:
        say("opening the index and loading the embedding model")
        with clock() as c:
            engine.store.count()
            engine.embedder.embed(["warm up"])
        if not reuse:
            result["startup"] = c.to_dict()  # kept out of the ingest figures, which then compare with the ceiling's
            chunks = _ingest(engine, papers_file, result, say, seed, ceiling_chunks)
        else:
            say("taking out the paper the earlier run added, to add it again")
            _remove_paper(engine, collection.extra.paper_id)
            say("reading the chunks back")
            chunks = Chunks.read(collection_of(engine), vectors=True)

        say(f"warm queries: {len(collection.queries)} retrieve, then ask (extractive)")
        queries = collection.queries
        with clock() as c:
            engine.ask(queries[0].question)  # loads the BM25 index, warms every part
        result["first_ask"] = c.to_dict()
        with clock() as c:
            retrieve = timed_queries(queries, lambda q: [s.paper_id for s in engine.retrieve(Query(q, k=5))])
        result["retrieve"] = dict(retrieve.to_dict(), **c.to_dict())
        with clock() as c:
            ask = timed_queries(queries, lambda q: [s.paper_id for s in engine.ask(Query(q, k=5)).sources])
        result["ask"] = dict(ask.to_dict(), **c.to_dict())
        result["rss_after_queries_mb"] = round(peak_rss_mb(), 1)

        say("adding one paper, then asking about it")
        with clock() as c:
            added = engine.ingest([extra_file])
        result["add_one"] = dict(c.to_dict(), new=added.new)
        with clock() as c:
            answer = engine.ask(Query(collection.extra_query.question, k=5))
        result["ask_after_add"] = dict(c.to_dict(), hit=collection.extra.paper_id in [s.paper_id for s in answer.sources])

        say("baselines: llama-index VectorStoreIndex, bm25s alone, numpy cosine + bm25s + RRF")
        baselines: dict[str, Any] = {}
        with clock() as c:
            li = LlamaIndexDense(collection_of(engine), engine.embedder)
        with clock() as c_bm25:
            bm25 = Bm25Only(chunks)
        with clock() as c_np:
            floor = BruteForceRRF(chunks, engine.embedder, bm25)
        runs: list[tuple[str, Retriever, Clock]] = [("llama_index", li, c), ("bm25s", bm25, c_bm25), ("numpy_rrf", floor, c_np)]
        for key, retriever, build in runs:
            retriever.papers(queries[0].question, 5)  # warm
            lat = timed_queries(queries, partial(_top5, retriever))
            baselines[key] = dict(lat.to_dict(), name=retriever.name, build_s=round(build.wall_s, 3))
        result["baselines"] = baselines
        result["rss_after_baselines_mb"] = round(peak_rss_mb(), 1)
        del chunks, li, bm25, floor
    finally:
        engine.close()
    result["index_mb"] = round(dir_size_mb(index_dir), 1)
    result["data_mb"] = round(dir_size_mb(directory / "data"), 1)
    if cold:
        say("cold `rag ask` as a process (and `rag --help`, the process-start floor)")
        result["cold"] = cold_ask(index_dir, queries[1 % len(queries)].question)
    (directory / RESULT_FILE).write_text(json.dumps(result, indent=2) + "\n")
    return result


def _remove_paper(engine, paper_id: str) -> None:
    """Delete ``paper_id``'s chunks from the index, as an update deletes a paper's old chunks (the BM25 index
    then counts them as removed)."""
    chunk_ids = [cid for ids in engine.store.existing([paper_id]).get(paper_id, {}).values() for cid in ids]
    if chunk_ids:
        engine.store.delete(chunk_ids)
        engine.store.bump_generation()


def _earlier(directory: Path, now: dict[str, Any]) -> dict[str, Any]:
    """The figures of the earlier run whose index ``reuse`` measures again; it must match ``now``'s arguments."""
    from rag.errors import InputError

    path = directory / RESULT_FILE
    if not (directory / "index").is_dir() or not path.is_file():
        raise InputError(f"--reuse needs {directory / 'index'} and {path} from an earlier `rag bench --out` run: "
                         "run it without --reuse first.")
    earlier = json.loads(path.read_text())
    if any(earlier.get(key) != now[key] for key in ("papers", "queries", "seed")) or not all(k in earlier for k in INGEST_FIGURES):
        raise InputError(f"{path} was made with other arguments (papers, queries, seed): run without --reuse into an empty folder.")
    return earlier


def _ingest(engine: Any, papers_file: Path, result: dict[str, Any], say: Notify, seed: int, ceiling_chunks: int) -> Any:
    """Ingest the collection, re-ingest it unchanged, and measure the embedding ceiling on its chunks; return them."""
    from .baselines import Chunks

    n = result["papers"]
    say(f"ingesting {n} papers into {engine.settings.index_dir}")
    with clock() as c:
        report = engine.ingest([papers_file])
    chunks_n = report.chunks_added
    result["ingest"] = dict(c.to_dict(), papers=report.new, chunks=chunks_n)
    say(f"ingested {report.new} papers, {chunks_n} chunks in {c.wall_s:.1f} s; re-ingesting unchanged")
    with clock() as c:
        again = engine.ingest([papers_file])
    result["reingest"] = dict(c.to_dict(), unchanged=again.unchanged)

    say("reading the chunks back; measuring the embedding ceiling")
    chunks = Chunks.read(collection_of(engine), vectors=True)
    sample = chunks.texts if len(chunks.texts) <= ceiling_chunks else random.Random(seed).sample(chunks.texts, ceiling_chunks)
    engine.embedder.embed(sample[:8])  # the model is loaded already; this only warms the session
    with clock() as c:
        engine.embedder.embed(sample)
    result["ceiling"] = dict(c.to_dict(), chunks=len(sample), chunks_per_paper=len(chunks.ids) / max(1, n))
    return chunks


def collection_of(engine: Any) -> Any:
    """The Chroma collection behind the engine's llama-index vector store (``ChromaVectorStore.client``)."""
    return engine.store.vector_store.client


def _top5(retriever: Any, question: str) -> list[str]:
    return retriever.papers(question, 5)


#: Runs one command and prints its wall, CPU and peak RSS. The bench itself is large, and a child forked
#: from it reports the bench's RSS as its own peak; forked from this small process, the figure is the command's.
_MEASURED_CHILD = """
import json, resource, subprocess, sys, time
w0 = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - w0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "maxrss": usage.ru_maxrss, "stderr": done.stderr.decode(errors="replace")[-300:]}))
"""


def cold_ask(index_dir: Path, question: str, runs: int = 2) -> dict[str, float]:
    """Best of ``runs`` wall (and its CPU and peak RSS) for `rag ask QUESTION` and for `rag --help`, as fresh processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_INDEX_DIR=str(index_dir), RAG_BACKEND="extractive")

    def once(cmd: list[str]) -> tuple[float, float, float]:
        done = subprocess.run([sys.executable, "-c", _MEASURED_CHILD, *cmd], env=env, capture_output=True, text=True)
        try:
            child = json.loads(done.stdout)
        except ValueError:
            child = {"rc": done.returncode, "stderr": done.stderr[-300:]}
        if child["rc"] != 0:
            from rag.errors import RagError

            raise RagError(f"`{' '.join(cmd[2:4])}` on the bench index failed (exit {child['rc']}): "
                           f"{child['stderr'].strip()}. Run `rag bench --no-cold` to skip the cold ask.")
        return child["wall"], child["cpu"], maxrss_mb(child["maxrss"])

    def best(cmd: list[str]) -> tuple[float, float, float]:
        return min(once(cmd) for _ in range(runs))

    ask_wall, ask_cpu, ask_rss = best([sys.executable, "-m", "rag", "ask", question])
    help_wall, help_cpu, _ = best([sys.executable, "-m", "rag", "--help"])
    return {"ask_wall_s": round(ask_wall, 3), "ask_cpu_s": round(ask_cpu, 3), "ask_peak_rss_mb": round(ask_rss, 1),
            "help_wall_s": round(help_wall, 3), "help_cpu_s": round(help_cpu, 3)}
