"""Compare two eval runs: every summary metric side by side, with the change and its direction.

Rates change in percentage points, latency in seconds, tokens and cost as numbers.
"better"/"worse" is written only where the direction is known: higher is better for
rates, lower is better for latency, tokens, cost, errors and abstaining on answerable
questions. ``answered_rate`` and unknown counts get no word (more answers is not
better in itself: some questions should be declined).
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import InputError

from .report import MISSING, format_metric, hit_key, metric_kind, number
from .rows import RunInfo, RunMetrics

NEUTRAL = {"answered_rate", "n"}


def load_metrics(run_dir: Path) -> RunMetrics:
    """``run_dir/metrics.json``, also an older run's; InputError saying which path and what to do otherwise."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    hint = f"run `rag eval --out {run_dir}` first"
    if not run_dir.is_dir():
        raise InputError(f"Run directory {run_dir} does not exist: {hint}.")
    if not path.is_file():
        raise InputError(f"No metrics.json in {run_dir} (looked for {path}): {hint}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path} is not valid JSON ({err}): {hint} to write it again.") from err
    if not isinstance(data, dict) or not isinstance(data.get("summary", {}), dict):
        raise InputError(f"{path} has no summary object: {hint} to write it again.")
    return RunMetrics.from_dict(data)


def direction(key: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when unknown."""
    if key in NEUTRAL:
        return 0
    kind = metric_kind(key)
    if kind in ("seconds", "cost") or "tokens" in key or key == "errors":
        return -1
    if "abstain" in key and "answerable" in key and "unanswerable" not in key:
        return -1  # e.g. abstained_on_answerable: declining what could be answered
    return 1 if kind in ("rate", "score") else 0


def change(key: str, a, b) -> str:
    """'+5.0 pp better', '+1.00 s worse', '-120 better', 'same', or '–' when either side is missing."""
    a, b = number(a), number(b)
    if a is None or b is None:
        return MISSING
    kind, delta = metric_kind(key), b - a
    if kind == "seconds":
        text = f"{delta:+.2f} s"
    elif kind == "cost":
        text = f"{'+' if delta >= 0 else '-'}${abs(delta):.4f}"
    elif kind == "rate" and 0 <= a <= 1 and 0 <= b <= 1:
        text = f"{delta * 100:+.1f} pp"
    elif kind == "score":
        text = f"{delta:+.3f}"
    else:
        text = f"{delta:+,.0f}" if delta == int(delta) else f"{delta:+,.3g}"
    if not any(ch in "123456789" for ch in text):  # no change at the precision shown
        return "same"
    sign = direction(key) * (1 if delta > 0 else -1)
    return text + {1: " better", -1: " worse", 0: ""}[sign]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def _describe(label: str, run_dir: Path, metrics: RunMetrics) -> str:
    run = metrics.run or RunInfo()
    return (f"{label}: {run_dir}  ({_shown(run.backend)} backend, {_shown(run.judge)} judge, "
            f"n={_shown(run.n)}, settings {_shown(run.settings_hash)})")


def _shown(value) -> str:
    return MISSING if value is None else str(value)


def _arrow(key: str, a: dict, b: dict) -> str:
    va, vb = a.get(key), b.get(key)
    return f"{key} {format_metric(key, va)} → {format_metric(key, vb)} ({change(key, va, vb)})"


def compare_runs(dir_a: Path, dir_b: Path) -> str:
    """A plain-text table of every summary metric of run A and run B, then one line per question type."""
    a, b = load_metrics(dir_a), load_metrics(dir_b)
    lines = [_describe("A", Path(dir_a), a), _describe("B", Path(dir_b), b)]
    run_a, run_b = a.run or RunInfo(), b.run or RunInfo()
    if run_a.questions_file != run_b.questions_file or run_a.n != run_b.n:
        lines.append("note: the runs used different question sets; differences may not be comparable.")
    sa, sb = a.summary, b.summary
    keys = list(sa) + [k for k in sb if k not in sa]
    rows = [["metric", "A", "B", "change (B - A)"]]
    rows += [[k, format_metric(k, sa.get(k)), format_metric(k, sb.get(k)), change(k, sa.get(k), sb.get(k))]
             for k in keys]
    lines += ["", *_table(rows)]
    ta, tb = a.by_type, b.by_type
    types = list(ta) + [t for t in tb if t not in ta]
    if types:
        hit = hit_key(b if tb else a)
        width = max(len(str(t)) for t in types)
        lines += ["", "By type (A → B):"]
        for t in types:
            ma, mb = ta.get(t, {}), tb.get(t, {})
            lines.append(f"  {str(t).ljust(width)}  {_arrow(hit, ma, mb)};  {_arrow('faithfulness', ma, mb)}")
    return "\n".join(lines) + "\n"
