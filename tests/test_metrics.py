"""Each metric pinned on small hand-computed cases."""

import math

import pytest

from eval.metrics import (
    abstention_metrics,
    balanced_accuracy,
    citation_scores,
    correctness,
    fact_present,
    faithfulness,
    percentile,
    retrieval_metrics,
)
from rag.support import Statement, judge_sentences, statements


def citation_metrics(stmts, supports):
    """The core's per-sentence verdicts, then the eval's ALCE scores over them."""
    verdicts = judge_sentences(stmts, supports)
    return (*citation_scores(verdicts), verdicts)


def test_retrieval_metrics_hand_computed():
    # right papers at ranks 2 and 4, three right papers in all
    m = retrieval_metrics([False, True, False, True, False, False], n_relevant=3)
    assert m["hit@5"] == 1.0
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["mrr"] == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)


def test_retrieval_miss_and_rank_beyond_five():
    m = retrieval_metrics([False] * 6 + [True], n_relevant=1)
    assert (m["hit@5"], m["recall@5"]) == (0.0, 0.0)
    assert m["mrr"] == pytest.approx(1 / 7)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(8))
    assert retrieval_metrics([False] * 12, n_relevant=1)["mrr"] == 0.0


def test_the_cutoff_is_inclusive_rank_5_counts_rank_6_does_not():
    at_5 = retrieval_metrics([False, False, False, False, True, True], n_relevant=2)
    assert at_5["hit@5"] == 1.0 and at_5["recall@5"] == 0.5  # rank 5 in, rank 6 out
    assert at_5["mrr"] == pytest.approx(1 / 5)
    assert at_5["ndcg@10"] == pytest.approx((1 / math.log2(6) + 1 / math.log2(7)) / (1 + 1 / math.log2(3)))
    assert retrieval_metrics([False] * 5 + [True], n_relevant=1)["hit@5"] == 0.0
    at_10 = retrieval_metrics([False] * 9 + [True, True], n_relevant=1)
    assert at_10["mrr"] == pytest.approx(1 / 10) and at_10["ndcg@10"] == pytest.approx(1 / math.log2(11))
    assert retrieval_metrics([True] * 7, n_relevant=7, k=3)["recall@3"] == pytest.approx(3 / 7)


# A fake support relation: which source numbers support which sentence, alone.
FACTS = {
    "Alpha is fast.": {1},
    "Beta uses sparse kernels.": {2},
    "Gamma needs both papers.": set(),  # supported only by 1 and 2 together
    "Delta is made up.": set(),
}


def supports(text, cited):
    if text == "Gamma needs both papers.":
        return {1, 2} <= set(cited)
    return bool(FACTS[text] & set(cited))


def test_sentence_citing_two_sources_of_which_one_is_unneeded():
    recall, precision, verdicts = citation_metrics([Statement("Alpha is fast.", [1, 2])], supports)
    assert recall == 1.0
    assert precision == 0.5  # [2] alone does not support it and [1] without it does: [2] is unneeded
    assert verdicts[0].precise == [1] and verdicts[0].overcited == [2]


def test_two_sources_both_needed_are_both_precise():
    recall, precision, verdicts = citation_metrics([Statement("Gamma needs both papers.", [1, 2])], supports)
    assert (recall, precision) == (1.0, 1.0) and verdicts[0].overcited == []


def test_mixed_answer_hand_computed():
    stmts = [
        Statement("Alpha is fast.", [1]),  # supported, precise
        Statement("Beta uses sparse kernels.", [1]),  # cites the wrong source: unsupported, imprecise
        Statement("Delta is made up.", []),  # uncited: unsupported
        Statement("Alpha is fast.", [1, 2]),  # supported, [2] unneeded
    ]
    recall, precision, _ = citation_metrics(stmts, supports)
    assert recall == pytest.approx(2 / 4)
    assert precision == pytest.approx(2 / 4)  # precise: [1] of s1, [1] of s4; citations: 1 + 1 + 0 + 2


def test_answer_with_no_citations_scores_zero():
    recall, precision, verdicts = citation_metrics([Statement("Alpha is fast.", []), Statement("Delta is made up.", [])], supports)
    assert (recall, precision) == (0.0, 0.0)
    assert not any(v.supported for v in verdicts)
    assert faithfulness(["Alpha is fast."], [], supports) == 0.0


def test_faithfulness_uses_all_cited_sources_together():
    claims = ["Alpha is fast.", "Gamma needs both papers.", "Delta is made up."]
    assert faithfulness(claims, [1, 2], supports) == pytest.approx(2 / 3)
    assert faithfulness(claims, [1], supports) == pytest.approx(1 / 3)


def test_statements_split_sentences_and_attach_stray_markers():
    answer = (
        "Extractive answer: preamble.\n\n"
        "- First claim holds [1]. Second claim [2][3].\n"
        "Third claim. [2]\n"
        "No citation here."
    )
    st = statements(answer, skip=["Extractive answer: preamble."])
    assert [(s.text, s.cited) for s in st] == [
        ("First claim holds.", [1]),
        ("Second claim.", [2, 3]),
        ("Third claim.", [2]),
        ("No citation here.", []),
    ]


@pytest.mark.parametrize(
    "fact, answer, present",
    [
        ("1.81x", "It reaches up to 1.81x speedup [1].", True),
        ("1.81x", "It reaches up to 1.8x speedup [1].", False),  # numbers must match exactly
        ("41-137times", "between 41 and 137 times faster", True),
        ("A100 and H100", "evaluated on H100 and A100 GPUs", True),
        ("A100 and H100", "evaluated on A100 GPUs", False),
        ("Llama-70B", "for Llama-70B models", True),
        ("single-trial learning", "it learns from a single trial", True),
        ("33.5%", "a 33.5\\% gain", True),
    ],
)
def test_fact_present(fact, answer, present):
    assert fact_present(fact, answer) is present


def test_correctness_share_of_key_facts():
    score, found, missing = correctness("Up to 1.81x on A100 [1].", ["1.81x", "A100", "1.78x", "Granite-20B"])
    assert score == 0.5 and found == ["1.81x", "A100"] and missing == ["1.78x", "Granite-20B"]
    assert correctness("anything", []) == (None, [], [])


def test_abstention_metrics():
    answerable = [True, True, True, True, False, False, False]
    abstained = [False, True, False, False, True, True, False]
    m = abstention_metrics(answerable, abstained)
    assert m["abstention_precision"] == pytest.approx(2 / 3)
    assert m["abstention_recall"] == pytest.approx(2 / 3)
    assert m["answered_rate"] == pytest.approx(3 / 4)
    assert abstention_metrics([True], [False])["abstention_precision"] is None


def test_percentile_and_balanced_accuracy():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 95) == 5.0 and percentile([], 50) is None
    assert percentile(list(range(101)), 95) == 95
    assert balanced_accuracy([True, True, False, False], [True, False, False, False]) == 0.75


def test_numbered_list_items_are_not_sentences_of_their_own():
    st = statements("1. SlimPajama-DC cuts memory [1].\n2) Pipette automates parallelism [2].")
    assert [(s.text, s.cited) for s in st] == [("SlimPajama-DC cuts memory.", [1]), ("Pipette automates parallelism.", [2])]


def test_label_precision_recall_hand_computed():
    from eval.metrics import label_precision_recall

    expected = ["contradicted", "contradicted", "contradicted", "not_stated", "supported", "not_stated"]
    predicted = ["contradicted", "not_stated", "supported", "contradicted", "supported", "not_stated"]
    pr = label_precision_recall(expected, predicted, "contradicted")
    assert pr == {"precision": 0.5, "recall": pytest.approx(1 / 3), "expected": 3, "predicted": 2, "correct": 1}
    none = label_precision_recall(["supported"], ["supported"], "contradicted")
    assert none["precision"] is None and none["recall"] is None


def test_abstention_curve_hand_computed():
    from eval.metrics import abstention_curve

    answerable = [True, True, True, True, False, False, True]  # the last: failed, so no top evidence
    top = [0.30, 0.45, 0.50, 0.21, 0.25, 0.40, None]
    curve = abstention_curve(answerable, top, thresholds=[0.20, 0.30, 0.46], configured=0.41)
    assert [p["threshold"] for p in curve] == [0.20, 0.30, 0.41, 0.46]  # the configured one added, in order
    assert [p["configured"] for p in curve] == [False, False, True, False]
    # abstains when the top evidence is below the threshold: 0.30 at threshold 0.30 answers
    assert [p["abstain_unanswerable"] for p in curve] == [0.0, 0.5, 1.0, 1.0]
    assert [p["abstain_answerable"] for p in curve] == [0.0, 0.25, 0.5, 0.75]
    only_answerable = abstention_curve([True], [0.1], thresholds=[0.2])
    assert only_answerable == [{"threshold": 0.2, "abstain_unanswerable": None, "abstain_answerable": 1.0,
                                "configured": False}]
    assert abstention_curve([True], [None]) == []


def test_default_abstention_sweep_is_020_to_050_in_steps_of_002():
    from eval.metrics import ABSTENTION_SWEEP

    assert ABSTENTION_SWEEP[0] == 0.20 and ABSTENTION_SWEEP[-1] == 0.50 and len(ABSTENTION_SWEEP) == 16
    assert 0.34 in ABSTENTION_SWEEP  # the default min_evidence lies on the sweep
