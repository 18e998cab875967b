"""Sentence windows of source texts and their embeddings, cached per source text.

The checker matches a claim against every window of one or two consecutive sentences of the
sources it cites. A claim is checked against several combinations of the same sources (all of
them, each alone, the others without one: ALCE's rules), and the same abstracts come back for
many questions, so windows are built and embedded once per source *text* (keyed by its content
hash) and assembled for any set of texts. Windows never span two texts, so the assembled
windows, vectors and terms are the ones the whole set would give; only missing texts are
embedded, in one batch. Claim vectors are cached too (a claim is checked up to ``2n + 1`` times).

Both caches are bounded LRUs and safe to share between threads (the UI checks from several).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from .text import content_terms

#: Source texts whose windows are kept (a few hundred KB of vectors per thousand abstracts).
WINDOW_CACHE_SIZE = 4096
DIM = 384

#: One text's windows, their vectors and content terms, and the text's own content terms.
TextWindows = tuple[list[str], np.ndarray, list[set[str]], set[str]]


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
    """Windows, vectors and terms of source texts, and claim vectors; ``size`` 0 caches nothing."""

    def __init__(self, embedder: Callable[[], Any], size: int = WINDOW_CACHE_SIZE):
        self._embedder = embedder  # called when first needed: the model loads lazily
        self.texts = _LRU(size)
        self.claims = _LRU(size)
        self.embedded = 0  #: windows embedded so far (for measurements and tests)

    def __call__(self, texts: list[str]) -> tuple[list[str], np.ndarray, list[set[str]], set[str]]:
        """The windows of ``texts`` (in order, text by text), their vectors and terms, and the terms of all texts."""
        parts = self._parts(texts)
        windows = [w for p in parts for w in p[0]]
        vectors = np.concatenate([p[1] for p in parts]) if windows else np.zeros((0, DIM), dtype=np.float32)
        terms = [t for p in parts for t in p[2]]
        return windows, vectors, terms, set().union(*(p[3] for p in parts))

    def claim_vector(self, claim: str) -> np.ndarray:
        key = _key(claim)
        vec = self.claims.get(key)
        if vec is None:
            vec = self._embedder().embed([claim])[0]
            self.claims.put(key, vec)
        return vec

    def _parts(self, texts: list[str]) -> list[TextWindows]:
        keys = [_key(t) for t in texts]
        found: dict[str, TextWindows] = {}
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            hit = self.texts.get(key)
            if hit is not None:
                found[key] = hit
            else:
                missing[key] = text
        if missing:
            windows = {key: sentence_windows(text) for key, text in missing.items()}
            flat = [w for ws in windows.values() for w in ws]
            vectors = self._embedder().embed(flat) if flat else np.zeros((0, DIM), dtype=np.float32)
            self.embedded += len(flat)
            start = 0
            for key, ws in windows.items():
                part = (ws, vectors[start : start + len(ws)], [content_terms(w) for w in ws], content_terms(missing[key]))
                start += len(ws)
                found[key] = part
                self.texts.put(key, part)
        return [found[key] for key in keys]
