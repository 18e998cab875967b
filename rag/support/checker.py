"""The support checker: does a source text support a claim?

Offline and deterministic. Two kinds of evidence, in this order:

* **Hard checks** that a faithful claim cannot fail: every number in the claim occurs in
  the source (as a number, after unit and number-word normalisation); every named
  method, model, dataset or piece of hardware (``A100``, ``Llama-70B``,
  ``FlashAttention``, ``SSD``) occurs in the source; a negation, a reversed direction
  (faster/slower, increases/reduces) or an absolute quantifier (always, every,
  regardless) is not present on one side only.
* A **soft check**: the best match between the claim and any window of one or two
  consecutive source sentences, blending MiniLM cosine and the share of the claim's
  content words found there. Its threshold is calibrated on labelled pairs
  (``eval/data/claims.jsonl``, see ``python -m eval.calibrate``).

``check(claim, source)`` returns a :class:`Verdict` with ``supported``, a ``score`` in
0..1 (higher = better supported; ``>= threshold`` means supported), the reasons and a
``label``: ``supported``; ``contradicted`` when the best-matching source window says the
opposite (a negation on one side only, a reversed direction or a reversed comparison);
``not_stated`` otherwise (no support found, and no contradiction either).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable

import numpy as np

from .text import (
    STOP,
    content_terms,
    entities,
    entity_in,
    fmt_number,
    numbers,
    same_number,
    squash,
    stemmer,
    strip_markers,
    term_recall,
)
from .windows import WINDOW_CACHE_SIZE, WindowCache

CALIBRATION_FILE = "calibration.json"
RULES_FILE = "rules.json"
#: Used when no calibration file ships; calibrate.py writes the tuned one.
DEFAULT_PARAMS = {"threshold": 0.6, "cosine_weight": 0.5, "hard_penalty": 0.5}
#: An upper bound on the cosine of two unit vectors, with room for float32 rounding (384 terms: < 1e-4).
COS_BOUND = 1.001
#: Vectors whose norm is further than this from 1 are not unit vectors: the checker then embeds every window.
UNIT_TOLERANCE = 1e-3
#: Windows embedded first for a claim, the highest by their best possible score; they set the bar for the rest.
FIRST_WINDOWS = 3


def load_rules() -> dict[str, Any]:
    """The hard checks' word lists (``data/rules.json``, beside the calibration file)."""
    return json.loads((resources.files("rag.support") / "data" / RULES_FILE).read_text(encoding="utf-8"))


def _alternation(alternatives: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(alternatives) + r")\b", re.I)


_RULES = load_rules()
_NEGATION = _alternation(_RULES["negation_cues"])
_ABSOLUTE = _alternation(_RULES["absolute_words"])
_DIRECTIONS: list[tuple[str, str]] = [(up, down) for up, down in _RULES["direction_pairs"]]
_ALTERNATIVES: list[tuple[str, str]] = [(a, b) for a, b in _RULES.get("alternative_pairs", [])]
_COMPARATIVE = _alternation(_RULES["comparatives"])


SUPPORTED, CONTRADICTED, NOT_STATED = "supported", "contradicted", "not_stated"
LABELS = (SUPPORTED, CONTRADICTED, NOT_STATED)


def default_label(supported: bool) -> str:
    """The label of a verdict that names none: ``supported`` or ``not_stated`` (never a guessed contradiction)."""
    return SUPPORTED if supported else NOT_STATED


@dataclass
class Verdict:
    """``label``: supported, contradicted (the source says the opposite) or not_stated; left out,
    it follows ``supported``. ``supported`` is True exactly when the label is ``supported``."""

    supported: bool
    score: float
    reasons: list[str] = field(default_factory=list)
    best_window: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or default_label(self.supported)
        if self.label not in LABELS:
            raise ValueError(f"unknown verdict label {self.label!r}: use one of {', '.join(LABELS)}")
        if (self.label == SUPPORTED) != self.supported:
            raise ValueError(f"a verdict labelled {self.label!r} cannot have supported={self.supported}")

    def to_dict(self) -> dict[str, Any]:
        return {"supported": self.supported, "label": self.label, "score": round(self.score, 4),
                "reasons": self.reasons}


class SupportChecker:
    """Checks claims against source texts. ``params`` come from the calibration file; ``cache_size``: source
    texts whose sentence windows (and window vectors) are kept between checks (0: none, see :mod:`.windows`);
    ``prune``: embed only the windows that can be a claim's best match (the verdicts are the same either way)."""

    def __init__(self, embedder=None, params: dict[str, float] | None = None, cache_size: int = WINDOW_CACHE_SIZE,
                 prune: bool = True):
        self._embedder = embedder
        self.params = dict(DEFAULT_PARAMS, **(params or load_params()))
        self._windows_of = WindowCache(lambda: self.embedder, cache_size)
        #: skip embedding windows that provably cannot be a claim's best match (False: embed every window)
        self.prune = prune

    @property
    def embedder(self):
        if self._embedder is None:
            from ..embedding import MiniLMEmbedding

            self._embedder = MiniLMEmbedding()
        return self._embedder

    # -- public ------------------------------------------------------------------------------
    def check(self, claim: str, source: str | Iterable[str]) -> Verdict:
        """Is ``claim`` supported by ``source`` (a text, or several texts read together)?"""
        texts = [source] if isinstance(source, str) else list(source)
        features = self.features(claim, texts)
        return self.decide(features)

    # -- the two halves, separate so calibration can reuse features ----------------------
    def features(self, claim: str, texts: list[str]) -> dict[str, Any]:
        claim = strip_markers(claim)
        source = " ".join(texts)
        windows, window_terms, source_terms = self._windows_of(texts)
        claim_terms = content_terms(claim)
        recall = np.array([term_recall(claim_terms, terms) for terms in window_terms]) if windows else np.zeros(0)
        cos, best = self._best_window(claim, windows, recall) if windows else (np.zeros(0), -1)
        window = windows[best] if best >= 0 else ""
        return {
            "cos": float(cos[best]) if best >= 0 else 0.0,
            "recall": float(recall[best]) if best >= 0 else 0.0,
            "source_recall": term_recall(claim_terms, source_terms),
            "hard": hard_failures(claim, source, window),
            "contradictions": contradictions(claim, window),
            "window": window,
        }

    def _best_window(self, claim: str, windows: list[str], recall: np.ndarray) -> tuple[np.ndarray, int]:
        """The cosines (exact where embedded) and the index of the window with the best ``0.5 cos + 0.5 recall``.

        Exactly the window embedding them all would pick, while embedding few: a cosine of unit vectors is
        at most 1 (``COS_BOUND`` allows for rounding), so a window whose ``0.5 COS_BOUND + 0.5 recall`` is
        below a score already reached cannot be the best (nor tie it: ties go to the first window) and is
        not embedded. The most promising windows (and those already embedded) are scored first."""
        claim_vec = self._windows_of.claim_vector(claim)
        bound = 0.5 * COS_BOUND + 0.5 * recall
        if not self.prune or abs(float(np.linalg.norm(claim_vec)) - 1.0) > UNIT_TOLERANCE:
            wanted = set(range(len(windows)))  # not unit vectors: no bound holds, score every window
        else:
            top = np.argsort(-bound, kind="stable")[:FIRST_WINDOWS]
            wanted = {int(i) for i in top} | set(self._windows_of.cached(windows))
        vectors = self._windows_of.vectors(windows, wanted)
        combined = 0.5 * (vectors @ claim_vec) + 0.5 * recall
        reached = max(combined[i] for i in wanted)
        rest = {i for i in range(len(windows)) if i not in wanted and bound[i] >= reached}
        if rest:
            wanted |= rest
            vectors = self._windows_of.vectors(windows, wanted)
            combined = 0.5 * (vectors @ claim_vec) + 0.5 * recall
        if self.prune and np.any(np.abs(np.linalg.norm(vectors[sorted(wanted)], axis=1) - 1.0) > UNIT_TOLERANCE):
            self.prune = False  # an embedder without unit vectors: the bound is void, score all from now on
            return self._best_window(claim, windows, recall)
        cos = vectors @ claim_vec
        combined[[i for i in range(len(windows)) if i not in wanted]] = -np.inf
        return cos, int(np.argmax(combined))

    def decide(self, f: dict[str, Any], params: dict[str, float] | None = None) -> Verdict:
        p = dict(self.params, **(params or {}))
        w = p["cosine_weight"]
        soft = w * _rescale(f["cos"]) + (1 - w) * max(f["recall"], 0.8 * f["source_recall"])
        score = soft * (p["hard_penalty"] if f["hard"] else 1.0)
        supported = not f["hard"] and soft >= p["threshold"]
        reasons = list(f["hard"]) or ([f"best match {soft:.2f} is below {p['threshold']:.2f}"] if not supported else [])
        # contradicted: the window matches the claim as well as a supporting one would, but says the opposite
        contradicted = not supported and bool(f.get("contradictions")) and soft >= p["threshold"]
        label = SUPPORTED if supported else CONTRADICTED if contradicted else NOT_STATED
        return Verdict(supported, float(min(max(score, 0.0), 1.0)), reasons, f["window"], label)


# -- hard checks ---------------------------------------------------------------------------------


def hard_failures(claim: str, source: str, window: str) -> list[str]:
    """Reasons the claim cannot be supported by ``source`` (empty: none found)."""
    reasons = []
    in_source = numbers(source, strict=False)
    missing_numbers = sorted(n for n in numbers(claim) if not same_number(n, in_source))
    if missing_numbers:
        reasons.append("numbers not in the source: " + ", ".join(fmt_number(n) for n in missing_numbers))
    src_key = squash(source)
    names = entities(claim)
    missing = [e for e in names if not entity_in(e, src_key) and not _expands(e, source)]
    if missing:
        reasons.append("names not in the source: " + ", ".join(missing))
    swapped = _swapped_names(names, window)
    if swapped:
        reasons.append("names differ from the matching source sentence: " + swapped)
    sentence = best_sentence(claim, window)
    reasons.extend(contradictions(claim, window))
    reasons.extend(f"'{said}' where the matching source sentence says '{theirs}'"
                   for said, theirs in _switched(claim, sentence, _ALTERNATIVES))
    dropped = _dropped_qualifier(claim, sentence)
    if dropped:
        reasons.append(f"drops the source's qualifier '{dropped}'")
    absolutes = {m.lower() for m in _ABSOLUTE.findall(claim)} - {m.lower() for m in _ABSOLUTE.findall(source)}
    if absolutes:
        reasons.append("absolute words not in the source: " + ", ".join(sorted(absolutes)))
    return reasons


def contradictions(claim: str, window: str) -> list[str]:
    """Ways the matching source ``window`` says the opposite of ``claim`` (empty: none found):
    a negation on one side only, a reversed comparison, a reversed direction."""
    sentence = best_sentence(claim, window)
    reasons = []
    negated = _negation_mismatch(claim, window)
    if negated:
        reasons.append(negated)
    if _comparison_reversed(claim, sentence):
        reasons.append("comparison reversed")
    reasons.extend(f"direction reversed ('{said}')" for said, _ in _switched(claim, sentence, _DIRECTIONS))
    return reasons


def _switched(claim: str, sentence: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(claim word, source word)`` for each pair whose one side the claim says (not negated) where
    ``sentence`` says only the other side."""
    out = []
    for up, down in pairs:
        for a, b in ((up, down), (down, up)):
            said = re.search(rf"\b({a})\w*", claim, re.I)
            if said and _NEGATION.search(" ".join(claim[: said.start()].split()[-2:])):
                said = None
            if (
                said
                and not re.search(rf"\b({b})", claim, re.I)  # a claim naming both sides states a contrast
                and not re.search(rf"\b({a})", sentence, re.I)
                and (theirs := re.search(rf"\b({b})\w*", sentence, re.I))
            ):
                out.append((said.group(0), theirs.group(0)))
    return out


_QUALIFIER = _alternation(_RULES["qualifiers"])
_CLAIM_HEDGE = _alternation(_RULES["claim_hedges"])


def _dropped_qualifier(claim: str, sentence: str) -> str:
    """The source says "up to 3.6 BLEU" or "under certain conditions"; the claim states it flat."""
    if _CLAIM_HEDGE.search(claim):
        return ""
    claim_terms = content_terms(claim)
    claim_numbers = numbers(claim)
    for m in _QUALIFIER.finditer(sentence):
        after = sentence[m.end() : m.end() + 40]
        if numbers(after) & claim_numbers or content_terms(" ".join(after.split()[:3])) & claim_terms:
            return m.group(0)
    return ""


def best_sentence(claim: str, window: str) -> str:
    """The sentence of ``window`` that shares most content words with ``claim``."""
    from ..chunking import split_sentences

    sents = split_sentences(window) or [window]
    terms = content_terms(claim)
    return max(sents, key=lambda s: len(terms & content_terms(s)))


def _expands(acronym: str, source: str) -> bool:
    """``DNN`` is in the source as "deep neural networks", ``kNN`` as "k-nearest-neighbor"."""
    key = acronym.lower().rstrip("s") if len(acronym) > 2 else acronym.lower()
    if not key.isalpha() or not 2 <= len(key) <= 6:
        return False
    words = re.findall(r"[a-z0-9]+", source.lower())
    initials = "".join(w[0] for w in words)
    return key in initials and any(initials[i : i + len(key)] == key for i in range(len(initials)))


def _shape(name: str) -> str:
    if any(c.isdigit() for c in name):
        return "alnum"
    if name.isupper():
        return "acronym"
    return "word"


def _swapped_names(names: list[str], window: str) -> str:
    """A claim name missing from the matching window while a same-shaped name there is missing from the claim."""
    claim_text = "".join(squash(n) for n in names)
    window_key = squash(window)
    theirs = [e for e in entities(window) if squash(e).rstrip("s") not in claim_text]
    for i, name in enumerate(names):
        # the first name is usually the claim's subject (the paper's method), named in another
        # sentence than the matching one; the whole-source check covers it
        if i == 0 or entity_in(name, window_key):
            continue
        rival = next((e for e in theirs if _shape(e) == _shape(name) and _shape(name) != "word"), None)
        if rival:
            return f"{name} vs {rival}"
    return ""


def _negation_mismatch(claim: str, window: str) -> str:
    """A negation on one side only, about a word the other side also uses ("does not generalize" vs "generalizes").

    A negation of something the other side never mentions ("no previous work studied X")
    says nothing about the claim, so it is not counted.
    """
    in_claim, in_source = _negated_terms(claim), _negated_terms(window)
    if in_claim and not in_source and in_claim & content_terms(window):
        return "negation only in the claim"
    if in_source and not in_claim and in_source & content_terms(claim):
        return "negation only in the source"
    return ""


def _negated_terms(text: str) -> set[str]:
    """Stems of the first two content words after each negation cue."""
    out: set[str] = set()
    text = re.sub(r"\bwith (and|or) without\b", "with", text, flags=re.I)
    for m in _NEGATION.finditer(text):
        if m.group(0).lower().startswith(("disprov", "refut")):
            out.add(m.group(0).lower()[:6])
        clause = re.split(r"[;:,.()]", text[m.end() :], maxsplit=1)[0]
        following = [w for w in re.findall(r"[a-z][a-z\-]*", clause.lower())[:6] if w not in STOP and w not in _AUX]
        # "without hurting accuracy", "no loss in quality": only the harm itself is negated, so only
        # a side that asserts the harm contradicts it (not one that merely mentions accuracy)
        harm = bool(following) and following[0].startswith(_HARMS)
        out.update(stemmer().stemWords(following[:1] if harm else following[:2]))
    return out


_HARMS = tuple(_RULES["harm_prefixes"])
_AUX = frozenset(_RULES["auxiliaries"])


def _comparison_reversed(claim: str, sentence: str) -> bool:
    """"A outperforms B" in the claim where the source says "B outperforms A"."""
    mc, ms = _COMPARATIVE.search(claim), _COMPARATIVE.search(sentence)
    if not mc or not ms:
        return False
    before, after = content_terms(sentence[: ms.start()]), content_terms(sentence[ms.end() :])
    left = content_terms(claim[: mc.start()]) & (before | after)
    right = content_terms(claim[mc.end() :]) & (before | after)
    left_only, right_only = left - right, right - left
    if not left_only or not right_only:
        return False
    return not (left_only & before) and bool(left_only & after) and bool(right_only & before)


# -- soft check ----------------------------------------------------------------------------------


def _rescale(cos: float) -> float:
    """MiniLM cosine, mapped from its useful 0.2..0.9 range to 0..1."""
    return min(max((cos - 0.2) / 0.7, 0.0), 1.0)


# -- calibration file ------------------------------------------------------------------------------


def load_calibration() -> dict[str, Any]:
    """The calibration file written by ``python -m eval.calibrate`` (empty if absent)."""
    try:
        return json.loads((resources.files("rag.support") / "data" / CALIBRATION_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def load_params() -> dict[str, float]:
    return {k: float(v) for k, v in load_calibration().get("params", {}).items()}
