"""Does a source support a sentence? The checker behind every ✓/✗ the product shows.

A product feature, not an eval detail: the UI marks each answer sentence with it, and
the eval harness scores answers with the same verdicts.

* :mod:`.text`: numbers, names and content terms of a text.
* :mod:`.checker`: :class:`SupportChecker` (hard checks + a calibrated soft match); its
  rules (``data/rules.json``) and calibration (``data/calibration.json``) are data.
* :mod:`.statements`: an answer split into sentences with the sources each cites.
* :mod:`.verdicts`: one verdict per answer sentence (:func:`sentence_verdicts`).
"""

from __future__ import annotations

from .checker import SupportChecker, Verdict, best_sentence
from .statements import Statement, parse_sentence, statements
from .verdicts import AnswerChecker, Judge, SentenceVerdict, judge_sentences

__all__ = [
    "AnswerChecker",
    "Judge",
    "SentenceVerdict",
    "Statement",
    "SupportChecker",
    "Verdict",
    "best_sentence",
    "judge_sentences",
    "parse_sentence",
    "statements",
]
