"""Calibrate the support checker: ``python -m eval.calibrate``.

Tunes the soft check (threshold and cosine weight) for balanced accuracy on the
tuning pairs (``eval/data/claims.jsonl``), then reports balanced accuracy, overall and
per kind, on pairs it was not tuned on: ``eval/data/claims_holdout.jsonl`` (other
abstracts, written separately) and ``eval/data/claims_dev2.jsonl`` (claims in the
style of an LLM's answer sentences). Writes ``rag/support/data/calibration.json``,
which the checker loads.

It also measures the ``contradicted`` label on every set: a pair's expected label is
``supported``, ``contradicted`` when its kind means the source says the opposite
(:data:`CONTRADICTING_KINDS`), and ``not_stated`` for every other unsupported kind
(changed numbers, swapped names, other papers, overgeneralised or plausible claims).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

from rag.errors import InputError
from rag.support.checker import CALIBRATION_FILE, CONTRADICTED, DEFAULT_PARAMS, NOT_STATED, SUPPORTED, SupportChecker

from .harness import json_lines
from .metrics import balanced_accuracy, label_precision_recall

DATA = Path(__file__).parent / "data"
CALIBRATION = Path(str(resources.files("rag.support") / "data" / CALIBRATION_FILE))


def read_pairs(path: Path) -> list[dict]:
    rows = list(json_lines(path))
    bad = [f"line {n}: {row}" for n, row in rows if not isinstance(row, dict)]
    if bad:
        raise InputError(f"{path} has bad lines: {'; '.join(bad[:5])}")
    return [row for _, row in rows]


#: Kinds of unsupported pairs whose source says the opposite of the claim (a negated or reversed finding).
CONTRADICTING_KINDS = frozenset({"negated"})


def expected_label(row: dict) -> str:
    """The verdict label a labelled pair should get: supported, contradicted or not_stated."""
    if row["supported"]:
        return SUPPORTED
    return CONTRADICTED if row.get("kind") in CONTRADICTING_KINDS else NOT_STATED


def contradiction_scores(checker: SupportChecker, rows: list[dict], feats: list[dict], params: dict) -> dict:
    """Precision and recall of the ``contradicted`` label against :func:`expected_label` (rounded)."""
    predicted = [checker.decide(f, params).label for f in feats]
    pr = label_precision_recall([expected_label(r) for r in rows], predicted, CONTRADICTED)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in pr.items()}


def score(checker: SupportChecker, rows: list[dict], feats: list[dict], params: dict) -> tuple[float, dict[str, float]]:
    predicted = [checker.decide(f, params).supported for f in feats]
    kinds: dict[str, list[bool]] = defaultdict(list)
    for row, p in zip(rows, predicted):
        kinds[row.get("kind", "all")].append(p == row["supported"])
    by_kind = {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())}
    return balanced_accuracy([r["supported"] for r in rows], predicted), by_kind


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tune", type=Path, default=DATA / "claims.jsonl")
    ap.add_argument("--held-out", type=Path, default=DATA / "claims_holdout.jsonl")
    ap.add_argument("--also", type=Path, nargs="*", default=[DATA / "claims_dev2.jsonl"],
                    help="more labelled files to report balanced accuracy on")
    ap.add_argument("--out", type=Path, default=CALIBRATION)
    args = ap.parse_args(argv)

    checker = SupportChecker(params=DEFAULT_PARAMS)
    tune, held = read_pairs(args.tune), read_pairs(args.held_out)
    tune_f = [checker.features(r["claim"], [r["source"]]) for r in tune]
    held_f = [checker.features(r["claim"], [r["source"]]) for r in held]
    grid = itertools.product([t / 100 for t in range(30, 86)], [w / 8 for w in range(9)])
    best = max(
        ({"threshold": t, "cosine_weight": w, "hard_penalty": DEFAULT_PARAMS["hard_penalty"]} for t, w in grid),
        key=lambda p: (round(score(checker, tune, tune_f, p)[0], 4), -abs(p["cosine_weight"] - 0.5)),
    )
    tune_acc, _ = score(checker, tune, tune_f, best)
    held_acc, held_kinds = score(checker, held, held_f, best)
    also: list[dict] = []
    result = {
        "params": best,
        "tuned_on": {"file": f"eval/data/{args.tune.name}", "pairs": len(tune), "balanced_accuracy": round(tune_acc, 3),
                     "contradicted": contradiction_scores(checker, tune, tune_f, best)},
        "held_out": {
            "file": f"eval/data/{args.held_out.name}",
            "pairs": len(held),
            "balanced_accuracy": round(held_acc, 3),
            "accuracy_by_kind": held_kinds,
            "contradicted": contradiction_scores(checker, held, held_f, best),
        },
        "also_measured": also,
    }
    for extra in args.also:
        rows = read_pairs(extra)
        feats = [checker.features(r["claim"], [r["source"]]) for r in rows]
        acc, kinds = score(checker, rows, feats, best)
        also.append(
            {"file": f"eval/data/{extra.name}", "pairs": len(rows), "balanced_accuracy": round(acc, 3), "accuracy_by_kind": kinds,
             "contradicted": contradiction_scores(checker, rows, feats, best)}
        )
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(summary_table(result))


def summary_table(result: dict) -> str:
    """The labelled sets as a Markdown table: balanced accuracy (supported or not) and the contradicted label's
    precision and recall (the table in README's Evaluation section)."""
    lines = ["| set | pairs | balanced accuracy | contradicted precision | contradicted recall |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for role, entry in [("tuning", result["tuned_on"]), ("held out", result["held_out"])] + [
            ("also measured", e) for e in result["also_measured"]]:
        c = entry.get("contradicted", {})
        lines.append(f"| `{entry['file']}` ({role}) | {entry['pairs']} | {entry['balanced_accuracy']:.3f} | "
                     f"{_share(c, 'precision', 'predicted')} | {_share(c, 'recall', 'expected')} |")
    return "\n".join(lines)


def _share(counts: dict, key: str, total: str) -> str:
    """``0.80 (12/15)``, or ``–`` when not measured."""
    value = counts.get(key)
    return "–" if value is None else f"{value:.2f} ({counts['correct']}/{counts[total]})"


if __name__ == "__main__":
    main()
