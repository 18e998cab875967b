"""The engine every front door uses: ingest, gather evidence, answer (whole or streamed).

An :class:`Engine` is built from one :class:`Settings` and owns the heavy objects
(Chroma client, embedding model, BM25 index, LLM clients), created when first needed.
Every question comes in as a :class:`~rag.query.Query`, already checked. Evidence is
gathered apart from answering (:meth:`Engine.evidence`, then :meth:`Engine.answer`), so
the same sources can be answered again, by another backend, without searching twice.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterator, Sequence

from .answerers.base import CANNOT_ANSWER, Draft, sentinel_head
from .citations import CitationFilter, clean_citations, flagged_sentences, strip_markers
from .errors import InputError
from .query import Evidence, Query
from .settings import Settings
from .types import Answer, Citation, Source

if TYPE_CHECKING:
    from .answerers.local import LocalAnswerer
    from .answerers.openai_chat import OpenAIChatAnswerer
    from .grounding import Grounder
    from .local_server import LocalServer
    from .protocols import Answerer, Embedder, Lexical, QueryRewriter, Store

log = logging.getLogger("rag")

NO_ANSWER = "The collection does not answer this question."

def sample_corpus() -> Path:
    """The bundled sample: 247 trending ML paper abstracts."""
    return Path(str(resources.files("rag") / "data" / "hf_trending_abstracts.txt"))


class Engine:
    def __init__(self, settings: Settings | None = None, notify: Callable[[str], None] | None = None):
        self.settings = settings or Settings.load()
        self.notify = notify or log.warning
        self._ingest_lock = threading.Lock()  # one ingest at a time; questions go on meanwhile
        self._lock = threading.RLock()  # lazily built shared parts (BM25 index, LLM clients)
        self._lexical: Lexical | None = None
        self._lexical_key: str | None = None
        self._llms: dict[str, OpenAIChatAnswerer] = {}
        self._rewriters: dict[str, QueryRewriter] = {}
        self._local: LocalAnswerer | None = None
        self._local_server: LocalServer | None = None
        self._local_spec: str | None = None

    # -- heavy parts, built on first use -------------------------------------------------
    @cached_property
    def store(self) -> Store:
        """The opened collection; an embedded index is held by this process from here until :meth:`close`."""
        from .store import Store as ChromaStore

        return ChromaStore(self.settings, notify=self.notify)

    def close(self) -> None:
        """Close the store, letting another process use an embedded index (otherwise held until exit)."""
        with self._lock:
            store = self.__dict__.pop("store", None)
            self._lexical = None
            self._lexical_key = None
            server, self._local_server, self._local = self._local_server, None, None
        if server is not None:
            server.stop()
        if store is not None:
            store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @cached_property
    def embedder(self) -> Embedder:
        from .embedding import MiniLMEmbedding

        embedder = MiniLMEmbedding(device=self.settings.embed_device)
        if embedder.note:
            self.notify(embedder.note)
        return embedder

    def llm_for(self, model: str) -> OpenAIChatAnswerer:
        """The OpenAI-compatible answerer for ``model`` (one client per model, reused)."""
        from .answerers.openai_chat import OpenAIChatAnswerer

        with self._lock:
            if model not in self._llms:
                self._llms[model] = OpenAIChatAnswerer(self.settings.replace(model=model))
            return self._llms[model]

    def local_llm(self, spec: str | None = None) -> LocalAnswerer:
        """The local backend's answerer for ``spec`` (default ``settings.local_model``); its llama.cpp server is
        started (the model loaded) on first use, then reused until another model is asked for."""
        from .answerers.local import LocalAnswerer
        from .local_model import resolve_model
        from .local_server import LocalServer, require_runtime

        with self._lock:
            s = self.settings
            spec = spec or s.local_model
            if (self._local is not None and self._local_server is not None and self._local_server.running
                    and self._local_spec == spec):
                return self._local
            require_runtime()
            model = resolve_model(spec, s.local_cache_dir, s.local_model_sha256 if spec == s.local_model else None)
            if self._local_server is not None:
                self._local_server.stop()
            server = LocalServer(model, s.local_threads, s.local_context, s.local_startup_timeout)
            url = server.start(self.notify)
            self._local_server = server
            # the ordinary OpenAI-compatible client, at our server (no key goes there; CPU answers may be slow)
            chat_settings = s.model_copy(update={"openai_base_url": url, "openai_api_key": None,
                                                 "model": model.name, "timeout": max(s.timeout, 300.0)})
            self._local = LocalAnswerer(chat_settings, model.name)
            self._local_spec = spec
            return self._local

    def lexical(self, state: tuple[str, int] | None = None) -> Lexical:
        """The BM25 index of the collection as it is now (rebuilt after an ingest, by any process).
        ``state``: the store's readiness, read once per ask."""
        from .retrieval import build_lexical, lexical_key

        with self._lock:
            key = lexical_key(self.store, state)
            if self._lexical is None or key != self._lexical_key:
                cache = self.settings.index_dir / "bm25" / self.settings.collection
                self._lexical = build_lexical(self.store, cache, key, previous=self._lexical)  # incremental
                self._lexical_key = key
            return self._lexical

    def backend_for(self, backend: str | None = None) -> str:
        """``extractive``, ``openai`` or ``local``: ``backend`` (None: the settings'; ``auto``: openai when an endpoint is configured)."""
        if backend is None:
            return self.settings.resolved_backend()
        if backend == "auto":
            return "openai" if (self.settings.openai_api_key or self.settings.openai_base_url) else "extractive"
        return backend

    def answerer(self, backend: str | None = None, model: str | None = None) -> Answerer:
        resolved = self.backend_for(backend)
        if resolved == "openai":
            return self.llm_for(model or self.settings.model)
        if resolved == "local":
            return self.local_llm(model)
        from .answerers.extractive import ExtractiveAnswerer

        with self._lock:  # the index this ask's evidence used (no second readiness round trip)
            lexical = self._lexical
        return ExtractiveAnswerer(self.embedder, lexical if lexical is not None else self.lexical())

    def rewriter(self, backend: str | None = None, model: str | None = None) -> QueryRewriter:
        """Who makes follow-ups standalone: the LLM when the query is answered by one, else the heuristic."""
        from .rewrite import HeuristicRewriter, LLMRewriter

        if self.backend_for(backend) != "openai":
            return HeuristicRewriter()
        model = model or self.settings.model
        with self._lock:
            if model not in self._rewriters:
                s = self.settings
                self._rewriters[model] = LLMRewriter(self.llm_for(model).chat, s.history_turns, s.prompts_dir)
            return self._rewriters[model]

    def grounder_for(self, backend: str | None = None) -> Grounder | None:
        """Who checks an answer sentence by sentence (rag/grounding.py), or None: ``grounding`` on, or
        auto and the local backend; never for the extractive backend, whose sentences are quoted."""
        name = self.backend_for(backend)
        mode = self.settings.grounding
        if name == "extractive" or mode == "off" or (mode == "auto" and name != "local"):
            return None
        return self._grounder

    @cached_property
    def _grounder(self) -> Grounder:
        from .answerers.extractive import PREAMBLE
        from .grounding import Grounder
        from .support import AnswerChecker, SupportChecker

        checker = AnswerChecker(SupportChecker(embedder=self.embedder), skip_lines=(PREAMBLE,))
        return Grounder(checker, self.settings.grounding_unsupported, skip_lines=(PREAMBLE,))

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, paths, progress=None, workers: int = 1):
        """Ingest ``paths``; ``workers`` > 1 shares the records among that many processes, which
        needs a Chroma server (:mod:`rag.bulk`)."""
        from .ingestion import ingest_files

        if workers > 1:
            from .bulk import ingest_parallel

            with self._ingest_lock:
                return ingest_parallel(paths, self.settings, workers)
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

    # -- evidence -------------------------------------------------------------------------
    def evidence(self, query: Query | str) -> Evidence:
        """The ``query.k`` (default ``settings.top_k``) papers that best match the query, numbered,
        highest score first; a follow-up is made standalone first (see :meth:`rewriter`)."""
        query = _as_query(query)
        if self.backend_for(query.backend) == "openai":
            self.llm_for(query.model or self.settings.model)  # a missing key is said before any ingest
        state = self.store.readiness()  # the one readiness round trip of a warm ask
        if state[1] == 0:
            self._require_papers()
            state = self.store.readiness()
        lexical = self.lexical(state)
        search = self.search_query(query)
        t0 = time.perf_counter()
        sources = self._search(search, self.settings.top_k if query.k is None else query.k, query, lexical)
        return Evidence(tuple(sources), search, time.perf_counter() - t0)

    def retrieve(self, query: Query | str) -> list[Source]:
        """The sources :meth:`evidence` finds."""
        return list(self.evidence(query).sources)

    def _search(self, text: str, k: int, query: Query, lexical: Lexical) -> list[Source]:
        from .retrieval import hybrid_search

        return hybrid_search(
            text, k, self.store, self.embedder, lexical, self.settings.candidates, query.filters,
            self.settings.retrieval, self.settings.fusion,
        )

    def search_query(self, query: Query) -> str:
        """The question to retrieve with: follow-ups are made standalone using the history."""
        if not query.earlier_questions():
            return query.question
        return self.rewriter(query.backend, query.model).rewrite(query)

    # -- answering ---------------------------------------------------------------------------
    def ask(self, query: Query | str) -> Answer:
        """Gather evidence and answer from it, in one request to the answerer."""
        return self.stream(query, streaming=False).answer

    def stream(self, query: Query | str, streaming: bool = True) -> "AnswerStream":
        """Retrieve now; answer as the returned stream is iterated (text deltas, then ``.answer``).

        ``streaming=False`` asks the answerer for the whole answer in one request."""
        started = time.perf_counter()
        query = _as_query(query)
        return self.answer(query, self.evidence(query), streaming=streaming, started=started)

    def answer(
        self, query: Query | str, sources: Evidence | Sequence[Source], streaming: bool = True, started: float | None = None
    ) -> "AnswerStream":
        """Answer ``query`` from ``sources`` (as :meth:`evidence` found them, or any numbered sources),
        abstaining when the best is too weak. Nothing is searched again."""
        query = _as_query(query)
        evidence = sources if isinstance(sources, Evidence) else Evidence(tuple(sources), query.question)
        found = list(evidence.sources)
        answerer = self.answerer(query.backend, query.model)
        base = Answer(
            question=query.question,
            text="",
            sources=found,
            citations=[],
            abstained=False,
            backend=answerer.name,
            settings_hash=self.settings.settings_hash(),
            search_query=evidence.search_query,
            timings={"retrieve_s": evidence.retrieve_s},
        )
        started = time.perf_counter() - evidence.retrieve_s if started is None else started
        if not found or found[0].evidence < self.settings.min_evidence:
            return AnswerStream(iter(()), base, started, abstain=True)
        grounder = self.grounder_for(query.backend)
        if streaming:
            return AnswerStream(answerer.stream(query, found), base, started, grounder=grounder)
        return AnswerStream(_later(lambda: answerer.answer(query, found)), base, started, grounder=grounder)


class AnswerStream:
    """An answer as it is produced. Iterate for its text (citations already cleaned); iterate again
    and the same chunks are replayed. ``.answer`` is the finished :class:`Answer`: reading it
    finishes the stream first if need be (as simonw/llm's ``Response.text()`` does), and it is
    the same object every time. The :class:`Answer` made at retrieval time is never changed:
    the finished one is a new value. With a ``grounder``, the text shown while streaming is the
    model's; the finished answer is the grounded one (see rag/grounding.py)."""

    def __init__(self, drafts: Iterator, base: Answer, started: float, abstain: bool = False,
                 grounder: Grounder | None = None):
        self.sources = base.sources
        self._record = _Record()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._producer = _produce(drafts, base, started, abstain, self._record, grounder)

    def __iter__(self) -> Iterator[str]:
        chunks = self._record.chunks
        i = 0
        while True:
            if i < len(chunks):
                i += 1
                yield chunks[i - 1]
            elif not self._advance():
                return

    def _advance(self) -> bool:
        """Produce the next chunk (recorded); False once the answer is finished."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._record.answer is not None:
                return False
            try:
                next(self._producer)
            except StopIteration:
                return False
            except BaseException as exc:  # the answerer failed: every later read says so too
                self._error = exc
                raise
            return True

    @property
    def done(self) -> bool:
        """Whether the answer is finished."""
        return self._record.answer is not None

    @property
    def answer(self) -> Answer:
        """The finished answer (the stream is run to its end first if it has not been)."""
        while self._record.answer is None and self._advance():
            pass
        if self._record.answer is None:
            raise RuntimeError("The answer stream was closed before the answer was finished.")
        return self._record.answer

    def close(self) -> None:
        """Stop producing (an LLM stream gives its connection back); a finished answer is kept."""
        with self._lock:
            self._producer.close()


class _Record:
    """What a stream has produced so far: the chunks shown, and the answer once finished."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.answer: Answer | None = None


def _produce(drafts: Iterator, base: Answer, started: float, abstain: bool, record: _Record,
             grounder: Grounder | None = None) -> Generator[None, None, None]:
    """Run the answerer, recording each text chunk as it is to be shown, then the finished Answer
    (a new value: ``base`` is left as it was), grounded sentence by sentence when a ``grounder`` is given.

    A plain function, not a method: the stream holds this generator and the generator holds
    only the record, so dropping an unfinished stream closes the answerer's connection at once."""
    chunks = record.chunks
    valid = [s.number for s in base.sources]
    filt = CitationFilter(valid)
    draft = Draft(text="", abstained=True)
    t0 = time.perf_counter()
    if abstain:
        text = abstention_text(base.sources)
        chunks.append(text)
        yield None
    else:
        held: str | None = ""  # hold the start back until it cannot be the "cannot answer" sentinel
        for item in drafts:
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
                chunks.append(out)
                yield None
        tail = filt.flush() if held is None else ""
        if tail:
            chunks.append(tail)
            yield None
        text = draft.text
    text, used, dropped = clean_citations(text, valid)
    grounded = None
    if grounder is not None and not (abstain or draft.abstained) and text.strip():
        t1 = time.perf_counter()
        grounded = grounder.ground(text, base.sources)
        text, used, _ = clean_citations(grounded.text, valid)
        ground_s = time.perf_counter() - t1
    abstained = abstain or draft.abstained or not text.strip()
    if abstained and not abstain:
        text = abstention_text(base.sources)
        chunks.append("\n\n" + text)
        yield None
        used = []
    timings = dict(base.timings, answer_s=time.perf_counter() - t0, total_s=time.perf_counter() - started)
    if grounded is not None:
        timings["ground_s"] = ground_s
    by_number = {s.number: s for s in base.sources}
    flagged = [] if abstained or not dropped else flagged_sentences(draft.text, valid)
    notes = list(draft.notes) + [
        f'unsupported: "{sentence}" cited {", ".join(markers)}, which is not a source of this answer'
        for sentence, markers in flagged
    ]
    if dropped and not flagged:
        notes.append(f"dropped citations to unknown sources: {dropped}")
    unsupported: list[str] = []
    if grounded is not None:
        notes.extend(grounded.notes)
        if not abstained:
            unsupported = list(grounded.unsupported)
            regrounded = {strip_markers(new) for new, _, _ in grounded.recited}  # re-cited to a supporting source
            flagged = [(sentence, markers) for sentence, markers in flagged if strip_markers(sentence) not in regrounded]
    if not abstained and not used:
        notes.append("the answer cites none of the sources: check it against them before trusting it")
    record.answer = dataclasses.replace(
        base,
        text=text,
        abstained=abstained,
        citations=[Citation(n, by_number[n].paper_id, by_number[n].title) for n in sorted(used)],
        dropped_citations=list(dropped),
        usage=dict(draft.usage),
        flagged=list(dict.fromkeys([sentence for sentence, _ in flagged] + unsupported)),
        unsupported=unsupported,
        notes=notes,
        timings=timings,
    )


def _as_query(query: Query | str) -> Query:
    """A :class:`Query` as given, or a bare question made into one (and so checked)."""
    return query if isinstance(query, Query) else Query(query)


def _later(make: Callable[[], Draft]) -> Iterator[Draft]:
    yield make()


def _may_be_sentinel(text: str) -> bool:
    head = sentinel_head(text)
    return head.startswith(CANNOT_ANSWER) or CANNOT_ANSWER.startswith(head)


def abstention_text(sources: list[Source]) -> str:
    if not sources:
        return f"{NO_ANSWER} The index has no papers that match it."
    nearest = "\n".join(f"- {s.title} ({s.paper_id})" for s in sources[:3])
    return f"{NO_ANSWER} The nearest papers are:\n{nearest}"
