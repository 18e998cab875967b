"""Time to first token and tokens/s of the local backend on this machine.

    RAG_INDEX_DIR=.scratch/index python scripts/bench_local.py [MODEL] [N_QUESTIONS]

MODEL: anything RAG_LOCAL_MODEL accepts (default: the settings'). Each question is retrieved
first (5 sources, as `rag ask` does), then answered through the local backend with streaming.
Prints wall figures and the CPU seconds the llama.cpp server used (from /proc), since wall
time on a shared machine is noisy.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from rag.engine import Engine
from rag.query import Query
from rag.settings import Settings

QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "data" / "questions.jsonl"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    overrides = {"local_model": sys.argv[1]} if len(sys.argv) > 1 else {}
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    engine = Engine(Settings.load(backend="local", **overrides), notify=lambda m: print(m, file=sys.stderr))
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()[:n]]
    t0 = time.perf_counter()
    answerer = engine.local_llm()
    load_s = time.perf_counter() - t0
    assert engine._local_server is not None and engine._local_server._proc is not None
    pid = engine._local_server._proc.pid
    rows = []
    for q in questions:
        evidence = engine.evidence(Query(q, backend="local"))
        cpu0, start = cpu_seconds(pid), time.perf_counter()
        first = None
        draft = None
        for item in answerer.stream(Query(q, backend="local"), list(evidence.sources)):
            if isinstance(item, str):
                first = first or time.perf_counter()
            else:
                draft = item
        end = time.perf_counter()
        usage = draft.usage if draft else {}
        gen = usage.get("completion_tokens", 0)
        rows.append({"ttft_s": round((first or end) - start, 2), "tokens": gen,
                     "prompt_tokens": usage.get("prompt_tokens", 0),
                     "tok_per_s": round(gen / max(end - (first or end), 1e-9), 2),
                     "wall_s": round(end - start, 2), "cpu_s": round(cpu_seconds(pid) - cpu0, 2)})
        print(json.dumps(rows[-1]), file=sys.stderr)
    engine.close()
    mid = lambda key: sorted(r[key] for r in rows)[len(rows) // 2]  # noqa: E731
    print(json.dumps({"model": answerer.name, "load_s": round(load_s, 1), "questions": len(rows),
                      "median_ttft_s": mid("ttft_s"), "median_tok_per_s": mid("tok_per_s"),
                      "median_prompt_tokens": mid("prompt_tokens"), "cpu_s_total": round(sum(r["cpu_s"] for r in rows), 1),
                      "wall_s_total": round(sum(r["wall_s"] for r in rows), 1), "threads": engine.settings.local_threads}))


if __name__ == "__main__":
    main()
