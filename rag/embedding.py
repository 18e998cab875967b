"""all-MiniLM-L6-v2 sentence embeddings for llama-index and the engine, offline, without torch.

The model itself, on onnxruntime (CPU, or GPU with onnxruntime-gpu) or on a GPU through torch,
is :mod:`rag.minilm`; this module adds batching by length, the vector memo and llama-index's
``BaseEmbedding`` interface. Mean pooling and L2 normalisation reproduce sentence-transformers'
output (cosine 0.9995 to the torch model on the sample corpus). Nothing here touches the network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .minilm import DIM, MODEL_ID, Device, choose_providers, encode_sorted, load_encoder

__all__ = ["MODEL_ID", "MiniLMEmbedding", "choose_providers", "query_vector"]
TEXT_CACHE = 20_000  #: sentence and question vectors kept by embed_memo (about 30 MB)


class MiniLMEmbedding(BaseEmbedding):
    """A llama-index embedding model over :func:`rag.minilm.load_encoder`. Vectors are unit length."""

    _encoder: Any = PrivateAttr(default=None)
    _memo_lock: Any = PrivateAttr(default=None)
    _texts: Any = PrivateAttr(default=None)

    def __init__(self, batch_size: int | None = None, device: Device = "auto", threads: int = 0, **kwargs: Any) -> None:
        """``batch_size``: texts per model call (default: the runtime's, 32 on a CPU, 512 on a GPU);
        ``threads``: onnxruntime intra-op threads (0: one per core; parallel ingest workers share the cores)."""
        encoder = load_encoder(device, threads)
        super().__init__(model_name=MODEL_ID, embed_batch_size=batch_size or encoder.batch, **kwargs)
        self._encoder = encoder
        self._memo_lock = threading.Lock()
        self._texts = OrderedDict()

    @property
    def note(self) -> str | None:
        """Why the requested device is not the one used (CUDA asked for, CPU running), else None."""
        return self._encoder.note

    @property
    def providers(self) -> list[str]:
        """Where the model runs, preferred first: onnxruntime's execution providers, or ``torch:cuda``."""
        return self._encoder.providers

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    # -- the numpy API the engine uses directly ----------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as an ``(n, 384)`` float32 array of unit vectors."""
        return encode_sorted(self._encoder, texts, self.embed_batch_size)

    def embed_memo(self, texts: list[str]) -> np.ndarray:
        """As :meth:`embed`, remembering the vectors of the last ``TEXT_CACHE`` texts: the extractive
        answerer meets the same abstract sentences question after question. Exact, since a text's
        vector does not depend on the batch it is embedded in."""
        with self._memo_lock:
            known = {t: self._texts[t] for t in texts if t in self._texts}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        known.update(zip(missing, self.embed(missing)))
        with self._memo_lock:
            for text in texts:
                self._texts[text] = known[text]
                self._texts.move_to_end(text)
            while len(self._texts) > TEXT_CACHE:
                self._texts.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one question, computed once and kept in the same memo (the retriever, the
        evidence score and the extractive answerer all ask for it)."""
        return self.embed_memo([text])[0]

    # -- llama-index BaseEmbedding -------------------------------------------------------
    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


def query_vector(embedder: Any, text: str) -> np.ndarray:
    """The vector of a question: through the embedder's cache when it has one (``embed_query``),
    so each part of an ask that needs it (dense search, evidence, extractive answer) shares one."""
    cached = getattr(embedder, "embed_query", None)
    return cached(text) if cached is not None else embedder.embed([text])[0]
