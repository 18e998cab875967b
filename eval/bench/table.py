"""The Markdown table `rag bench` prints: one row per measure, one column per collection size.

Every cell carries its baseline or is a ratio, so figures from a noisy machine still compare."""

from __future__ import annotations

from typing import Any

#: (row label, cell function) in the order printed
ROWS: list[tuple[str, Any]] = []


def _row(label: str):
    def add(fn):
        ROWS.append((label, fn))
        return fn
    return add


def _ratio(a: float, b: float) -> str:
    if not b:
        return "–"
    x = a / b
    return f"{x:.3f}×" if x < 0.1 else f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


@_row("ingest (papers/s)")
def _ingest(r: dict) -> str:
    ing, ceil = r["ingest"], r["ceiling"]
    rate = ing["papers"] / ing["wall_s"] if ing["wall_s"] else 0.0
    ceiling = ceil["chunks"] / ceil["wall_s"] / ceil["chunks_per_paper"] if ceil["wall_s"] else 0.0
    return (f"{rate:.1f} = {_ratio(rate, ceiling)} the embedding ceiling {ceiling:.1f} "
            f"(CPU {ing['cpu_s']:.0f} s vs {ceil['cpu_s'] * ing['chunks'] / max(1, ceil['chunks']):.0f} s)")


@_row("re-ingest, unchanged")
def _reingest(r: dict) -> str:
    return f"{_seconds(r['reingest']['wall_s'])} = {_ratio(r['reingest']['wall_s'], r['ingest']['wall_s'])} first ingest"


@_row("add 1 paper")
def _add(r: dict) -> str:
    per_paper = r["ingest"]["wall_s"] / max(1, r["ingest"]["papers"])
    return f"{_seconds(r['add_one']['wall_s'])} = {_ratio(r['add_one']['wall_s'], per_paper)} first ingest's s/paper"


@_row("first ask after adding it")
def _after(r: dict) -> str:
    a = r["ask_after_add"]
    warm = r["ask"]["p50_ms"] / 1000
    return f"{_seconds(a['wall_s'])} = {_ratio(a['wall_s'], warm)} warm ask p50{'' if a['hit'] else ' (new paper missed)'}"


@_row("retrieve p50 / p95 (warm)")
def _retrieve(r: dict) -> str:
    floor = r["baselines"]["numpy_rrf"]["p50_ms"]
    return f"{r['retrieve']['p50_ms']:.0f} / {r['retrieve']['p95_ms']:.0f} ms = {_ratio(r['retrieve']['p50_ms'], floor)} numpy floor p50"


@_row("ask p50 / p95 (warm, extractive)")
def _ask(r: dict) -> str:
    return f"{r['ask']['p50_ms']:.0f} / {r['ask']['p95_ms']:.0f} ms = {_ratio(r['ask']['p50_ms'], r['retrieve']['p50_ms'])} retrieve p50"


@_row("`rag ask`, cold process")
def _cold(r: dict) -> str:
    c = r.get("cold")
    if not c:
        return "not run"
    rss = f", peak RSS {c['ask_peak_rss_mb']:.0f} MB" if "ask_peak_rss_mb" in c else ""
    return f"{c['ask_wall_s']:.1f} s (CPU {c['ask_cpu_s']:.1f} s{rss}) vs `rag --help` {c['help_wall_s']:.1f} s"


@_row("peak RSS: ingest / queries / +baselines")
def _rss(r: dict) -> str:
    return f"{r['ingest']['peak_rss_mb']:.0f} / {r['rss_after_queries_mb']:.0f} / {r['rss_after_baselines_mb']:.0f} MB"


@_row("index on disk")
def _disk(r: dict) -> str:
    return f"{r['index_mb']:.0f} MB = {_ratio(r['index_mb'], r['data_mb'])} the JSONL"


@_row("hit@5, engine (hybrid)")
def _hit(r: dict) -> str:
    return f"{r['retrieve']['hit@5']:.2f}"


def _baseline(key: str, label: str) -> None:
    def cell(r: dict) -> str:
        b = r["baselines"][key]
        return f"{b['p50_ms']:.0f} ms, hit@5 {b['hit@5']:.2f} (engine p50 {_ratio(r['retrieve']['p50_ms'], b['p50_ms'])})"
    _row(f"baseline: {label}")(cell)


_baseline("llama_index", "llama-index VectorStoreIndex")
_baseline("bm25s", "bm25s alone")
_baseline("numpy_rrf", "numpy cosine + bm25s + RRF")


def markdown(results: list[dict]) -> str:
    """The table for ``results`` (one :func:`~eval.bench.measure.run_size` result per size)."""
    head = ["measure"] + [f"{r['papers']:,} papers, {r['ingest']['chunks']:,} chunks"
                          + (" (ingest rows from an earlier run: --reuse)" if r.get("reused") else "") for r in results]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, cell in ROWS:
        lines.append("| " + " | ".join([label] + [cell(r) for r in results]) + " |")
    return "\n".join(lines)
