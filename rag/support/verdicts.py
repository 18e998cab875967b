"""One verdict per answer sentence: is it supported by the sources it cites?

:func:`judge_sentences` applies ALCE's per-sentence rules (Gao et al., 2023) to any
``supports(text, numbers)`` test; :class:`AnswerChecker` runs them for a whole
:class:`~rag.types.Answer` with a :class:`Judge`, caching each (claim, sources) verdict.
The UI's ✓/✗ and the eval's citation metrics both come from here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from .checker import Verdict, default_label
from .statements import Statement, statements
from .text import strip_markers

#: ``supports(text, numbers)``: do the sources ``numbers``, read together, support ``text``?
Support = Callable[[str, list[int]], bool]
NOT_A_SOURCE = "cited a number that is not a source"
#: The reason given for a sentence the grounding step found no source to support (``Answer.unsupported``).
NO_SOURCE_SUPPORTS = "no retrieved source supports it"


class Judge(Protocol):
    """Decides whether source texts (read together) support a claim."""

    def check(self, claim: str, source: str | Iterable[str]) -> Verdict: ...


@dataclass
class SentenceVerdict:
    """An answer sentence and what the checker found.

    ``precise``: citations needed for it; ``overcited``: citations the others make redundant (ALCE).
    ``score`` (0..1, higher = better supported), ``reasons`` and ``label`` come from the judge: ``label`` is
    supported, contradicted (the cited sources say the opposite) or not_stated; left out, it follows ``supported``.
    """

    sentence: str
    cited: list[int]
    supported: bool
    precise: list[int] = field(default_factory=list)
    overcited: list[int] = field(default_factory=list)
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or default_label(self.supported)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence,
            "cited": list(self.cited),
            "supported": self.supported,
            "label": self.label,
            "precise": list(self.precise),
            "overcited": list(self.overcited),
            "score": round(self.score, 4),
            "reasons": list(self.reasons),
        }


def judge_sentences(stmts: list[Statement], supports: Support) -> list[SentenceVerdict]:
    """ALCE's verdict for each statement: supported when its citations, read together, support it;
    a citation is precise unless the others alone support the sentence and it alone does not."""
    out: list[SentenceVerdict] = []
    for st in stmts:
        joint = bool(st.cited) and supports(st.text, st.cited)
        precise: list[int] = []
        over: list[int] = []
        if joint and len(st.cited) > 1:
            for n in st.cited:
                if supports(st.text, [n]):
                    precise.append(n)
                elif supports(st.text, [m for m in st.cited if m != n]):
                    over.append(n)
                else:
                    precise.append(n)
        elif joint:
            precise = list(st.cited)
        out.append(SentenceVerdict(st.text, list(st.cited), joint, precise, over))
    return out


class AnswerChecker:
    """Per-sentence verdicts for answers, from one :class:`Judge`; safe to share between threads."""

    MAX_CACHED = 4096

    def __init__(self, judge: Judge, skip_lines: tuple[str, ...] = ()):
        self.judge = judge
        self.skip = skip_lines
        self._cache: dict[tuple[str, tuple[str, ...]], Verdict] = {}
        self._lock = threading.Lock()

    def verdict(self, text: str, numbers: list[int], sources: dict[int, str]) -> Verdict:
        """Does ``text`` follow from the sources ``numbers`` (read together)? Cached by claim and source texts."""
        texts = tuple(sources[n] for n in sorted(numbers) if n in sources)
        key = (text, texts)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self.judge.check(text, list(texts)) if texts else Verdict(False, 0.0, ["cites nothing"])
            with self._lock:
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = hit
        return hit

    def statements(self, answer) -> list[Statement]:
        return statements(answer.text, skip=self.skip)

    def supports(self, answer) -> Support:
        """The support test for ``answer``'s sentences: a sentence that cited a non-source is never supported."""
        sources = {s.number: s.text for s in answer.sources}
        flagged = [strip_markers(f) for f in getattr(answer, "flagged", [])]

        def supports(text: str, numbers: list[int]) -> bool:
            return not _is_flagged(text, flagged) and self.verdict(text, numbers, sources).supported

        return supports

    def sentence_verdicts(self, answer) -> list[SentenceVerdict]:
        """One :class:`SentenceVerdict` per sentence of ``answer`` (none for an abstention)."""
        if answer.abstained:
            return []
        sources = {s.number: s.text for s in answer.sources}
        flagged = [strip_markers(f) for f in getattr(answer, "flagged", [])]
        unsupported = [strip_markers(f) for f in getattr(answer, "unsupported", [])]
        verdicts = judge_sentences(self.statements(answer), self.supports(answer))
        for v in verdicts:
            checked = self.verdict(v.sentence, v.cited, sources) if v.cited else None
            v.score = checked.score if checked else 0.0
            v.reasons = list(checked.reasons) if checked else ["cites no source"]
            # a sentence citing a non-source is unsupported whatever its sources say: not a contradiction then
            v.label = checked.label if checked and checked.supported == v.supported else default_label(v.supported)
            if _is_flagged(v.sentence, unsupported):
                v.reasons.insert(0, NO_SOURCE_SUPPORTS)
            elif _is_flagged(v.sentence, flagged):
                v.reasons.insert(0, NOT_A_SOURCE)
        return verdicts


    def highlights(self, answer, verdicts: list[SentenceVerdict]) -> dict[int, list[str]]:
        """Per source number, the source sentences its citing answer sentences match best."""
        from .checker import best_sentence

        texts = {s.number: s.text for s in answer.sources}
        out: dict[int, list[str]] = {}
        for v in verdicts:
            for n in v.cited:
                if n in texts:
                    window = self.verdict(v.sentence, [n], texts).best_window
                    out.setdefault(n, []).append(best_sentence(v.sentence, window))
        return out


def _is_flagged(text: str, flagged: list[str]) -> bool:
    return any(text and f and (text in f or f in text) for f in flagged)
