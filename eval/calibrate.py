"""Calibrate the support checker: ``python -m eval.calibrate``.

Tunes the soft check (threshold and cosine weight) for balanced accuracy on the
tuning pairs (``eval/data/claims.jsonl``), then reports balanced accuracy, overall and
per kind, on pairs it was not tuned on: ``eval/data/claims_holdout.jsonl`` (other
abstracts, written separately) and ``eval/data/claims_dev2.jsonl`` (claims in the
style of an LLM's answer sentences). Writes ``rag/support/data/calibration.json``,
which the checker loads.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

from rag.errors import InputError
from rag.support.checker import CALIBRATION_FILE, DEFAULT_PARAMS, SupportChecker

from .harness import json_lines
from .metrics import balanced_accuracy

DATA = Path(__file__).parent / "data"
CALIBRATION = Path(str(resources.files("rag.support") / "data" / CALIBRATION_FILE))


def read_pairs(path: Path) -> list[dict]:
    rows = list(json_lines(path))
    bad = [f"line {n}: {row}" for n, row in rows if not isinstance(row, dict)]
    if bad:
        raise InputError(f"{path} has bad lines: {'; '.join(bad[:5])}")
    return [row for _, row in rows]


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
        "tuned_on": {"file": f"eval/data/{args.tune.name}", "pairs": len(tune), "balanced_accuracy": round(tune_acc, 3)},
        "held_out": {
            "file": f"eval/data/{args.held_out.name}",
            "pairs": len(held),
            "balanced_accuracy": round(held_acc, 3),
            "accuracy_by_kind": held_kinds,
        },
        "also_measured": also,
    }
    for extra in args.also:
        rows = read_pairs(extra)
        acc, kinds = score(checker, rows, [checker.features(r["claim"], [r["source"]]) for r in rows], best)
        also.append(
            {"file": f"eval/data/{extra.name}", "pairs": len(rows), "balanced_accuracy": round(acc, 3), "accuracy_by_kind": kinds}
        )
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
