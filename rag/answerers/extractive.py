"""The offline answerer: quotes the sentences of the retrieved abstracts that answer best.

No language model: every sentence of the answer is a sentence of a source, cited.
Each candidate sentence is scored by MiniLM cosine to the question and by the
IDF-weighted share of the question's terms it contains; the best few, from the
strongest sources, are shown in source order.
"""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np

from ..chunking import split_sentences
from ..citations import strip_markers
from ..embedding import query_vector
from ..query import Query
from ..types import Source
from .base import Draft

PREAMBLE = "Extractive answer: the abstracts' own sentences that best match the question (no language model was used)."
MAX_SENTENCES = 4
MAX_PER_SOURCE = 3
MAX_SOURCES = 3
KEEP_MARGIN = 0.25  # keep sentences scoring within this of the best one
NUMBER_BOOST = 0.1  # for questions that ask for a quantity, sentences with numbers score higher
_ASKS_QUANTITY = re.compile(
    r"\bhow (many|much|fast|long|big|large|small|accurate|well|often)\b|\b(speed-?ups?|accuracy|percent|rate|latency|"
    r"throughput|error|size|number|cost|memory|time|faster|slower|improvement|reduction|score|parameters?)\b",
    re.IGNORECASE,
)
_HAS_NUMBER = re.compile(r"\d")
FINDING_BOOST = 0.12  # sentences that state what a paper does or found, over background
_FINDING = re.compile(
    r"\b(we|our|this (paper|work))\b.*\b(propos|present|introduc|show|find|found|demonstrat|develop|design|achiev|obtain)|"
    r"\b(achiev|outperform|improv|reduc|speed-?up|accelerat|surpass|enabl)\w*|\b\w+er than\b",
    re.IGNORECASE,
)
SOURCE_RATIO = 0.75  # consider sources whose evidence is at least this share of the best


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embedder, lexical):
        self.embedder = embedder
        self.lexical = lexical

    def answer(self, query: Query, sources: list[Source]) -> Draft:
        picked = self.select(query.question, sources)
        if not picked:
            return Draft(text="", abstained=True)
        lines = [PREAMBLE, ""]
        for number, sentence in picked:
            lines.append(f"- {_with_marker(sentence, number)}")
        return Draft(text="\n".join(lines))

    def stream(self, query: Query, sources: list[Source]) -> Iterator["str | Draft"]:
        draft = self.answer(query, sources)
        if draft.text:
            yield draft.text
        yield draft

    def select(self, question: str, sources: list[Source]) -> list[tuple[int, str]]:
        """``(source number, sentence)`` pairs to quote, in source order."""
        if not sources:
            return []
        best_evidence = max(s.evidence for s in sources)
        pool = [s for s in sources if s.evidence >= SOURCE_RATIO * best_evidence][:MAX_SOURCES]
        candidates: list[tuple[int, int, str]] = []  # (source number, position, sentence)
        for src in pool:
            for pos, sentence in enumerate(split_sentences(src.text)):
                sentence = strip_markers(sentence)  # the abstract's own "[3]" is not our source 3
                if re.search(r"\w", sentence):
                    candidates.append((src.number, pos, sentence))
        if not candidates:
            return []
        q_terms = self.lexical.terms(question)
        texts = [c[2] for c in candidates]
        memo = getattr(self.embedder, "embed_memo", None)  # test doubles may only have embed()
        vectors = memo(texts) if memo is not None else self.embedder.embed(texts)
        cosine = vectors @ query_vector(self.embedder, question)  # the vector retrieval already made
        coverage = np.array([self.lexical.coverage(q_terms, c[2]) for c in candidates])
        rank_prior = np.array([1.0 - 0.05 * (c[0] - 1) for c in candidates])
        score = (0.6 * cosine + 0.4 * coverage) * rank_prior
        score += FINDING_BOOST * np.array([bool(_FINDING.search(c[2])) for c in candidates])
        if _ASKS_QUANTITY.search(question):
            score += NUMBER_BOOST * np.array([bool(_HAS_NUMBER.search(c[2])) for c in candidates])
        # best first; equal scores in source order, then sentence order (stable, whatever the sort)
        order = np.lexsort((np.array([c[1] for c in candidates]), np.array([c[0] for c in candidates]), -score))
        best = float(score[order[0]])
        chosen: list[int] = []
        per_source: dict[int, int] = {}
        for i in order:
            if len(chosen) == MAX_SENTENCES or float(score[i]) < best - KEEP_MARGIN:
                break
            number = candidates[i][0]
            if per_source.get(number, 0) == MAX_PER_SOURCE:
                continue
            per_source[number] = per_source.get(number, 0) + 1
            chosen.append(int(i))
        chosen.sort(key=lambda i: (candidates[i][0], candidates[i][1]))
        return [(candidates[i][0], candidates[i][2]) for i in chosen]


def _with_marker(sentence: str, number: int) -> str:
    """``"It works."`` -> ``"It works [1]."``: the citation sits inside the sentence."""
    sentence = sentence.rstrip()
    if sentence and sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{number}]{sentence[-1]}"
    return f"{sentence} [{number}]"
