"""`rag eval`, `rag eval-claims` and `rag bench`, registered through the ``rag.commands`` entry point.

Registering imports nothing heavy; each command imports the harness when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rows import RunMetrics


def register(sub, common) -> None:
    """Add `rag eval`, `rag eval-claims` and `rag bench` (the `rag.commands` entry point)."""
    p = sub.add_parser(
        "eval",
        parents=[common],
        help="score answers on a question set; `rag eval compare A B` compares two runs",
        description="Run every question through rag.ask and write results.jsonl, metrics.json, report.md and "
        "report.html to --out. `rag eval compare DIR_A DIR_B` prints two runs' metrics side by side.",
    )
    p.add_argument("action", nargs="*", metavar="compare DIR_A DIR_B", help="compare two earlier runs")
    p.add_argument("--questions", type=Path, help="question file (JSON lines); default: the shipped sample set")
    p.add_argument("--out", type=Path, help="run directory (default: ./rag-eval-DATE-TIME)")
    p.add_argument("--backend", choices=["extractive", "openai", "local"], help="answerer (default: as configured)")
    p.add_argument("--model", help="chat model for the openai backend (RAG_MODEL), or with --backend local the "
                   "local model: a preset such as qwen2.5-coder-0.5b, a .gguf path, a package or a URL (RAG_LOCAL_MODEL)")
    p.add_argument("--judge", choices=["auto", "rules", "llm"], default="auto",
                   help="support checker: rules (offline), llm (the configured endpoint), auto (llm when one is configured)")
    p.add_argument("-k", type=int, help="papers given to the answerer (RAG_TOP_K)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--beir", type=Path, metavar="DIR",
                   help="a BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv): its corpus is "
                   "ingested into the collection beir-NAME and its queries scored on retrieval (graded nDCG@10, recall@100)")
    p.add_argument("--split", default="test", help="the BEIR qrels split to score (default: test)")
    p.add_argument("--answers", action=argparse.BooleanOptionalAction, default=None,
                   help="answer each question and check the answer (default), or --no-answers: score retrieval alone "
                   "(the default with --beir)")
    p.add_argument("--retrieval", choices=["hybrid", "bm25", "dense"],
                   help="retrieval mode (RAG_RETRIEVAL): hybrid (default), or bm25 or dense alone")
    p.add_argument("--fusion", choices=["coverage", "relative", "rrf"],
                   help="how hybrid retrieval fuses its sides (RAG_FUSION): relative scores and query-term coverage "
                   "(coverage, the default), relative scores alone, or reciprocal rank")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "eval-claims",
        parents=[common],
        help="check {id, claim, source} lines; print {id, supported, label, score} lines",
        description="Run the support checker on a JSON-lines file of {\"id\", \"claim\", \"source\"}. Prints one "
        "{\"id\", \"supported\", \"label\", \"score\"} line each (label: supported, contradicted or not_stated); "
        "when lines carry a \"supported\" label, the balanced accuracy goes to stderr, and when they also carry a "
        "\"kind\", the precision and recall of the contradicted label.",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--judge", choices=["rules", "llm"], default="rules", help="rules (offline, default) or llm")
    p.set_defaults(func=cmd_eval_claims)

    from .bench.cli import add_parser as add_bench

    add_bench(sub)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.cli import make_engine, progress_bar
    from rag.errors import InputError

    if args.action:
        if args.action[0] != "compare" or len(args.action) != 3:
            raise InputError("Use `rag eval compare DIR_A DIR_B`, or `rag eval --questions FILE --out DIR`.")
        from .compare import compare_runs

        print(compare_runs(Path(args.action[1]), Path(args.action[2])))
        return 0
    if args.beir:
        return cmd_eval_beir(args)
    from .harness import run_eval

    if args.questions:
        questions = args.questions
    else:
        from importlib import resources

        questions = Path(str(resources.files("eval") / "data" / "questions.jsonl"))
    from .harness import load_questions

    load_questions(questions)  # a bad question file fails now, not after building the index
    out = args.out or Path(f"rag-eval-{time.strftime('%Y%m%d-%H%M%S')}")
    engine = make_engine(args, top_k=args.k, retrieval=args.retrieval, fusion=args.fusion)
    engine.ensure_ready(progress=progress_bar("ingesting sample"))
    bar = progress_bar("evaluating")
    metrics = run_eval(questions, out, engine, backend=args.backend, judge=args.judge, limit=args.limit,
                       progress=lambda done, total: bar(done, total), answers=args.answers is not False)
    _finish(metrics, out)
    return 0


def cmd_eval_beir(args: argparse.Namespace) -> int:
    """`rag eval --beir DIR`: ingest the corpus into its own collection (idempotent), then score the queries."""
    from rag.cli import load_settings, notice, progress_bar
    from rag.engine import Engine
    from rag.errors import InputError

    from .beir import BEIR_DEPTH, beir_candidates, load_beir
    from .harness import run_questions

    if args.questions:
        raise InputError("Use --questions or --beir, not both.")
    dataset = load_beir(args.beir, args.split)  # a bad dataset fails before any index is opened
    questions = dataset.questions[: args.limit or None]
    out = args.out or Path(f"rag-eval-{dataset.collection}-{time.strftime('%Y%m%d-%H%M%S')}")
    args.collection = args.collection or dataset.collection
    settings = load_settings(args, top_k=args.k, retrieval=args.retrieval, fusion=args.fusion, sample_on_empty=False)
    engine = Engine(settings, notify=notice)
    notice(f"BEIR {dataset.name}: {len(questions)} {args.split} queries; corpus into collection {engine.settings.collection} "
           f"at {engine.settings.chroma_url or engine.settings.index_dir}")
    report = engine.ingest([dataset.corpus], progress_bar("ingesting corpus"))
    notice(report.summary())
    settings = settings.replace(candidates=beir_candidates(engine.stats(), settings.candidates))  # room for 100 papers
    engine.close()
    engine = Engine(settings, notify=notice)
    bar = progress_bar("evaluating")
    metrics = run_questions(questions, dataset.source, out, engine, backend=args.backend, judge=args.judge,
                            progress=lambda done, total: bar(done, total), answers=bool(args.answers), depth=BEIR_DEPTH)
    _finish(metrics, out)
    return 0


def _finish(metrics: RunMetrics, out: Path) -> None:
    for line in summary_lines(metrics):
        print(line)
    from rag.cli import show

    for warning in metrics.warnings:
        show(f"warning: {warning}", file=sys.stderr, redact=True)
    print(f"wrote {out}/results.jsonl, metrics.json, report.md, report.html")


#: The summary metrics `rag eval` prints; report.md and metrics.json have them all.
CONSOLE_KEYS = ("hit@5", "recall@5", "mrr", "ndcg@10", "recall@100", "citation_recall", "citation_precision", "faithfulness",
                "correctness", "abstention_recall", "answered_rate")

RETRIEVAL_KEYS = ("hit@5", "recall@5", "mrr", "ndcg@10", "recall@100")


def summary_lines(metrics: RunMetrics) -> list[str]:
    """What `rag eval` prints when a run ends: one line about the run, then one per metric of CONSOLE_KEYS."""
    from .rows import RunInfo

    run = metrics.run or RunInfo()
    lines = [f"{run.n} questions, backend {run.backend}, judge {run.judge}, {run.duration_s} s"]
    for key in CONSOLE_KEYS:
        if key not in metrics.summary or (run.judge == "none" and key not in RETRIEVAL_KEYS):
            continue  # recall@100 is measured on BEIR runs; a retrieval-only run has no answers to score
        value = metrics.summary.get(key)
        text = "–" if value is None else (f"{value:.3f}" if key in ("mrr", "ndcg@10") else f"{value:.1%}")
        lines.append(f"  {key:20s} {text}")
    return lines


def cmd_eval_claims(args: argparse.Namespace) -> int:
    from rag.cli import make_engine
    from rag.errors import InputError

    from .harness import json_lines

    rows = []
    for n, row in json_lines(args.file):
        if not isinstance(row, dict) or not isinstance(row.get("claim"), str) or not isinstance(row.get("source"), str):
            problem = row if isinstance(row, str) else 'needs string "claim" and "source" fields'
            raise InputError(f'{args.file}, line {n}: {problem}; each line is {{"id", "claim", "source"}}.')
        rows.append(row)
    from .calibrate import expected_label
    from .harness import make_judge

    checker = make_judge(args.judge, make_engine(args))
    labels, predicted, expected_labels, predicted_labels = [], [], [], []
    for n, row in enumerate(rows, start=1):
        verdict = checker.check(row["claim"], row["source"])
        print(json.dumps({"id": row.get("id", n), "supported": verdict.supported, "label": verdict.label,
                          "score": round(verdict.score, 4)}), flush=True)
        if isinstance(row.get("supported"), bool):
            labels.append(row["supported"])
            predicted.append(verdict.supported)
            if isinstance(row.get("kind"), str):
                expected_labels.append(expected_label(row))
                predicted_labels.append(verdict.label)
    if labels:
        from .metrics import balanced_accuracy

        print(f"balanced accuracy {balanced_accuracy(labels, predicted):.3f} on {len(labels)} labelled pairs", file=sys.stderr)
    if expected_labels:
        from .metrics import label_precision_recall

        pr = label_precision_recall(expected_labels, predicted_labels, "contradicted")
        shown = {k: "–" if pr[k] is None else f"{pr[k]:.3f}" for k in ("precision", "recall")}
        print(f"contradicted: precision {shown['precision']} ({pr['correct']}/{pr['predicted']}), "
              f"recall {shown['recall']} ({pr['correct']}/{pr['expected']}) on {len(expected_labels)} pairs with a kind",
              file=sys.stderr)
    return 0
