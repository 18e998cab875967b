"""An LLM judge for the support check, used when an OpenAI-compatible endpoint is configured.

It splits answer sentences into atomic claims and asks, claim by claim, whether the
cited sources support it (``prompts/judge_claim.txt``: yes or no). Replies are cached
on disk by a hash of model and prompt, so re-running an eval costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from rag.settings import Settings
from rag.support.checker import Verdict
from rag.support.text import strip_markers
from rag.templates import load_prompt


class LLMJudge:
    def __init__(self, settings: Settings, cache_file: Path):
        from rag.llm import ChatClient

        self.llm = ChatClient(settings)  # the chat client alone: the judge brings its own prompts
        self.name = f"llm:{settings.model}"
        self.judge_prompt = load_prompt("judge_claim", settings.prompts_dir)
        self.split_prompt = load_prompt("split_claims", settings.prompts_dir)
        self.cache = ReplyCache(cache_file)

    def check(self, claim: str, source: "str | list[str]") -> Verdict:
        texts = [source] if isinstance(source, str) else list(source)
        sources = "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, start=1))
        reply = self._ask(self.judge_prompt.format(claim=strip_markers(claim), sources=sources), max_tokens=3)
        yes = reply.strip().lower().lstrip("*'\" ").startswith("yes")
        return Verdict(yes, 1.0 if yes else 0.0, [] if yes else [f"the judge said: {reply.strip()[:40] or 'nothing'}"])

    def atomic_claims(self, sentence: str) -> list[str]:
        reply = self._ask(self.split_prompt.format(sentence=strip_markers(sentence)), max_tokens=300)
        claims = [line.strip().lstrip("-*•0123456789.) ").strip() for line in reply.splitlines()]
        return [c for c in claims if len(c) > 3] or [strip_markers(sentence)]

    def _ask(self, prompt: str, max_tokens: int) -> str:
        key = hashlib.sha256(f"{self.name}\x00{max_tokens}\x00{prompt}".encode()).hexdigest()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        reply = self.llm.one_shot(prompt, max_tokens=max_tokens)
        self.cache.put(key, reply)
        return reply


class ReplyCache:
    """A JSON-lines file of ``{"key", "reply"}``: append-only, loaded once."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._data[row["key"]] = row["reply"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn last line from an interrupted run

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def put(self, key: str, reply: str) -> None:
        with self._lock:
            self._data[key] = reply
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, "reply": reply}) + "\n")
