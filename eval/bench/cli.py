"""`rag bench`: registered by :func:`eval.commands.register`; imports nothing heavy until it runs."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure ingest, retrieval, answering, memory and hit@5 on synthetic collections, beside baselines",
        description="Generate collections of N abstracts (seeded, from the sample's real sentences) with queries whose "
        "target paper is known; ingest each into its own index; print one Markdown table of speed, memory and hit@5, "
        "with llama-index, bm25s and a numpy + bm25s + RRF floor measured side by side. Progress goes to stderr.",
    )
    p.add_argument("--sizes", default="1000,10000", help="collection sizes, comma-separated (default: 1000,10000)")
    p.add_argument("--queries", type=int, default=50, help="known-target queries per collection (default: 50)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    p.add_argument("--out", type=Path, help="keep the collections and indexes here, one folder per size "
                   "(default: a temporary folder, removed afterwards)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON to FILE")
    p.add_argument("--reuse", action="store_true",
                   help="with --out: where a size's index is there from an earlier run, measure its queries, memory, "
                   "baselines and cold ask again, and keep that run's ingest figures (no ingest)")
    p.add_argument("--no-cold", dest="cold", action="store_false", help="skip the cold `rag ask` process")
    p.add_argument("--ceiling-chunks", type=int, default=3000,
                   help="chunks (a seeded sample) the embedding-ceiling measurement embeds (default: 3000)")
    p.set_defaults(func=cmd_bench)


def parse_sizes(text: str) -> list[int]:
    from rag.errors import InputError

    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 2:
        raise InputError(f"--sizes {text!r}: give collection sizes of at least 2 papers, comma-separated, e.g. 1000,10000.")
    return sizes


def machine() -> dict[str, Any]:
    import onnxruntime

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "onnxruntime": onnxruntime.__version__}


def cmd_bench(args: argparse.Namespace) -> int:
    from rag.errors import InputError

    from .measure import run_size
    from .table import markdown

    sizes = parse_sizes(args.sizes)
    if args.queries < 1:
        raise InputError("--queries must be at least 1.")
    if args.reuse and args.out is None:
        raise InputError("--reuse measures indexes kept by an earlier run: give their folder with --out.")
    notify = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    root = args.out or Path(tempfile.mkdtemp(prefix="rag-bench-"))
    results = []
    try:
        for n in sizes:
            directory = root / f"n{n}"
            if (directory / "index").exists() and not args.reuse:
                raise InputError(f"{directory / 'index'} exists: give --out an empty folder, remove it, "
                                 "or add --reuse to measure it again without ingesting.")
            results.append(run_size(n, min(args.queries, n), directory, args.seed, notify, args.cold, args.ceiling_chunks,
                                    reuse=args.reuse and (directory / "index").exists()))
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "sizes": results}, indent=2) + "\n")
        notify(f"wrote {args.json}")
    return 0
