"""Time the incremental BM25 index on a synthetic corpus: full build, one chunk added, a new process.

    python tests/bm25_speed_probe.py 10000 100000
"""

from pathlib import Path
import sys, time, resource, random, tempfile
sys.path.insert(0, str(Path(__file__).parent))

from test_incremental_bm25 import FakeStore, chunk, ranked
from rag.retrieval import build_lexical

words = (Path(__file__).parents[1] / "eval" / "data" / "claims.jsonl").read_text().split()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
for n in map(int, sys.argv[1:]):
    rng = random.Random(n); store = FakeStore()
    for i in range(n):
        store.chunks[f"p{i:06d}#0"] = chunk(f"p{i:06d}#0", " ".join(rng.choices(words, k=120)), f"p{i:06d}")
    cache = Path(tempfile.mkdtemp())
    w, c = time.perf_counter(), cpu(); lex = build_lexical(store, cache, "k0"); full = (time.perf_counter() - w, cpu() - c)
    store.chunks["new#0"] = chunk("new#0", "quantum annealer protein folding " + " ".join(rng.choices(words, k=100)), "new")
    w, c = time.perf_counter(), cpu()
    lex2 = build_lexical(store, cache, "k1", previous=lex); hit = ranked(lex2, "quantum annealer protein folding", 10)[0][0]
    inc = (time.perf_counter() - w, cpu() - c)
    w, c = time.perf_counter(), cpu(); lex3 = build_lexical(store, cache, "k1"); ranked(lex3, "quantum annealer", 10); cold = (time.perf_counter() - w, cpu() - c)
    print(f"{n} chunks: full build {full[0]:.1f} s wall / {full[1]:.1f} s CPU; add 1 chunk + first query {inc[0]:.3f} s / {inc[1]:.3f} s CPU (top hit {hit}); new process (load main + delta + query) {cold[0]:.1f} s / {cold[1]:.1f} s CPU", flush=True)
