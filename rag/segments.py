"""An incremental BM25 index: a main segment, a small delta of chunks added since, and tombstones.

bm25s precomputes each (term, chunk) score with the collection's IDF and average length baked
in, so two bm25s indexes cannot be merged exactly: adding one chunk changes every score. A
segment here keeps what those scores are made of instead: bm25s's tokens, as a term-by-chunk
matrix of term frequencies in bm25s's CSC layout (``indptr``/``indices``/``data``), and each
chunk's length. At query time the collection's statistics (N, average length, document
frequencies of the query's terms) are summed over the live chunks of both segments, and each
chunk's score is computed with bm25s's own formulas (``lucene`` BM25, k1 = 1.5, b = 0.75), in
bm25s's order of float operations (float32 IDF and sums, float64 term-frequency part). A chunk's
score therefore depends only on the collection's contents, not on which segment holds it: the
merged index scores exactly as one built from scratch (``tests/test_incremental_bm25.py``), and
as bm25s itself to float32 rounding.

Only the query's terms are scored, so a query costs the length of their postings; an update
costs the tokens of the chunks added. The delta is folded into the main segment (a full build)
when it passes :data:`COMPACT_SHARE` of the main segment's size.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults
COMPACT_SHARE = 0.1  #: fold the delta into the main segment when added + removed chunks pass this share of it
FORMAT = 2  #: 2: each chunk's metadata as JSON text (1 held parsed dicts: three times the memory)
DF_MEMO = 50_000  #: document frequencies a merged index remembers (query terms; cleared when full)


def compact(meta: dict[str, Any] | str) -> str:
    """A chunk's metadata as the JSON text a segment keeps (parsed again only for the hits that are read)."""
    return meta if isinstance(meta, str) else json.dumps(meta, ensure_ascii=False, separators=(",", ":"))


def tokenize(texts: list[str], stopwords: str | None, stemmer: Any) -> list[list[str]]:
    """bm25s's tokens of each text (lowercased, ``stopwords`` out, stemmed), duplicates kept."""
    import bm25s

    if not texts:
        return []
    return bm25s.tokenize(texts, stopwords=stopwords, stemmer=stemmer, return_ids=False, show_progress=False)


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """bm25s's ``lucene`` IDF, stored as float32 as bm25s stores it (0 for a term no live chunk uses)."""
    out = np.zeros(len(df), dtype=np.float32)
    for i, d in enumerate(df):
        if d:
            out[i] = math.log(1 + (n_docs - d + 0.5) / (d + 0.5))
    return out


@dataclass
class Segment:
    """Chunks and their term frequencies: ``ids``, ``texts`` and ``metas`` (as the store holds them, the
    metadata as JSON text: :func:`compact`) in chunk-id order; column ``t`` of the CSC matrix lists the
    chunks using term ``t`` and how often."""

    ids: list[str]
    texts: list[str]
    metas: list[str]
    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(vocab) + 1
    rows: np.ndarray  # int32 chunk positions
    tf: np.ndarray  # float32 term frequencies
    lengths: np.ndarray  # int64 tokens per chunk
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {cid: i for i, cid in enumerate(self.ids)}

    @property
    def size(self) -> int:
        return len(self.ids)

    def meta(self, i: int) -> dict[str, Any]:
        """The metadata of chunk ``i``, parsed."""
        return json.loads(self.metas[i])

    @classmethod
    def build(cls, records: list[tuple[str, str, Any]], tokens: list[list[str]]) -> Segment:
        """A segment of ``records`` (``(id, text, metadata)``, in id order; the metadata a dict or its
        :func:`compact` text) and their bm25s ``tokens``."""
        vocab: dict[str, int] = {}
        lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
        # numpy arrays straight from the tokens: lists of Python ints would take some 60 bytes a token
        cols = np.fromiter((vocab.setdefault(t, len(vocab)) for toks in tokens for t in toks), dtype=np.int64,
                           count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
        n_docs = len(records)
        pairs, counts = np.unique(cols * max(n_docs, 1) + rows, return_counts=True)  # sorted by term, then chunk
        pair_cols = pairs // max(n_docs, 1)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_cols, minlength=len(vocab)), out=indptr[1:])
        return cls(
            ids=[r[0] for r in records],
            texts=[r[1] for r in records],
            metas=[compact(r[2]) for r in records],
            vocab=vocab,
            indptr=indptr,
            rows=(pairs % max(n_docs, 1)).astype(np.int32),
            tf=counts.astype(np.float32),
            lengths=lengths,
        )

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Chunk positions using ``term``, and its frequency in each."""
        t = self.vocab.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = self.indptr[t], self.indptr[t + 1]
        return self.rows[start:end], self.tf[start:end]

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the segment into the (new, empty) directory ``path``; raises on what JSON cannot hold."""
        with (path / "corpus.jsonl").open("w", encoding="utf-8") as fh:
            for cid, text, meta in zip(self.ids, self.texts, self.metas):
                fh.write(json.dumps({"id": cid, "text": text, "meta": meta}, ensure_ascii=False) + "\n")
        np.savez(path / "segment.npz", indptr=self.indptr, rows=self.rows, tf=self.tf, lengths=self.lengths)
        (path / "vocab.json").write_text(json.dumps(list(self.vocab)), encoding="utf-8")
        (path / "segment.json").write_text(json.dumps({"format": FORMAT, "docs": self.size}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Segment:
        """Read a segment back; raises ValueError unless every part holds the same chunks."""
        head = json.loads((path / "segment.json").read_text(encoding="utf-8"))
        if head.get("format") != FORMAT:
            raise ValueError(f"segment format {head.get('format')}, not {FORMAT}")
        ids, texts, metas = [], [], []
        with (path / "corpus.jsonl").open(encoding="utf-8") as fh:  # a line at a time: the file can be large
            for line in fh:
                record = json.loads(line)
                if not isinstance(record.get("meta"), str):
                    raise ValueError("a corpus record without its metadata text")
                ids.append(record["id"])
                texts.append(record["text"])
                metas.append(record["meta"])
        vocab = {t: i for i, t in enumerate(json.loads((path / "vocab.json").read_text(encoding="utf-8")))}
        with np.load(path / "segment.npz") as arrays:
            parts = {k: arrays[k] for k in ("indptr", "rows", "tf", "lengths")}
        n = head.get("docs")
        rows = parts["rows"]
        if not (len(ids) == len(parts["lengths"]) == n and len(parts["indptr"]) == len(vocab) + 1
                and len(rows) == len(parts["tf"]) == int(parts["indptr"][-1]) and (not len(rows) or int(rows.max()) < n)):
            raise ValueError(f"segment of {n} chunks has a corpus of {len(ids)} and {len(parts['lengths'])} lengths")
        return cls(ids, texts, metas, vocab, **parts)


class MergedIndex:
    """A main segment with tombstones (its chunks removed since) and a delta segment (chunks added since)."""

    def __init__(self, main: Segment, dead: set[str] | None = None, delta: Segment | None = None):
        self.main = main
        self.delta = delta if delta is not None else Segment.build([], [])
        self.alive = np.ones(main.size, dtype=bool)
        for cid in dead or ():
            self.alive[main.position[cid]] = False
        self.n_docs = int(self.alive.sum()) + self.delta.size
        total = int(self.main.lengths[self.alive].sum()) + int(self.delta.lengths.sum())
        self.avg_len = np.float64(total) / self.n_docs if self.n_docs else np.float64(0.0)  # bm25s: the mean, in float64
        self.dead = main.size - int(self.alive.sum())
        self._df: dict[str, int] = {}

    @property
    def changes(self) -> int:
        """Chunks added or removed since the main segment was built."""
        return self.delta.size + self.dead

    def ids(self) -> set[str]:
        return {cid for cid, live in zip(self.main.ids, self.alive) if live} | set(self.delta.ids)

    def _at(self, pos: int) -> tuple[Segment, int]:
        return (self.main, pos) if pos < self.main.size else (self.delta, pos - self.main.size)

    def chunks_of(self, paper_ids: list[str]) -> list[str]:
        """The live chunk ids of ``paper_ids`` (a chunk id is ``paper_id#hash#n``; ids are kept sorted, so each
        paper is a bisection away). An id of another paper whose own id starts ``paper_id#`` may come too."""
        from bisect import bisect_left

        out: list[str] = []
        for pid in paper_ids:
            prefix = pid + "#"
            for seg, alive in ((self.main, self.alive), (self.delta, None)):
                i = bisect_left(seg.ids, prefix)
                while i < seg.size and seg.ids[i].startswith(prefix):
                    if alive is None or alive[i]:
                        out.append(seg.ids[i])
                    i += 1
        return out

    def chunk_id(self, pos: int) -> str:
        seg, i = self._at(pos)
        return seg.ids[i]

    def record(self, pos: int) -> tuple[str, str, dict[str, Any]]:
        """The chunk at merged position ``pos`` (main segment first, then the delta), its metadata parsed."""
        seg, i = self._at(pos)
        return seg.ids[i], seg.texts[i], seg.meta(i)

    def doc_freq(self, term: str) -> int:
        """Live chunks using ``term``; remembered, as the index does not change (a query and its evidence
        ask for the same terms again and again)."""
        df = self._df.get(term)
        if df is None:
            rows, _ = self.main.postings(term)
            live = len(rows) if not self.dead else int(self.alive[rows].sum())
            df = self._df[term] = live + len(self.delta.postings(term)[0])
            if len(self._df) > DF_MEMO:
                self._df.clear()
        return df

    def _known(self, query_tokens: list[str]) -> tuple[list[str], np.ndarray]:
        """The tokens some live chunk uses (bm25s drops the ones its vocabulary lacks), and their IDF (float32)."""
        terms = [t for t in query_tokens if self.doc_freq(t)]
        return terms, _idf(np.asarray([self.doc_freq(t) for t in terms], dtype=np.int64), self.n_docs)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (main segment's positions, then the delta's; removed chunks score 0), as
        bm25s sums them: each query token in order (a repeated token counts again), in float32."""
        out = np.zeros(self.main.size + self.delta.size, dtype=np.float32)
        terms, idf = self._known(query_tokens)
        for term, term_idf in zip(terms, idf):
            for seg, offset in ((self.main, 0), (self.delta, self.main.size)):
                rows, tf = seg.postings(term)
                if seg is self.main:
                    keep = self.alive[rows]
                    rows, tf = rows[keep], tf[keep]
                l_d = seg.lengths[rows]
                tfc = tf / (K1 * ((1 - B) + B * l_d / self.avg_len) + tf)  # bm25s: float64 here
                out[rows.astype(np.int64) + offset] += (term_idf * tfc).astype(np.float32)  # a term's rows are distinct
        return out

    def top(self, query_tokens: list[str], k: int, keep: Any = None) -> list[tuple[int, float]]:
        """The ``k`` best chunks sharing a term with the query, ``(merged position, score)``, best first,
        equal scores in chunk-id order; ``keep(metadata)`` (a filter) leaves chunks out."""
        scores = self.scores(query_tokens)
        hits = np.flatnonzero(scores > 0)
        if keep is None and 0 < 4 * k < len(hits):  # only the k best (and every chunk tied with the k-th) need sorting
            kth = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
            hits = hits[scores[hits] >= kth]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        out: list[tuple[int, float]] = []
        start = 0
        while start < len(hits) and len(out) < k:  # one run of equal scores at a time, in chunk-id order
            end = start + 1
            while end < len(hits) and scores[hits[end]] == scores[hits[start]]:
                end += 1
            for pos in sorted(hits[start:end].tolist(), key=self.chunk_id):
                if len(out) < k and (keep is None or keep(self.record(pos)[2])):
                    out.append((pos, float(scores[pos])))
            start = end
        return out

    def positions(self, chunk_ids: list[str]) -> np.ndarray:
        """The merged position of each live chunk id (-1 for an id the index does not hold, or a removed one)."""
        out = np.full(len(chunk_ids), -1, dtype=np.int64)
        for i, cid in enumerate(chunk_ids):
            pos = self.main.position.get(cid)
            if pos is not None and self.alive[pos]:
                out[i] = pos
            elif (pos := self.delta.position.get(cid)) is not None:
                out[i] = self.main.size + pos
        return out

    def coverage(self, query_tokens: list[str], positions: np.ndarray) -> np.ndarray:
        """For the chunk at each of ``positions`` (-1: none), the share of the query's distinct terms it uses,
        each term weighted by its BM25 IDF (0..1). This is Lucene's coordination factor, IDF-weighted. Terms that
        no chunk uses do not count, as in :meth:`scores`."""
        terms, idf32 = self._known(list(dict.fromkeys(query_tokens)))
        out = np.zeros(len(positions), dtype=np.float64)
        if not terms or not len(positions):
            return out
        idf = idf32.astype(np.float64)
        pos = np.asarray(positions, dtype=np.int64)
        for term, weight in zip(terms, idf):
            for seg, offset in ((self.main, 0), (self.delta, self.main.size)):
                rows, _ = seg.postings(term)  # sorted: a segment lists each term's chunks in position order
                if not len(rows):
                    continue
                local = pos - offset
                at = np.minimum(np.searchsorted(rows, local), len(rows) - 1)
                out += weight * ((rows[at] == local) & (local >= 0))
        return out / float(idf.sum())

    def term_weight(self, term: str, max_idf: float) -> float:
        """Evidence IDF (float64) of ``term`` over the live chunks; a term no chunk uses weighs ``max_idf``."""
        df = self.doc_freq(term)
        return max_idf if not df else float(math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))
