"""Metric definitions, as pure functions. Each is defined in one line in DEFINITIONS.

Citation recall and precision follow ALCE (Gao et al., 2023), with our support
checker in place of their NLI model: a sentence is supported when the sources it
cites, read together, support it; a citation is precise unless the sentence is
unsupported, or the source alone does not support it while the other cited sources do.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from rag.support.text import content_terms, numbers
from rag.support.verdicts import SentenceVerdict, Support

DEFINITIONS = {
    "hit@5": "share of answerable questions with a right paper among the top 5 retrieved",
    "recall@5": "share of each question's right papers found in the top 5, averaged",
    "mrr": "mean of 1/rank of the first right paper in the top 10 (0 when none)",
    "ndcg@10": "normalised discounted cumulative gain of the top 10 (gain: the relevance grade when judgments are graded, as in BEIR; else 1 for a right paper)",
    "recall@100": "share of each question's right papers found in the top 100, averaged (BEIR runs)",
    "citation_recall": "share of answer sentences supported by the sources they cite (uncited sentences count as unsupported; ALCE)",
    "citation_precision": "share of citations that are needed: the sentence is supported and the cited source supports it alone or the others do not (ALCE)",
    "faithfulness": "share of answer statements supported by the sources the answer cites (RAGAS ratio)",
    "correctness": "share of a question's key facts present in the answer (numbers must match exactly)",
    "abstention_precision": "of the questions it abstained on, the share the collection cannot answer",
    "abstention_recall": "of the questions the collection cannot answer, the share it abstained on",
    "answered_rate": "share of answerable questions answered rather than abstained",
    "latency_p50_s": "median seconds per question, retrieval and answer",
    "latency_p95_s": "95th percentile seconds per question",
    "prompt_tokens": "LLM prompt tokens over the run",
    "completion_tokens": "LLM completion tokens over the run",
    "cost_usd": "estimated LLM cost of the run at list prices (n/a for unknown models and local servers)",
    "errors": "questions that failed with an error",
}


# -- retrieval --------------------------------------------------------------------------------------


def retrieval_metrics(
    relevant: Sequence[bool],
    n_relevant: int,
    k: int = 5,
    ndcg_k: int = 10,
    grades: Sequence[int] | None = None,
    ideal_grades: Sequence[int] | None = None,
    recall_depths: Sequence[int] = (),
) -> dict[str, float]:
    """``relevant[i]``: whether the paper at rank i+1 is a right one; ``n_relevant``: how many right papers exist.

    ``grades`` / ``ideal_grades``: graded relevance of the ranked papers and of every judged paper
    (BEIR's qrels); nDCG then uses the grade as the gain, as trec_eval and pytrec_eval do. Without
    them relevance is binary. ``recall_depths`` adds ``recall@d`` for each depth (e.g. 100)."""
    if n_relevant <= 0:
        raise ValueError("retrieval metrics need at least one relevant paper")
    first = next((i for i, r in enumerate(relevant[:ndcg_k]) if r), None)
    gains = [float(g) for g in grades] if grades is not None else [float(r) for r in relevant]
    ideal = sorted((float(g) for g in ideal_grades), reverse=True) if ideal_grades is not None else [1.0] * n_relevant
    out = {
        f"hit@{k}": float(any(relevant[:k])),
        f"recall@{k}": sum(relevant[:k]) / n_relevant,
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        f"ndcg@{ndcg_k}": ndcg(gains, ideal, ndcg_k),
    }
    for depth in recall_depths:
        out[f"recall@{depth}"] = sum(relevant[:depth]) / n_relevant
    return out


def ndcg(gains: Sequence[float], ideal_gains: Sequence[float], k: int = 10) -> float:
    """nDCG@k with linear gains and a log2(rank + 1) discount (trec_eval's ``ndcg_cut``).

    ``gains``: the gain of each ranked item, best-ranked first; ``ideal_gains``: every relevant
    item's gain (sorted here), from which the ideal ranking is built. 0 when nothing is relevant."""
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]) if g > 0)
    best = sorted((g for g in ideal_gains if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(best))
    return dcg / idcg if idcg else 0.0


# -- citations ------------------------------------------------------------------------------------


def citation_scores(verdicts: Sequence[SentenceVerdict]) -> tuple[float, float]:
    """ALCE citation recall and precision of one answer, from its per-sentence verdicts.

    An answer with no citations scores 0 on both (ALCE's convention).
    """
    total_citations = sum(len(v.cited) for v in verdicts)
    recall = sum(v.supported for v in verdicts) / len(verdicts) if verdicts else 0.0
    precision = sum(len(v.precise) for v in verdicts) / total_citations if total_citations else 0.0
    return recall, precision


def faithfulness(claims: list[str], cited_sources: list[int], supports: Support) -> float:
    """Share of ``claims`` supported by all the sources the answer cites, read together."""
    if not claims:
        return 0.0
    if not cited_sources:
        return 0.0
    return sum(supports(c, cited_sources) for c in claims) / len(claims)


# -- correctness ------------------------------------------------------------------------------------


def fact_present(fact: str, answer: str, min_terms: float = 0.67) -> bool:
    """A key fact is in the answer when all its numbers are (exactly) and most of its words are."""
    if numbers(fact) - numbers(answer):
        return False
    terms = {t for t in _words(fact) if not re.fullmatch(r"\d+(\.\d+)?", t)}
    if not terms:
        return True
    return len(terms & _words(answer)) / len(terms) >= min_terms


def _words(text: str) -> set[str]:
    """Content terms with letter-only compounds split ("single-trial" -> single, trial; "Llama-70B" kept)."""
    return content_terms(re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text))


def correctness(answer: str, key_facts: Sequence[str]) -> tuple[float | None, list[str], list[str]]:
    if not key_facts:
        return None, [], []
    found = [f for f in key_facts if fact_present(f, answer)]
    missing = [f for f in key_facts if f not in found]
    return len(found) / len(key_facts), found, missing


# -- run-level -----------------------------------------------------------------------------------------


def abstention_metrics(answerable: Sequence[bool], abstained: Sequence[bool]) -> dict[str, float | None]:
    """Abstaining is the positive class; an unanswerable question is a true positive when abstained on."""
    tp = sum(1 for a, x in zip(answerable, abstained) if not a and x)
    fp = sum(1 for a, x in zip(answerable, abstained) if a and x)
    fn = sum(1 for a, x in zip(answerable, abstained) if not a and not x)
    n_answerable = sum(answerable)
    return {
        "abstention_precision": tp / (tp + fp) if tp + fp else None,
        "abstention_recall": tp / (tp + fn) if tp + fn else None,
        "answered_rate": (n_answerable - fp) / n_answerable if n_answerable else None,
    }


#: The min_evidence thresholds `rag eval` sweeps for the abstention curve: 0.20, 0.22, ..., 0.50.
ABSTENTION_SWEEP = tuple(round(0.20 + 0.02 * i, 2) for i in range(16))


def abstention_curve(answerable: Sequence[bool], top_evidence: Sequence[float | None],
                     thresholds: Sequence[float] = ABSTENTION_SWEEP,
                     configured: float | None = None) -> list[dict[str, float | bool | None]]:
    """What each min_evidence threshold would do: the engine abstains when a question's top evidence score is
    below it. Per threshold (``configured`` added to the sweep and marked), the share of unanswerable questions
    abstained on (higher is better) and of answerable ones (lower is better); ``None`` for a group with no
    questions. Questions without a top evidence score (failed ones) are left out."""
    known = [(a, e) for a, e in zip(answerable, top_evidence) if e is not None]
    if not known:
        return []
    grid = sorted(set(thresholds) | ({configured} if configured is not None else set()))

    def share(group: list[float], t: float) -> float | None:
        return sum(e < t for e in group) / len(group) if group else None

    yes = [e for a, e in known if a]
    no = [e for a, e in known if not a]
    return [{"threshold": t, "abstain_unanswerable": share(no, t), "abstain_answerable": share(yes, t),
             "configured": t == configured} for t in grid]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of ``values``."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def balanced_accuracy(labels: Sequence[bool], predicted: Sequence[bool]) -> float:
    pos = [p for y, p in zip(labels, predicted) if y]
    neg = [p for y, p in zip(labels, predicted) if not y]
    tpr = sum(pos) / len(pos) if pos else 0.0
    tnr = sum(not p for p in neg) / len(neg) if neg else 0.0
    return 0.5 * (tpr + tnr)


def label_precision_recall(expected: Sequence[str], predicted: Sequence[str], label: str) -> dict[str, float | int | None]:
    """Precision and recall of one verdict label (e.g. ``contradicted``), with the counts behind them;
    ``None`` where nothing was predicted (precision) or expected (recall) with that label."""
    hits = sum(1 for e, p in zip(expected, predicted) if e == p == label)
    n_predicted = sum(1 for p in predicted if p == label)
    n_expected = sum(1 for e in expected if e == label)
    return {
        "precision": hits / n_predicted if n_predicted else None,
        "recall": hits / n_expected if n_expected else None,
        "expected": n_expected,
        "predicted": n_predicted,
        "correct": hits,
    }
