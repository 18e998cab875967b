"""Synthetic collections of abstracts made from real sentences, each with queries whose target is known.

The sentence source is the bundled sample (247 real abstracts). Every sentence of a generated
abstract is *spliced*: the first half of one real sentence joined to the second half of another,
and no spliced sentence is used twice in a collection, so each one belongs to exactly one paper.
Each half still occurs in many papers (hundreds at 100k), so a query built from one spliced
sentence is only answered well by finding both halves together: hit@5 gets harder as the
collection grows, as it should.

Queries alternate between two kinds:

* ``phrase``: the spliced sentence as it stands (exact phrase);
* ``keywords``: a seeded subset of its content words from both halves, shuffled and lower-cased
  (no longer a substring of anything).

Everything depends on ``seed`` alone: the same arguments give the same files, byte for byte.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

SENTENCES_PER_PAPER = (4, 8)  #: inclusive range of sentences in a generated abstract
MIN_SENTENCE_WORDS = 8  #: shorter sentences are not used (too little of each half)
FIRST_YEAR, LAST_YEAR = 2015, 2025
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-]+")
#: Words a keyword query leaves out (the engine's BM25 drops English stopwords too).
STOPWORDS = frozenset(
    "a an and are as at be been by can for from has have in into is it its of on or our that the their "
    "these this those to was we were which while with without not also both than then thus such via "
    "over under between more most using used use show shows propose proposes present presents".split()
)


@dataclass(frozen=True)
class BenchPaper:
    paper_id: str
    title: str
    abstract: str
    year: int

    def to_record(self) -> dict[str, object]:
        return {"id": self.paper_id, "title": self.title, "abstract": self.abstract, "year": self.year}


@dataclass(frozen=True)
class BenchQuery:
    question: str
    target: str  #: the paper_id of the one paper the query was made from
    kind: str  #: ``phrase`` or ``keywords``


@dataclass(frozen=True)
class Collection:
    papers: list[BenchPaper]
    queries: list[BenchQuery]
    extra: BenchPaper  #: one more paper, not in ``papers``, for the add-one-paper measurement
    extra_query: BenchQuery

    @staticmethod
    def files(directory: Path) -> tuple[Path, Path]:
        """Where :meth:`write` puts the papers and the extra paper (what `rag ingest` reads)."""
        return directory / "papers.jsonl", directory / "extra.jsonl"

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write ``papers.jsonl`` and ``extra.jsonl`` (:meth:`files`) and ``queries.jsonl``."""
        directory.mkdir(parents=True, exist_ok=True)
        papers, extra = self.files(directory)
        _write_lines(papers, (p.to_record() for p in self.papers))
        _write_lines(extra, [self.extra.to_record()])
        _write_lines(directory / "queries.jsonl", (vars(q) for q in [*self.queries, self.extra_query]))
        return papers, extra


def _write_lines(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class SentenceSource:
    """Real sentences (split into halves at a word boundary) and real title words."""

    halves: list[tuple[str, str]]
    title_words: list[str]

    @classmethod
    def from_abstracts(cls, abstracts: list[tuple[str, str]]) -> "SentenceSource":
        """From ``(title, abstract)`` pairs, in their order (so the source is deterministic)."""
        halves: list[tuple[str, str]] = []
        seen: set[str] = set()
        words: list[str] = []
        for title, abstract in abstracts:
            for sentence in _SPLIT.split(" ".join(abstract.split())):
                tokens = sentence.split()
                if len(tokens) < MIN_SENTENCE_WORDS or sentence in seen:
                    continue
                seen.add(sentence)
                mid = len(tokens) // 2
                halves.append((" ".join(tokens[:mid]), " ".join(tokens[mid:])))
            words.extend(w for w in _WORD.findall(title) if w.lower() not in STOPWORDS and len(w) > 2)
        if len(halves) < 50 or len(words) < 20:
            raise ValueError(f"The sentence source is too small ({len(halves)} sentences): give it more abstracts.")
        return cls(halves, sorted(set(words)))


def sample_source() -> SentenceSource:
    """The bundled sample's sentences (rag/data), read with the engine's own reader."""
    from rag.engine import sample_corpus
    from rag.readers import read_papers

    pairs = [(p.title, p.abstract) for _, p in read_papers(sample_corpus()) if not isinstance(p, str)]
    return SentenceSource.from_abstracts(pairs)


def generate(n_papers: int, n_queries: int, seed: int = 0, source: SentenceSource | None = None) -> Collection:
    """``n_papers`` abstracts and ``n_queries`` queries (at most one per paper), all determined by ``seed``."""
    if n_papers < 1 or n_queries < 1:
        raise ValueError("A collection needs at least one paper and one query.")
    source = source or sample_source()
    rng = random.Random(seed)
    used: set[tuple[int, int]] = set()
    limit = len(source.halves) * (len(source.halves) - 1)
    papers = [_paper(i, source, rng, used, limit) for i in range(n_papers + 1)]
    extra = papers.pop()
    targets = sorted(rng.sample(range(n_papers), min(n_queries, n_papers)))
    queries = [_query(papers[t], source, rng, "phrase" if j % 2 == 0 else "keywords") for j, t in enumerate(targets)]
    return Collection(papers, queries, extra, _query(extra, source, rng, "phrase"))


def _paper(i: int, source: SentenceSource, rng: random.Random, used: set[tuple[int, int]], limit: int) -> BenchPaper:
    n = rng.randint(*SENTENCES_PER_PAPER)
    sentences = []
    for _ in range(n):
        if len(used) >= limit:
            raise ValueError("The sentence source has no unused sentence pairs left: generate a smaller collection.")
        while True:
            pair = (rng.randrange(len(source.halves)), rng.randrange(len(source.halves)))
            if pair[0] != pair[1] and pair not in used:
                break
        used.add(pair)
        sentences.append(_spliced(source, pair))
    words = rng.sample(source.title_words, 4)
    title = f"{words[0]} {words[1]} for {words[2]} {words[3]} ({i})"
    return BenchPaper(f"bench-{i:07d}", title, " ".join(sentences), rng.randint(FIRST_YEAR, LAST_YEAR))


def _spliced(source: SentenceSource, pair: tuple[int, int]) -> str:
    head, tail = source.halves[pair[0]][0], source.halves[pair[1]][1]
    return f"{head} {tail}"


def sentences_of(paper: BenchPaper) -> list[str]:
    return _SPLIT.split(paper.abstract)


def _query(paper: BenchPaper, source: SentenceSource, rng: random.Random, kind: str) -> BenchQuery:
    sentences = [s for s in sentences_of(paper) if len(s.split()) >= MIN_SENTENCE_WORDS]
    sentence = rng.choice(sentences or [paper.abstract])
    if kind == "phrase":
        return BenchQuery(sentence, paper.paper_id, kind)
    tokens = sentence.split()
    mid = len(tokens) // 2
    picked: list[str] = []
    for half in (tokens[:mid], tokens[mid:]):  # words from both halves: only the target has them together
        content = list(dict.fromkeys(w.lower() for w in _WORD.findall(" ".join(half)) if w.lower() not in STOPWORDS))
        picked.extend(rng.sample(content, max(1, (len(content) * 3) // 5)) if content else [])
    rng.shuffle(picked)
    question = " ".join(picked) if len(picked) >= 2 else sentence
    return BenchQuery(question, paper.paper_id, kind)
