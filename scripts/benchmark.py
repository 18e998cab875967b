"""Speed and memory figures, printed (not asserted): run with .venv/bin/python scripts/benchmark.py

Measures, on this machine, in one run so the figures compare as ratios:
  * `import rag` and `rag --help` wall time (must stay well under a second: no heavy imports)
  * ingesting the bundled sample into a fresh index (papers per second)
  * `rag ask` end to end from the shell on that index (process start included)
  * in-process retrieve and ask latency over the eval questions (p50/p95)
  * peak resident memory of the in-process run
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
        env["RAG_INDEX_DIR"] = tmp
        print(f"import rag            {timed([py, '-c', 'import rag'], env):.2f} s")
        print(f"rag --help            {timed([py, '-m', 'rag', '--help'], env):.2f} s")

        from rag.engine import Engine, sample_corpus
        from rag.query import Query
        from rag.settings import Settings

        engine = Engine(Settings(index_dir=Path(tmp)), notify=lambda m: None)
        t0 = time.perf_counter()
        report = engine.ingest([sample_corpus()])
        took = time.perf_counter() - t0
        print(f"ingest sample         {took:.1f} s for {report.new} papers, {report.chunks_added} chunks "
              f"({report.new / took:.1f} papers/s)")
        t0 = time.perf_counter()
        again = engine.ingest([sample_corpus()])
        print(f"re-ingest (no change) {time.perf_counter() - t0:.1f} s ({again.unchanged} unchanged)")

        question = "How can the KV cache of an LLM be compressed?"
        print(f"rag ask (shell)       {timed([py, '-m', 'rag', 'ask', question], env):.2f} s end to end")

        questions = [json.loads(line)["question"] for line in (ROOT / "eval/data/questions.jsonl").read_text().splitlines()]
        engine.ask(questions[0])  # warm: models loaded, BM25 built
        retrieve_s, ask_s = [], []
        for q in questions:
            t0 = time.perf_counter()
            engine.retrieve(Query(q, k=5))
            retrieve_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.ask(q)
            ask_s.append(time.perf_counter() - t0)
        print(f"retrieve (in-process) p50 {statistics.median(retrieve_s) * 1000:.0f} ms, p95 {pct(retrieve_s, 0.95) * 1000:.0f} ms "
              f"over {len(questions)} questions")
        print(f"ask, extractive       p50 {statistics.median(ask_s) * 1000:.0f} ms, p95 {pct(ask_s, 0.95) * 1000:.0f} ms")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory           {peak_mb:.0f} MB (this process)")


if __name__ == "__main__":
    main()
