"""The report's plots as PNG bytes: per-type scores, score distributions, latency, tokens, abstention curve.

matplotlib is imported inside the drawing functions (never at import time) and only
its Agg canvas is used: no pyplot, so no global backend changes in the caller.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from ..rows import EvalRow, RunMetrics
from .view import number

SCORE_KEYS = ("faithfulness", "citation_recall", "correctness")


@dataclass
class Plot:
    name: str  # file name under plots/
    title: str
    png: bytes


def _figure(width: float = 8.0, height: float = 3.4):
    # Agg's canvas directly rather than matplotlib.use("Agg") + pyplot: same headless
    # rendering, without switching the backend of a process that already uses pyplot.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _percent_axis(ax) -> None:
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")


def plot_by_type(by_type: dict[str, dict], hit: str) -> bytes | None:
    """Grouped bars: hit@k, citation recall, faithfulness and correctness per question type."""
    if not by_type:
        return None
    keys = [hit, "citation_recall", "faithfulness", "correctness"]
    fig = _figure()
    ax = fig.add_subplot()
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        heights = [number(m.get(key)) for m in by_type.values()]
        xs = [j + (i - (len(keys) - 1) / 2) * width for j in range(len(by_type))]
        ax.bar(xs, [math.nan if h is None else h for h in heights], width, label=key)
    ax.set_xticks(range(len(by_type)), [str(t) for t in by_type])
    _percent_axis(ax)
    ax.set_title("Main scores by question type (higher is better)")
    ax.legend(ncols=len(keys), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    return _png(fig)


def plot_distributions(results: list[EvalRow]) -> bytes | None:
    """One histogram per score (faithfulness, citation recall, correctness) over the questions."""
    rows = [r.metrics for r in results if not r.failed]
    if not rows:
        return None
    fig = _figure(height=2.8)
    for i, key in enumerate(SCORE_KEYS):
        ax = fig.add_subplot(1, len(SCORE_KEYS), i + 1)
        values = [v for v in (number(m.get(key)) for m in rows) if v is not None]
        if values:
            ax.hist(values, bins=[j / 10 for j in range(11)], color="#4c72b0", edgecolor="white")
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_title(f"{key} (n={len(values)})", fontsize=10)
        ax.set_xlabel("per-question score")
    fig.axes[0].set_ylabel("questions")
    return _png(fig)


def plot_latency(results: list[EvalRow], summary: dict) -> bytes | None:
    """Histogram of total seconds per question, with the p50 and p95 lines."""
    totals = [v for v in (number(r.total_s) for r in results) if v is not None]
    if not totals:
        return None
    import numpy as np

    fig = _figure(height=2.8)
    ax = fig.add_subplot()
    ax.hist(totals, bins=min(30, max(5, len(totals) // 4)), color="#8172b2", edgecolor="white")
    for label, q, style in (("p50", 50, "--"), ("p95", 95, ":")):
        value = number(summary.get(f"latency_{label}_s"))
        value = float(np.percentile(totals, q)) if value is None else value
        ax.axvline(value, color="black", linestyle=style, label=f"{label} {value:.2f} s")
    ax.set_xlabel("total seconds per question (lower is better)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.legend()
    return _png(fig)


def plot_tokens(results: list[EvalRow]) -> bytes | None:
    """Stacked prompt/completion tokens per question; None when no LLM tokens were used."""
    usage = [r.usage for r in results if not r.failed]
    prompt = [number(u.get("prompt_tokens")) or 0.0 for u in usage]
    completion = [number(u.get("completion_tokens")) or 0.0 for u in usage]
    if not any(prompt) and not any(completion):
        return None
    fig = _figure(height=2.8)
    ax = fig.add_subplot()
    xs = range(1, len(usage) + 1)
    ax.bar(xs, prompt, label="prompt", color="#55a868")
    ax.bar(xs, completion, bottom=prompt, label="completion", color="#c44e52")
    ax.set_xlabel("question (in run order)")
    ax.set_ylabel("tokens")
    ax.set_title("LLM tokens per question")
    ax.legend()
    return _png(fig)


def plot_abstention(curve: list[dict]) -> bytes | None:
    """Abstention rates of unanswerable and answerable questions per min_evidence threshold, the configured one marked."""
    points = [p for p in curve if number(p.get("threshold")) is not None]
    if not points:
        return None
    fig = _figure(height=3.2)
    ax = fig.add_subplot()
    xs = [float(p["threshold"]) for p in points]
    for key, label, color in (("abstain_unanswerable", "unanswerable abstained on (higher is better)", "#55a868"),
                              ("abstain_answerable", "answerable abstained on (lower is better)", "#c44e52")):
        ys = [number(p.get(key)) for p in points]
        if any(y is not None for y in ys):
            ax.plot(xs, [math.nan if y is None else y for y in ys], marker="o", markersize=3, label=label, color=color)
    for p in points:
        if p.get("configured"):
            ax.axvline(float(p["threshold"]), color="black", linestyle="--", label=f"configured {float(p['threshold']):.2f}")
    _percent_axis(ax)
    ax.set_xlabel("min_evidence threshold (abstain when the top evidence score is below it)")
    ax.set_ylabel("abstained")
    ax.set_title("Abstention by min_evidence threshold")
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    return _png(fig)


def make_plots(results: list[EvalRow], metrics: RunMetrics, hit: str) -> list[Plot]:
    """The plots that have data to show, in report order."""
    drawn = [
        ("scores_by_type.png", "Main scores by question type", plot_by_type(metrics.by_type, hit)),
        ("score_distributions.png", "Per-question score distributions", plot_distributions(results)),
        ("latency.png", "Latency per question", plot_latency(results, metrics.summary)),
        ("tokens.png", "LLM tokens per question", plot_tokens(results)),
        ("abstention.png", "Abstention by min_evidence threshold", plot_abstention(metrics.abstention_curve)),
    ]
    return [Plot(name, title, png) for name, title, png in drawn if png is not None]

