"""The shared client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp's server).

The ``openai`` SDK does the HTTP, retries (429, 5xx, connection errors, with backoff) and
streaming; :class:`ChatClient` checks that what comes back is a chat completion and turns
SDK failures into errors that say what to do. It knows no prompts: the answerer, the query
rewriter and the eval's judge each bring their own.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import ConfigError, NeedsKeyError, ServiceError
from .redact import redact_text, redact_url
from .settings import Settings

DEFAULT_ENDPOINT = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Completion:
    """A whole reply: its text, why it stopped (``"length"``: cut off at max_tokens) and the tokens used."""

    text: str
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


class ChatClient:
    """One endpoint and model (``settings.openai_base_url``, ``settings.model``)."""

    def __init__(self, settings: Settings):
        import openai

        self.settings = settings
        self.model = settings.model
        self.endpoint = settings.openai_base_url or DEFAULT_ENDPOINT
        self.where = redact_url(self.endpoint) or DEFAULT_ENDPOINT  # the endpoint as messages show it
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._secrets = tuple(x for x in (key, _password(self.endpoint)) if x)  # never in a message
        if not key and not settings.openai_base_url:
            raise NeedsKeyError(self.where)
        self.client = openai.OpenAI(
            api_key=key or "not-needed",  # local servers (llama.cpp, vLLM, Ollama) accept any key
            base_url=self.endpoint,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
        )

    # -- calls ----------------------------------------------------------------------------
    def complete(self, messages: list[dict], *, temperature: float | None = None, max_tokens: int | None = None) -> Completion:
        """One non-streamed completion (``temperature``, ``max_tokens``: the settings' unless given)."""
        with self._errors():
            resp = self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]  # plain role/content dicts
                temperature=self.settings.temperature if temperature is None else temperature,
                max_tokens=self.settings.max_tokens if max_tokens is None else max_tokens,
            )
            text, finish = self._reply(resp)
        return Completion(text, finish, _usage(getattr(resp, "usage", None)))

    def stream(
        self, messages: list[dict], *, temperature: float | None = None, max_tokens: int | None = None
    ) -> Iterator["str | Completion"]:
        """Yield text deltas as they arrive, then the whole :class:`Completion`."""
        parts: list[str] = []
        usage: dict[str, int] = {}
        finish: str | None = None
        progress = {"started": False}
        with self._errors(progress):
            stream = self._open_stream(messages, temperature, max_tokens)
            try:
                for chunk in stream:
                    progress["started"] = True
                    if getattr(chunk, "usage", None):
                        usage = _usage(chunk.usage)
                    for choice in self._choices(chunk, streamed=True):
                        finish = getattr(choice, "finish_reason", None) or finish
                        delta = getattr(getattr(choice, "delta", None), "content", None)
                        if delta is not None and not isinstance(delta, str):
                            raise self._not_chat("a stream chunk's delta content is not text")
                        if delta:
                            parts.append(delta)
                            yield delta
            finally:  # also when the reader stops early: give the connection back
                getattr(stream, "close", lambda: None)()
        if not progress["started"]:
            raise self._not_chat("the stream held no chat completion chunks")
        if finish is None:
            raise ServiceError(
                f"The LLM server at {self.where} sent a broken response (the stream ended before the answer did): try again."
            )
        yield Completion("".join(parts), finish, usage)

    def one_shot(self, prompt: str, max_tokens: int = 200) -> str:
        """One deterministic single-turn completion (rewrites, judging), stripped."""
        reply = self.complete([{"role": "user", "content": prompt}], temperature=0.0, max_tokens=max_tokens)
        return reply.text.strip()

    # -- replies: anything that is not an OpenAI chat completion is an error, never an empty answer --
    def _reply(self, resp: Any) -> tuple[str, str | None]:
        """``(text, finish_reason)`` of a non-streamed completion."""
        if isinstance(resp, (str, bytes)):  # the SDK hands back the body when it is not JSON
            raise self._not_chat("the body is not JSON")
        choice = self._choices(resp, streamed=False)[0]
        message = getattr(choice, "message", None)
        if message is None:
            raise self._not_chat("its first choice has no message")
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise self._not_chat("the message content is not text")
        return content or "", getattr(choice, "finish_reason", None)

    def _choices(self, reply: Any, streamed: bool) -> list[Any]:
        choices = getattr(reply, "choices", None)
        if streamed and choices is None and getattr(reply, "usage", None):
            return []  # a usage-only chunk from a server that leaves out the empty list
        if isinstance(reply, (str, bytes)) or not isinstance(choices, list):
            what = "a stream chunk" if streamed else "the reply"
            raise self._not_chat(f"{what} has no 'choices' list")
        if not choices and not streamed:  # a stream's usage chunk has none; a whole reply must have one
            raise self._not_chat("the reply's 'choices' list is empty")
        return choices

    def _not_chat(self, detail: str) -> ServiceError:
        return ServiceError(
            f"The LLM server at {self.where} sent a reply that is not an OpenAI chat completion ({detail}): "
            "check OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint."
        )

    def _open_stream(self, messages: list[dict], temperature: float | None, max_tokens: int | None) -> Any:
        import openai

        kwargs: dict[str, Any] = dict(
            model=self.model,
            messages=messages,
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=self.settings.max_tokens if max_tokens is None else max_tokens,
            stream=True,
        )
        try:
            return self.client.chat.completions.create(**kwargs, stream_options={"include_usage": True})
        except openai.BadRequestError as exc:
            if "stream_options" not in str(exc):
                raise
            return self.client.chat.completions.create(**kwargs)  # servers that predate stream usage

    @contextmanager
    def _errors(self, progress: dict | None = None) -> Iterator[None]:
        """Turn SDK failures into errors that say what to do (``progress``: a stream's state)."""
        import httpx
        import openai

        where = self.where
        try:
            yield
        except (json.JSONDecodeError, UnicodeDecodeError):  # a 200 whose body or SSE data is not JSON
            raise self._not_chat("the body is not JSON" if not progress else "a stream event is not JSON") from None
        except openai.APIResponseValidationError as exc:
            raise self._not_chat(self._brief(exc)) from None
        except openai.AuthenticationError:
            raise ConfigError(f"The LLM server at {where} rejected the API key: check OPENAI_API_KEY.") from None
        except openai.NotFoundError:
            raise ConfigError(
                f"The LLM server at {where} has no model '{self.model}' (404): set RAG_MODEL to a model it serves."
            ) from None
        except openai.RateLimitError:
            raise ServiceError(
                f"The LLM server at {where} is rate-limiting us (429) after {self.settings.max_retries} retries: "
                "wait and try again, or raise RAG_MAX_RETRIES."
            ) from None
        except openai.APIStatusError as exc:
            raise ServiceError(f"The LLM server at {where} failed with HTTP {exc.status_code}: {self._brief(exc)}") from None
        except (openai.APIError, httpx.HTTPError) as exc:
            if progress and progress.get("started"):  # the stream broke off mid-answer
                raise ServiceError(f"The LLM server at {where} sent a broken response ({self._brief(exc)}): try again.") from None
            if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError):
                raise ServiceError(  # e.g. an error event in place of a stream
                    f"The LLM server at {where} sent an error instead of an answer ({self._brief(exc)}): try again."
                ) from None
            if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
                raise ServiceError(
                    f"The LLM server at {where} did not answer within {self.settings.timeout:g} s: "
                    "try again, raise RAG_TIMEOUT, or use --backend extractive."
                ) from None
            raise ServiceError(
                f"Cannot reach the LLM server at {where}: start it, fix OPENAI_BASE_URL, "
                "or use the offline answerer with --backend extractive."
            ) from None

    def _brief(self, exc: Exception) -> str:
        """The first 200 characters of an SDK error, with the key and URL credentials masked."""
        return redact_text(_brief(exc), self._secrets)


def _usage(usage: Any) -> dict[str, int]:
    if not usage:
        return {}
    return {
        "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
    }


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _brief(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200]
