"""Lay out an evaluation run as ``report.md`` and a self-contained ``report.html``.

The harness computes every number; this module only renders them. Both files are
drawn from one :class:`ReportView`, so they carry the same content: run info, the
summary table with a definition per metric, the per-type breakdown, the checker's
accuracy, plots, the worst answers and the errored questions. Scores point up
(higher = better) except latency, tokens, cost and errors.

Text taken from results (questions, answers, abstracts, titles) is escaped in both
files, so an abstract containing ``<script>`` shows as text. matplotlib is imported
only when the plots are drawn (see ``plots``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..rows import EvalRow, RunMetrics
from .view import (
    MISSING,
    PLOT_FILES,
    ReportView,
    format_metric,
    hit_key,
    metric_kind,
    number,
)

__all__ = ["MISSING", "format_metric", "hit_key", "metric_kind", "number", "write_reports"]


# --- entry point ----------------------------------------------------------------


def write_reports(out_dir: Path, results: Sequence[EvalRow | Mapping[str, Any]], metrics: RunMetrics | Mapping[str, Any],
                  worst: int = 10) -> None:
    """Write report.md, report.html and plots/*.png for one run into ``out_dir``.

    ``results`` and ``metrics`` may also be given as read from ``results.jsonl`` and ``metrics.json``.
    """
    from .html_page import render_html
    from .markdown import render_markdown
    from .plots import make_plots

    rows = [r if isinstance(r, EvalRow) else EvalRow.from_dict(r) for r in results]
    run_metrics = metrics if isinstance(metrics, RunMetrics) else RunMetrics.from_dict(metrics)
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    plots = make_plots(rows, run_metrics, hit_key(run_metrics))
    for name in PLOT_FILES:  # a plot without data this run must not leave last run's file behind
        (plots_dir / name).unlink(missing_ok=True)
    for plot in plots:
        (plots_dir / plot.name).write_bytes(plot.png)
    view = ReportView.build(rows, run_metrics, plots, worst)
    for name, text in (("report.md", render_markdown(view)), ("report.html", render_html(view))):
        tmp = out_dir / f".{name}.tmp"  # renamed into place: never a half-written report
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_dir / name)
