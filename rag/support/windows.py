"""Sentence windows of source texts, cached per source text, and window vectors embedded only when needed.

The checker matches a claim against every window of one or two consecutive sentences of the
sources it cites. A claim is checked against several combinations of the same sources (all of
them, each alone, the others without one: ALCE's rules), and the same abstracts come back for
many questions, so a text's windows and their content terms are built once per source *text*
(keyed by its content hash) and assembled for any set of texts; windows never span two texts.

Vectors are kept per window *text* (and claims share the same memo: an extractive answer's claim is
a source sentence, so its vector is often already there). The model's vector of a text does not
depend on the batch it is embedded in (``tests/test_checker_cache.py`` checks it), so a vector
embedded for one check is exactly the one another check would have got. :meth:`WindowCache.vectors`
embeds only the windows a check asks for (the checker skips the ones that provably cannot be its
best match) and returns them in a matrix of the whole set's shape, zero rows for the others: a
BLAS matrix-vector product's rows depend on the matrix's shape, so the cosines are bit-identical
to the ones the whole set's matrix gives.

All caches are bounded LRUs and safe to share between threads (the UI checks from several).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable

import numpy as np

from .text import content_terms

#: Source texts whose windows and terms are kept.
WINDOW_CACHE_SIZE = 4096
#: Window and claim vectors kept (1.5 KB each: about 30 MB when full).
VECTOR_CACHE_SIZE = 20_000
DIM = 384

#: One text's windows, their content terms, and the text's own content terms.
TextWindows = tuple[list[str], list[set[str]], set[str]]


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def sentence_windows(text: str) -> list[str]:
    """The one- and two-sentence windows of ``text``: every sentence, then every adjacent pair."""
    from ..chunking import split_sentences

    sents = split_sentences(text) or [text]
    return sents + [f"{a} {b}" for a, b in zip(sents, sents[1:])]


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: str, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class WindowCache:
    """Windows and terms of source texts, and vectors of windows and claims; ``size`` 0 caches nothing."""

    def __init__(self, embedder: Callable[[], Any], size: int = WINDOW_CACHE_SIZE,
                 vector_size: int | None = None):
        self._embedder = embedder  # called when first needed: the model loads lazily
        self.texts = _LRU(size)
        self.memo = _LRU(VECTOR_CACHE_SIZE if vector_size is None and size else vector_size or 0)
        self.embedded = 0  #: windows embedded so far (for measurements and tests)

    def __call__(self, texts: list[str]) -> TextWindows:
        """The windows of ``texts`` (in order, text by text), their terms, and the terms of all texts."""
        parts = [self._part(t) for t in texts]
        windows = [w for p in parts for w in p[0]]
        terms = [t for p in parts for t in p[1]]
        return windows, terms, set().union(*(p[2] for p in parts))

    def claim_vector(self, claim: str) -> np.ndarray:
        return self._embed([claim], count=False)[0]

    def vectors(self, windows: list[str], wanted: Iterable[int]) -> np.ndarray:
        """A ``(len(windows), DIM)`` matrix: the vectors of the ``wanted`` windows, zero rows elsewhere."""
        out = np.zeros((len(windows), DIM), dtype=np.float32)
        idx = sorted(set(wanted))
        if idx:
            out[idx] = self._embed([windows[i] for i in idx])
        return out

    def cached(self, windows: list[str]) -> list[int]:
        """The windows whose vectors are already known (free to score)."""
        return [i for i, w in enumerate(windows) if self.memo.get(w) is not None]

    def _embed(self, texts: list[str], count: bool = True) -> np.ndarray:
        """Vectors of ``texts``, embedding the ones not in the memo once, in one batch."""
        found = {t: v for t in dict.fromkeys(texts) if (v := self.memo.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vecs = self._embedder().embed(missing)
            if count:
                self.embedded += len(missing)
            for t, v in zip(missing, vecs):
                found[t] = v
                self.memo.put(t, v)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)

    def _part(self, text: str) -> TextWindows:
        key = _key(text)
        hit = self.texts.get(key)
        if hit is None:
            ws = sentence_windows(text)
            hit = (ws, [content_terms(w) for w in ws], content_terms(text))
            self.texts.put(key, hit)
        return hit
