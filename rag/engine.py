"""The engine every front door uses: ingest, retrieve, answer (whole or streamed).

An :class:`Engine` is built from one :class:`Settings` and owns the heavy objects
(Chroma client, embedding model, BM25 index, LLM client), created when first needed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Callable, Iterator

from .answerers.base import CANNOT_ANSWER, Draft
from .citations import CitationFilter, clean_citations, flagged_sentences
from .errors import InputError
from .settings import Settings
from .types import Answer, Citation, Filters, Source

log = logging.getLogger("rag")

NO_ANSWER = "The collection does not answer this question."
MAX_QUESTION_CHARS = 4000
#: A question that continues the conversation: it opens with a continuation, or refers back
#: within its first words ("How big is it?", "Does their method scale?").
_CONTINUES = re.compile(
    r"^(and|but|also|so|what about|how about|what else|which one|which of them|tell me more|more on|compare)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(it(?! (is )?(possible|easier|harder|easy|hard|feasible|difficult|necessary|likely))|its|they|them|their|these|"
    r"those|(this|that|the) (paper|method|model|work|approach|one|study|system)|"
    r"the authors|the same|above|former|latter)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_WORDS = 5


def sample_corpus() -> Path:
    """The bundled sample: 247 trending ML paper abstracts."""
    return Path(str(resources.files("rag") / "data" / "hf_trending_abstracts.txt"))


class Engine:
    def __init__(self, settings: Settings | None = None, notify: Callable[[str], None] | None = None):
        self.settings = settings or Settings.load()
        self.notify = notify or log.warning
        self._ingest_lock = threading.Lock()  # one ingest at a time; questions go on meanwhile
        self._lock = threading.RLock()  # lazily built shared parts (BM25 index, LLM clients)
        self._lexical = None
        self._lexical_key: str | None = None
        self._llms: dict[str, object] = {}

    # -- heavy parts, built on first use -------------------------------------------------
    @cached_property
    def store(self):
        """The opened collection; an embedded index is held by this process from here until :meth:`close`."""
        from .store import Store

        return Store(self.settings, notify=self.notify)

    def close(self) -> None:
        """Close the store, letting another process use an embedded index (otherwise held until exit)."""
        with self._lock:
            store = self.__dict__.pop("store", None)
            self._lexical = None
            self._lexical_key = None
        if store is not None:
            store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def embedder(self):
        from .embedding import MiniLMEmbedding

        return MiniLMEmbedding()

    def llm_for(self, model: str):
        """The OpenAI-compatible answerer for ``model`` (one client per model, reused)."""
        from .answerers.openai_chat import OpenAIChatAnswerer

        with self._lock:
            if model not in self._llms:
                self._llms[model] = OpenAIChatAnswerer(self.settings.replace(model=model))
            return self._llms[model]

    def lexical(self):
        """The BM25 index of the collection as it is now (rebuilt after an ingest, by any process)."""
        from .retrieval import build_lexical, lexical_key

        with self._lock:
            key = lexical_key(self.store)
            if self._lexical is None or key != self._lexical_key:
                cache = self.settings.index_dir / "bm25" / self.settings.collection
                self._lexical = build_lexical(self.store, cache, key)
                self._lexical_key = key
            return self._lexical

    def answerer(self, backend: str | None = None, model: str | None = None, lexical=None):
        kind = backend or self.settings.resolved_backend()
        if kind == "openai":
            return self.llm_for(model or self.settings.model)
        from .answerers.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(self.embedder, lexical or self.lexical())

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, paths, progress=None):
        from .ingestion import ingest_files

        with self._ingest_lock:
            return ingest_files(
                paths, self.store, self.embedder, self.settings.chunk_tokens, self.settings.chunk_overlap, progress
            )

    def ensure_ready(self, progress=None) -> None:
        """On an empty index, ingest the bundled sample first (if ``sample_on_empty``), saying so."""
        if self.store.count() > 0 or not self.settings.sample_on_empty:
            return
        self.notify(
            f"The index at {self.store.location} is empty: ingesting the bundled sample corpus "
            f"({sample_corpus().name}) first. Use `rag ingest FILE` to add your own abstracts."
        )
        report = self.ingest([sample_corpus()], progress)
        self.notify(report.summary())

    def _require_papers(self) -> None:
        """Ingest the sample into an empty index if configured to; refuse to search an empty one."""
        self.ensure_ready()
        if self.store.count() == 0:
            raise InputError(f"The index at {self.store.location} is empty: add abstracts with `rag ingest FILE`.")

    def stats(self):
        return self.store.stats()

    # -- retrieval ------------------------------------------------------------------------
    def retrieve(self, question: str, k: int = 10, filters: Filters | None = None) -> list[Source]:
        question = _check_question(question)
        _check_k(k)
        self._require_papers()
        return self._search(question, k, filters, self.lexical())

    def _search(self, query: str, k: int, filters: Filters | None, lexical) -> list[Source]:
        from .retrieval import hybrid_search

        return hybrid_search(query, k, self.store, self.embedder, lexical, self.settings.candidates, filters)

    def search_query(self, question: str, history: list[dict] | None, answerer=None) -> str:
        """The question to retrieve with: follow-ups are made standalone using the history."""
        earlier = [t["content"] for t in history or [] if t.get("role") == "user" and t.get("content")]
        if not earlier:
            return question
        if hasattr(answerer, "rewrite"):  # an LLM rewrites; without one, a heuristic decides
            return answerer.rewrite(question, history or [])
        if is_follow_up(question):
            return f"{earlier[-1]} {question}"
        return question

    # -- answering ---------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        history: list[dict] | None = None,
        filters: Filters | None = None,
        backend: str | None = None,
        model: str | None = None,
    ) -> Answer:
        stream = self.stream(question, k=k, history=history, filters=filters, backend=backend, model=model, streaming=False)
        for _ in stream:
            pass
        assert stream.answer is not None
        return stream.answer

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        history: list[dict] | None = None,
        filters: Filters | None = None,
        backend: str | None = None,
        model: str | None = None,
        streaming: bool = True,
    ) -> "AnswerStream":
        """Retrieve now; answer as the returned stream is iterated (text deltas, then ``.answer``).

        ``streaming=False`` asks the answerer for the whole answer in one request."""
        started = time.perf_counter()
        question = _check_question(question)
        history = _check_history(history)
        backend = backend or self.settings.resolved_backend()
        self._require_papers()
        lexical = self.lexical()
        answerer = self.answerer(backend, model, lexical)
        query = self.search_query(question, history, answerer)
        t0 = time.perf_counter()
        k = _check_k(self.settings.top_k if k is None else k)
        sources = self._search(query, k, filters, lexical)
        timings = {"retrieve_s": time.perf_counter() - t0}
        base = Answer(
            question=question,
            text="",
            sources=sources,
            citations=[],
            abstained=False,
            backend=answerer.name,
            settings_hash=self.settings.settings_hash(),
            search_query=query,
            timings=timings,
        )
        if not sources or sources[0].evidence < self.settings.min_evidence:
            return AnswerStream(iter(()), base, started, abstain=True)
        if streaming:
            return AnswerStream(answerer.stream(question, sources, history), base, started)
        return AnswerStream(_later(lambda: answerer.answer(question, sources, history)), base, started)


class AnswerStream:
    """Iterate for the answer's text as it is produced (citations already cleaned);
    afterwards ``.answer`` holds the complete :class:`Answer`."""

    def __init__(self, drafts: Iterator, base: Answer, started: float, abstain: bool = False):
        self._drafts = drafts
        self._base = base
        self._started = started
        self._abstain = abstain
        self.sources = base.sources
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        base = self._base
        valid = [s.number for s in base.sources]
        filt = CitationFilter(valid)
        draft = Draft(text="", abstained=True)
        t0 = time.perf_counter()
        if self._abstain:
            text = abstention_text(base.sources)
            yield text
        else:
            held = ""  # hold the start back until it cannot be the "cannot answer" sentinel
            for item in self._drafts:
                if isinstance(item, Draft):
                    draft = item
                    continue
                if held is not None:
                    held += item
                    if _may_be_sentinel(held):
                        continue
                    item, held = held, None
                out = filt.feed(item)
                if out:
                    yield out
            tail = filt.flush() if held is None else ""
            if tail:
                yield tail
            text = draft.text
        text, used, dropped = clean_citations(text, valid)
        abstained = self._abstain or draft.abstained or not text.strip()
        if abstained and not self._abstain:
            text = abstention_text(base.sources)
            yield "\n\n" + text
            used = []
        base.timings["answer_s"] = time.perf_counter() - t0
        base.timings["total_s"] = time.perf_counter() - self._started
        by_number = {s.number: s for s in base.sources}
        base.text = text
        base.abstained = abstained
        base.citations = [Citation(n, by_number[n].paper_id, by_number[n].title) for n in sorted(used)]
        base.dropped_citations = dropped
        base.usage = draft.usage
        flagged = [] if abstained or not dropped else flagged_sentences(draft.text, valid)
        base.flagged = [sentence for sentence, _ in flagged]
        base.notes = draft.notes + [
            f'unsupported: "{sentence}" cited {", ".join(markers)}, which is not a source of this answer'
            for sentence, markers in flagged
        ]
        if dropped and not flagged:
            base.notes.append(f"dropped citations to unknown sources: {dropped}")
        if not abstained and not used:
            base.notes.append("the answer cites none of the sources: check it against them before trusting it")
        self.answer = base


def _later(make: Callable[[], Draft]) -> Iterator[Draft]:
    yield make()


def is_follow_up(question: str) -> bool:
    """Without an LLM to rewrite it, is this question a follow-up to the previous one?"""
    words = question.split()
    return (
        len(words) <= SHORT_QUESTION_WORDS
        or bool(_CONTINUES.search(question))
        or bool(_REFERS_BACK.search(" ".join(words[:5])))
    )


def _may_be_sentinel(text: str) -> bool:
    head = text.strip().upper().replace(" ", "_")
    return head.startswith(CANNOT_ANSWER) or CANNOT_ANSWER.startswith(head)


def abstention_text(sources: list[Source]) -> str:
    if not sources:
        return f"{NO_ANSWER} The index has no papers that match it."
    nearest = "\n".join(f"- {s.title} ({s.paper_id})" for s in sources[:3])
    return f"{NO_ANSWER} The nearest papers are:\n{nearest}"


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError('The question is empty: ask something about the papers, e.g. rag ask "What limits LLM inference speed?"')
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"The question is {len(question)} characters long: keep it under {MAX_QUESTION_CHARS}.")
    return question


def _check_k(k: int) -> int:
    if not isinstance(k, int) or k < 1:
        raise InputError(f"k (how many papers) must be a whole number of at least 1, got {k!r}.")
    return k


def _check_history(history: list[dict] | None) -> list[dict]:
    out = []
    for i, turn in enumerate(history or []):
        if isinstance(turn, (list, tuple)) and len(turn) == 2:
            turn = {"role": turn[0], "content": turn[1]}
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") or not isinstance(turn.get("content"), str):
            raise InputError(
                f"history[{i}] must be {{'role': 'user' or 'assistant', 'content': str}}, got {turn!r}."
            )
        out.append({"role": turn["role"], "content": turn["content"]})
    return out
