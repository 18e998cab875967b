"""Measure `rag eval`'s time with the checker's per-text window cache against the per-source-set cache it replaced.

    RAG_INDEX_DIR=.scratch/index python tests/checker_speed_probe.py [LIMIT]

Runs the harness on eval/data/questions.jsonl (extractive backend, rules judge) twice in one process, on the
same engine: first with the old per-set cache, then with the new one; prints wall and CPU seconds, the
windows each embedded, and whether the two runs' scores are identical.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from eval import harness
from rag.engine import Engine
from rag.settings import Settings
from rag.support import SupportChecker
from rag.support.text import content_terms
from rag.support.windows import sentence_windows

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "data" / "questions.jsonl"


class PerSetWindows:
    """The checker before this change: windows embedded per *set* of sources, claims embedded per check."""

    def __init__(self, checker):
        self.checker, self.cache, self.embedded = checker, {}, 0

    def __call__(self, texts):
        key = hashlib.sha1("\x00".join(texts).encode()).hexdigest()
        if key not in self.cache:
            windows = [w for t in texts for w in sentence_windows(t)]
            self.embedded += len(windows)
            self.cache[key] = (windows, self.checker.embedder.embed(windows), [content_terms(w) for w in windows],
                               content_terms(" ".join(texts)))
        return self.cache[key]

    def claim_vector(self, claim):
        return self.checker.embedder.embed([claim])[0]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
    out = Path(tempfile.mkdtemp(prefix="checker-speed-"))
    results = {}
    with Engine(Settings(), notify=lambda m: None) as engine:
        harness.run_eval(QUESTIONS, out / "warm", engine, judge="rules", limit=2)  # index, model and BM25 loaded
        for name in ("per-set (before)", "per-text (after)"):
            checker = SupportChecker(embedder=engine.embedder)
            if name.startswith("per-set"):
                checker._windows_of = PerSetWindows(checker)  # type: ignore[assignment]
            harness.make_judge = lambda kind, engine, checker=checker: checker  # type: ignore[assignment]
            w0, c0 = time.perf_counter(), cpu()
            harness.run_eval(QUESTIONS, out / name[:7], engine, judge="rules", limit=limit)
            wall, cpus = time.perf_counter() - w0, cpu() - c0
            rows = [json.loads(x) for x in (out / name[:7] / "results.jsonl").read_text().splitlines()]
            checks = sum(r.get("timings", {}).get("check_s", 0.0) for r in rows)
            scores = [(r["id"], r.get("metrics"), r.get("verdicts")) for r in rows]
            results[name] = scores
            print(f"{name}: {len(rows)} questions, wall {wall:.1f} s, CPU {cpus:.1f} s, checking {checks:.1f} s, "
                  f"windows embedded {checker._windows_of.embedded}")
    a, b = results.values()
    print("scores identical:", a == b)


if __name__ == "__main__":
    main()
