"""The Gradio chat UI (`rag ui`): presentation only, on the same engine as `rag.ask`.

Layout: the conversation and the question box on the left, the sources of the
selected answer on the right, settings and the collection below. Citation buttons,
support badges and the sources panel are rendered by :mod:`ui.render`; clicking
``[n]`` selects that source's card through a small click handler (``render.HEAD``).
The named API endpoint ``/ask`` answers with JSON for ``gradio_client``.

What a visitor may spend is checked on the server, whatever a client sends: the model
must be one of the configured ones and k at most :data:`MAX_K`. Uploads are size-capped
and must be text; Gradio's cache and our exports are deleted after :data:`CACHE_TTL_S`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Generator, Iterator, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio reads this at import; we stay offline

import gradio as gr  # noqa: E402

from rag.answerers.extractive import PREAMBLE  # noqa: E402
from rag.engine import Engine, sample_corpus  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.query import Query  # noqa: E402
from rag.types import Filters  # noqa: E402

from .render import CSS, HEAD, chat_html, header_markdown, export_markdown, sources_html, stats_markdown  # noqa: E402

log = logging.getLogger("ui")
UPLOAD_TYPES = [".txt", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".gz"]
MAX_K = 20  #: the most sources a UI or /ask request may ask for
MAX_SAVED_TURNS = 50  #: the most turns a browser keeps for a reload (older ones drop out of its copy)
CACHE_TTL_S = 3600  #: uploads and exports older than this are deleted (checked as often)


def allowed_models(settings) -> list[str]:
    """The configured model first, then ``ui_models``: the only names the UI sends to the LLM endpoint."""
    return list(dict.fromkeys([settings.model, *settings.ui_models]))


def local_models(settings) -> list[str]:
    """The configured local model first, then the presets whose packages are installed: the only ones the UI loads."""
    from rag.local_presets import installed

    return list(dict.fromkeys([settings.local_model, *installed()]))


#: Questions from eval/data/questions.jsonl that the bundled sample answers, each with its paper's title:
#: offered on the empty conversation when that paper is in the collection.
SAMPLE_EXAMPLES = (
    ("What speedup does Lookahead decoding give, and does it need a draft model?",
     "Break the Sequential Dependency of LLM Inference Using Lookahead Decoding"),
    ("How much peak GPU memory does CompAct save during LLM training, and how?",
     "CompAct: Compressed Activations for Memory-Efficient LLM Training"),
    ("What is any4 and which 4-bit formats does it beat?", "any4: Learned 4-bit Numeric Representation for LLMs"),
)


def example_questions(engine: Engine) -> list[str]:
    """The sample's example questions whose paper is in the collection (none for an empty or other collection)."""
    if engine.stats().papers == 0:
        return []
    try:
        titles = engine.store.titles_present([t for _, t in SAMPLE_EXAMPLES])
    except Exception:  # examples are a nicety: never let them break the page
        log.debug("looking up example papers failed", exc_info=True)
        return []
    return [q for q, title in SAMPLE_EXAMPLES if title in titles]


class ChatApp:
    """The UI's behaviour, separate from its layout so each handler stays small."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._checker = None
        self._checker_lock = threading.Lock()
        self.models = allowed_models(engine.settings)
        self.local_models = local_models(engine.settings)
        self.export_dir = Path(tempfile.mkdtemp(prefix="rag-ui-"))
        #: per browser session, bumped by Stop and New conversation: an answer started before the bump
        #: shows nothing more, even if an update slips out before Gradio cancels its event
        self._epochs: dict[str, int] = {}
        weakref.finalize(self, shutil.rmtree, self.export_dir, ignore_errors=True)  # at exit at the latest

    @property
    def checker(self):
        """The core's answer checker: a sentence's ✓/✗ here is the verdict `rag eval` gives it."""
        with self._checker_lock:
            if self._checker is None:
                from rag.support import AnswerChecker, SupportChecker

                self._checker = AnswerChecker(SupportChecker(embedder=self.engine.embedder), skip_lines=(PREAMBLE,))
            return self._checker

    def warm(self) -> None:
        """At start-up, in the background: what the first question would otherwise wait for (the store,
        the embedding model, the BM25 index, the LLM client, the answer checker)."""
        started = time.perf_counter()
        try:
            if self.engine.stats().papers:
                self.engine.retrieve(Query("warm-up", k=1))  # embeds, loads BM25, imports the search path
            else:
                self.engine.embedder.embed(["warm-up"])
            self.checker  # noqa: B018 (built on first use)
        except Exception:  # a cold first question is slower, not broken
            log.warning("warming up failed; the first question will do it", exc_info=True)
            return
        self.engine.notify(f"Warmed up in {time.perf_counter() - started:.1f} s: the first question will not wait for loading.")

    # -- chat -----------------------------------------------------------------------------------------
    def respond(self, question: str, turns: list[dict], k: float, backend: str, model: str,
                year_from: Any, year_to: Any, categories: list[str] | None,
                request: gr.Request | None = None) -> Iterator[tuple]:
        session = _session(request)
        epoch = self._epochs.get(session, 0)
        updates = self._respond(question, turns, k, backend, model, year_from, year_to, categories)
        try:
            for update in updates:
                if self._epochs.get(session, 0) != epoch:
                    return  # stopped or cleared meanwhile: that view is already shown
                # the browser keeps the conversation in the same update that shows the answer finished, so a
                # reload at any moment after it shows the answer again (a later step could be too late)
                shown = update[2]
                yield *update, (self.save(shown) if not any(t.get("pending") for t in shown) else gr.skip())
        finally:
            updates.close()  # closes the LLM request too

    def _respond(self, question: str, turns: list[dict], k: float, backend: str, model: str,
                 year_from: Any, year_to: Any, categories: list[str] | None) -> Generator[tuple, None, None]:
        question = (question or "").strip()
        n_sources = _check_k(k)
        years = _year(year_from, "From year"), _year(year_to, "To year")
        offered = self.local_models if (backend or self.engine.settings.resolved_backend()) == "local" else self.models
        if model and model not in offered:
            raise gr.Error(f"Model {model!r} is not offered here; choose one of {', '.join(offered)}.")
        if not question:
            gr.Warning("Type a question first.")
            yield self._view(turns)
            return
        history = _history(turns)
        turn: dict[str, Any] = {"question": question, "answer": None, "pending": True, "partial": "",
                                "settings": self._turn_settings(n_sources, backend, model, years, categories)}
        turns = turns + [turn]
        yield self._view(turns)
        try:
            stream = self.engine.stream(Query(
                question,
                k=n_sources,
                history=history,
                filters=Filters(*years, tuple(categories or ())),
                backend=backend or None,
                model=(model or None) if backend in ("openai", "local") else None,
            ))
            turn["answer"] = {"sources": [s.to_dict() for s in stream.sources], "text": "", "citations": []}
            yield self._view(turns)
            try:  # Stop, New conversation or a closed tab close this generator: the LLM request is closed too
                last = 0.0
                for delta in stream:
                    if turn.get("stopped"):
                        return  # Stop has shown the turn as stopped
                    turn["partial"] += delta
                    if time.monotonic() - last > 0.05:
                        last = time.monotonic()
                        yield self._view(turns)
                answer = stream.answer
            finally:
                stream.close()
            turn.update(self.check(answer), answer=answer.to_dict(), pending=False, partial="")
        except RagError as exc:  # the partial text stays, with Retry
            turn.update(error=self._ui_error(exc), pending=False)
        except Exception as exc:  # never leave a turn stuck at "writing…"
            log.exception("answering %r failed", question)
            turn.update(error=f"Something went wrong ({type(exc).__name__}: {exc}). The server log has the details.",
                        pending=False)
        if not turn.get("stopped"):
            yield self._view(turns, export=True)  # failed turns too: the export never silently misses one

    # The steps around respond: ``start`` takes the question out of the box once and locks asking,
    # ``finish`` unlocks it; ``stop`` and ``clear`` cancel a running answer (``cancels=`` in build_app).
    def free(self, busy: bool) -> None:
        """Refuses, as a toast (no outputs, so no component is covered), while an answer is written."""
        if busy:
            raise gr.Error("Still answering the last question: wait for it, or press Stop.", duration=6)

    def start(self, question: str) -> tuple:
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.", duration=4)
        return question, "", *_locked(True)

    def retry(self, turns: list[dict]) -> tuple:
        if not turns or not (turns[-1].get("error") or turns[-1].get("stopped")):
            raise gr.Error("There is no failed answer to retry.", duration=4)
        return turns[-1]["question"], turns[:-1], *_locked(True)

    def finish(self) -> tuple:
        return _locked(False)

    def stop(self, turns: list[dict], request: gr.Request | None = None) -> tuple:
        session = _session(request)
        self._epochs[session] = self._epochs.get(session, 0) + 1
        for turn in turns:
            if turn.get("pending"):
                turn.update(pending=False, stopped=True)
        return *self._view(turns, export=bool(turns)), *_locked(False)

    def _ui_error(self, exc: RagError) -> str:
        """The error in this UI's words: an empty collection points at the buttons, not at `rag ingest`."""
        if self.engine.stats().papers == 0:
            return EMPTY_HINT
        return ui_words(str(exc))

    def check(self, answer) -> dict[str, Any]:
        """Per-sentence support verdicts, and the source sentences each citation points at."""
        if answer.abstained:
            return {"verdicts": [], "highlights": {}}
        verdicts = self.checker.sentence_verdicts(answer)
        return {"verdicts": [v.to_dict() for v in verdicts], "highlights": self.checker.highlights(answer, verdicts)}

    def model_choices(self, backend: str) -> dict[str, Any]:
        """The model menu for ``backend``: chat models for openai, installed local presets for local, none otherwise."""
        s = self.engine.settings
        if backend == "local":
            return {"choices": self.local_models, "value": s.local_model, "label": "Model (local answerer)",
                    "visible": True, "info": "RAG_LOCAL_MODEL and the installed presets (docs/local-models.md)."}
        return {"choices": self.models, "value": s.model, "label": "Model (openai answerer)",
                "visible": backend == "openai" or (backend != "local" and bool(s.openai_api_key or s.openai_base_url)),
                "info": "RAG_MODEL and RAG_UI_MODELS set the choices."}

    def _turn_settings(self, k: int | None, backend: str, model: str, years: tuple, categories) -> dict[str, Any]:
        """What a turn was asked with, for the export."""
        backend = backend or self.engine.settings.resolved_backend()
        default = {"openai": self.engine.settings.model, "local": self.engine.settings.local_model}.get(backend)
        out: dict[str, Any] = {"answerer": f"{backend}:{model or default}" if default else backend,
                               "k": k or self.engine.settings.top_k}
        if any(years):
            out["years"] = f"{years[0] or '…'}–{years[1] or '…'}"
        if categories:
            out["categories"] = ", ".join(categories)
        return out

    def _export_header(self, turns: list[dict]) -> dict[str, str]:
        last: dict[str, Any] = next((t["settings"] for t in reversed(turns) if t.get("settings")), {})
        header = {"Exported": time.strftime("%Y-%m-%d %H:%M:%S %z"), "Collection": self.engine.settings.collection}
        if last:
            header["Answerer"] = last["answerer"]
            header["Sources per answer (k)"] = str(last["k"])
        return header

    def _view(self, turns: list[dict], export: bool = False, restored: bool = False) -> tuple:
        export_file = gr.update()
        if export:
            self._forget_old_exports()
            fd, name = tempfile.mkstemp(dir=self.export_dir, prefix=f"conversation-{time.strftime('%Y%m%d-%H%M%S')}-",
                                        suffix=".md")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # a file of its own per answer: sessions never share one
                fh.write(export_markdown(turns, self._export_header(turns)))
            export_file = gr.update(value=name, interactive=True)
        failed = bool(turns) and bool(turns[-1].get("error") or turns[-1].get("stopped"))
        return chat_html(turns, restored=restored), sources_html(turns), turns, export_file, gr.update(visible=failed)

    def _forget_old_exports(self, max_age_s: float = 3600) -> None:
        cutoff = time.time() - max_age_s
        for old in self.export_dir.glob("conversation-*.md"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)

    # -- a reload keeps the conversation (the browser holds it, encrypted by this server) ------------------
    @staticmethod
    def save(turns: list[dict]) -> list[dict]:
        """What the browser keeps: the finished, failed or stopped turns (the newest MAX_SAVED_TURNS)."""
        finished = [t for t in turns if not t.get("pending")][-MAX_SAVED_TURNS:]
        return json.loads(json.dumps(finished))  # as JSON has it (highlights keyed by "1", not 1)

    def restore(self, saved: Any) -> tuple:
        """On page load: the conversation the browser kept, or the empty screen if it kept none (or garbage)."""
        turns = saved if isinstance(saved, list) and all(isinstance(t, dict) and "question" in t for t in saved) else []
        if turns:
            try:
                return self._view(turns, export=True, restored=True)
            except Exception:  # kept by an older version, say: start afresh rather than break the page
                log.warning("could not show the conversation kept by the browser", exc_info=True)
        return chat_html([], example_questions(self.engine)), sources_html([]), [], gr.update(), gr.update(visible=False)

    def clear(self, turns: list[dict] | None = None, request: gr.Request | None = None) -> tuple:
        self.stop(turns or [], request)  # a running answer stops (its event is cancelled too)
        return (chat_html([], example_questions(self.engine)), sources_html([]), [], gr.update(value=None, interactive=False),
                gr.update(visible=False),
                *_locked(False))

    # -- API -------------------------------------------------------------------------------------------
    def api_ask(self, question: str, k: int = 5) -> dict:
        """Answer a question with k (1 to 20) sources; returns the answer text with [n] markers and its citations."""
        n_sources = _check_k(k)
        try:
            answer = self.engine.ask(Query(question, k=n_sources))
        except RagError as exc:
            raise gr.Error(self._ui_error(exc)) from None
        return {
            "answer": answer.text,
            "abstained": answer.abstained,
            "backend": answer.backend,
            "citations": [c.to_dict() for c in answer.citations],
            "sources": [
                {"number": s.number, "paper_id": s.paper_id, "title": s.title, "url": s.url, "score": s.score}
                for s in answer.sources
            ],
        }

    # -- collection -----------------------------------------------------------------------------------
    def ingest(self, files: list[Any] | None, progress=gr.Progress()) -> tuple:
        paths = [Path(getattr(f, "name", f)) for f in files or []]
        if not paths:
            return "Choose a file of abstracts first (.jsonl, .json, .csv or .txt).", *self.collection_view()
        problems = [p for p in map(_not_text, paths) if p]
        if problems:  # nothing goes in, as with any bad file
            return "**Could not ingest:** " + " ".join(problems) + " Nothing was added.", *self.collection_view()
        return self._ingest(paths, progress)

    def load_sample(self, progress=gr.Progress()) -> tuple:
        return self._ingest([sample_corpus()], progress)

    def _ingest(self, paths: list[Path], progress) -> tuple:
        def report(done: int, total: int | None) -> None:
            progress((done, total) if total else None, desc=f"ingesting: {done} papers", unit="papers")

        try:
            summary = self.engine.ingest(paths, progress=report).summary()
            message = "```\n" + summary + "\n```"
        except RagError as exc:  # its message says what, if anything, was added
            message = f"**Could not ingest:** {ui_words(str(exc), paths)}"
        except Exception as exc:
            log.exception("ingesting %s failed", paths)
            message = f"**Could not ingest:** unexpected {type(exc).__name__}: {exc}"
        return message, *self.collection_view()

    def collection_view(self) -> tuple:
        stats = self.engine.stats()
        empty = stats.papers == 0
        return (
            stats_markdown(stats),
            gr.update(visible=empty),
            gr.update(visible=bool(stats.years)),
            gr.update(visible=bool(stats.years)),
            gr.update(visible=bool(stats.categories), choices=stats.categories),
            gr.update(visible=bool(stats.years and stats.undated), value=undated_note(stats)),
            header_markdown(stats, self.engine.settings.collection),
        )

    def refresh(self) -> tuple:
        """On every page load: the collection as it is now (another tab or `rag ingest` may have changed it)."""
        return self.collection_view()


def build_app(engine: Engine, ui: ChatApp | None = None) -> gr.Blocks:
    ui = ui or ChatApp(engine)
    stats = engine.stats()
    llm_configured = bool(engine.settings.openai_api_key or engine.settings.openai_base_url)
    backends = ["extractive", "openai"] if llm_configured else ["extractive"]
    if engine.settings.backend == "local" or importlib.util.find_spec("xllamacpp") is not None:
        backends.append("local")  # the `local` extra is installed: llama.cpp on this machine

    with gr.Blocks(title="Ask the abstracts", analytics_enabled=False, delete_cache=(CACHE_TTL_S, CACHE_TTL_S)) as app:
        turns = gr.State([])
        # the conversation for a reload, in the browser's localStorage (one per collection); its key is
        # this process's, so a restarted server starts afresh
        kept = gr.BrowserState([], storage_key=f"rag-conversation-{engine.settings.collection}")
        asked = gr.State("")  # the question being answered (the box is free for the next one)
        busy = gr.State(False)  # an answer is being written: asking again waits for Stop or the end
        header = gr.Markdown(header_markdown(stats, engine.settings.collection), elem_id="header")
        with gr.Row(visible=stats.papers == 0) as empty_banner:
            gr.Markdown("**The collection is empty.** Load the bundled sample (247 trending ML abstracts) or upload your own below.")
            sample_btn = gr.Button("Load the sample corpus", elem_id="load-sample", variant="secondary")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.HTML(chat_html([], example_questions(engine)), elem_id="chat")
                with gr.Row(elem_id="composer"):  # sticks to the bottom of the window (CSS)
                    question = gr.Textbox(placeholder="Ask about the papers…",
                                          label="Question", show_label=False, scale=6, min_width=160, max_lines=6,
                                          elem_id="question", autofocus=True)
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="ask")
                    stop_btn = gr.Button("Stop", variant="stop", scale=1, min_width=90, elem_id="stop", visible=False)
                with gr.Row():
                    retry_btn = gr.Button("Retry", size="sm", elem_id="retry", visible=False)
                    clear_btn = gr.Button("New conversation", size="sm", elem_id="clear")
                    export_btn = gr.DownloadButton("Download conversation (.md)", size="sm", interactive=False, elem_id="export")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html([]), elem_id="sources")
        with gr.Accordion("Settings", open=False, elem_id="settings-panel"):
            with gr.Row():
                k = gr.Slider(1, MAX_K, value=min(engine.settings.top_k, MAX_K), step=1, label="Sources per answer")
                backend = gr.Radio(backends, value=engine.settings.resolved_backend(), label="Answerer",
                                   info=None if llm_configured else "Set OPENAI_API_KEY or OPENAI_BASE_URL to answer with an LLM.")
                model = gr.Dropdown(**ui.model_choices(engine.settings.resolved_backend()))
            with gr.Row():
                # Textboxes, not gr.Number: Gradio's number box shows and sends 0 when empty
                year_from = gr.Textbox(label="From year", placeholder="any year", visible=bool(stats.years),
                                       elem_id="year-from", max_lines=1)
                year_to = gr.Textbox(label="To year", placeholder="any year", visible=bool(stats.years),
                                     elem_id="year-to", max_lines=1)
                categories = gr.Dropdown(stats.categories, multiselect=True, label="Categories", visible=bool(stats.categories))
            undated_md = gr.Markdown(undated_note(stats), visible=bool(stats.years and stats.undated), elem_id="undated")
        with gr.Accordion("Collection", open=stats.papers == 0, elem_id="collection-panel"):
            stats_md = gr.Markdown(stats_markdown(stats), elem_id="stats")
            upload = gr.File(label="Add abstracts (.jsonl, .json, .csv, .txt)", file_count="multiple",
                             file_types=UPLOAD_TYPES, elem_id="upload")
            add_btn = gr.Button("Add to collection", elem_id="add-files")
            ingest_md = gr.Markdown(elem_id="ingest-result")

        chat_outputs = [chat, sources, turns, export_btn, retry_btn]
        lock_outputs = [busy, ask_btn, stop_btn]
        chat_inputs = [asked, turns, k, backend, model, year_from, year_to, categories]
        backend.change(lambda b: gr.update(**ui.model_choices(b)), [backend], [model], api_visibility="private",
                       queue=False)
        collection_outputs = [ingest_md, stats_md, empty_banner, year_from, year_to, categories, undated_md, header]
        app.load(ui.refresh, None, collection_outputs[1:], api_visibility="private", queue=False)
        app.load(ui.restore, [kept], chat_outputs, api_visibility="private", queue=False)
        answering = []
        for trigger, (fn, inputs, outputs) in [
            (ask_btn.click, (ui.start, [question], [asked, question, *lock_outputs])),
            (question.submit, (ui.start, [question], [asked, question, *lock_outputs])),
            (retry_btn.click, (ui.retry, [turns], [asked, turns, *lock_outputs])),
        ]:
            checked = trigger(ui.free, [busy], None, api_visibility="private")
            taken = checked.success(fn, inputs, outputs, api_visibility="private", queue=False)
            answer_event = taken.success(ui.respond, chat_inputs, [*chat_outputs, kept], api_visibility="private")
            answer_event.then(ui.finish, None, lock_outputs, api_visibility="private", queue=False)
            answering.append(answer_event)
        stop_btn.click(ui.stop, [turns], chat_outputs + lock_outputs, cancels=answering, api_visibility="private",
                       queue=False).then(ui.save, [turns], [kept], api_visibility="private", queue=False)
        clear_btn.click(ui.clear, [turns], chat_outputs + lock_outputs, cancels=answering, api_visibility="private",
                        queue=False).then(ui.save, [turns], [kept], api_visibility="private", queue=False)
        add_btn.click(ui.ingest, [upload], collection_outputs, api_visibility="private")
        sample_btn.click(ui.load_sample, None, collection_outputs, api_visibility="private")
        gr.api(ui.api_ask, api_name="ask")
    return app


def _session(request: gr.Request | None) -> str:
    """The browser session a request comes from ("" outside a served app, as in unit tests)."""
    return getattr(request, "session_hash", None) or ""


def theme() -> Any:
    """Gradio's default theme with text that reads (WCAG AA, 4.5:1): its orange links and Ask button
    measure 2.8:1 on white and its grey text 1.9:1, so buttons and grey text are a shade darker (lighter
    in dark mode); the answers' links take ``--rag-link`` (:data:`ui.render.CSS`)."""
    return gr.themes.Default().set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800", button_primary_background_fill_hover_dark="*primary_800",
        button_primary_border_color="*primary_700", button_primary_border_color_dark="*primary_700",
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300",
        input_placeholder_color="*neutral_500", input_placeholder_color_dark="*neutral_400",
    )


def launch(engine: Engine, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           block: bool = True, auth: list[tuple[str, str]] | None = None) -> gr.Blocks:
    """Serve the app; ``auth`` (user, password) pairs make every page and API call ask for a login.
    The engine warms up in the background meanwhile, so the page opens at once."""
    ui = ChatApp(engine)
    app = build_app(engine, ui)
    app.queue(default_concurrency_limit=4)
    threading.Thread(target=ui.warm, name="rag-ui-warm-up", daemon=True).start()
    app.launch(server_name=host, server_port=port, share=share, theme=theme(), css=CSS, head=HEAD, show_error=True,
               prevent_thread_lock=not block, quiet=not block, auth=auth or None,
               max_file_size=f"{engine.settings.ui_max_upload_mb}mb")
    return app


def _history(turns: list[dict]) -> list[dict]:
    out = []
    for t in turns:
        if t.get("error") or t.get("stopped") or not t.get("answer"):
            continue
        out.append({"role": "user", "content": t["question"]})
        out.append({"role": "assistant", "content": t["answer"].get("text", "")})
    return out


EMPTY_HINT = ("The collection is empty: press “Load the sample corpus” above, or add your own abstracts "
              "under Collection with “Add to collection”.")


def ui_words(message: str, paths: Sequence[Path] = ()) -> str:
    """A core error message as the UI says it: uploaded files by name (not their temporary path),
    the upload button instead of terminal commands."""
    for path in paths:
        message = message.replace(str(path), path.name)
    return (message
            .replace("run the same command again once it is fixed", "upload the file again once it is fixed")
            .replace("add abstracts with `rag ingest FILE`", "add abstracts under Collection with “Add to collection”")
            .replace("`rag ingest FILE`", "“Add to collection” under Collection"))


def _locked(busy: bool) -> tuple:
    """(busy, Ask, Stop) while an answer is written (True) or once it ends."""
    return busy, gr.update(interactive=not busy, value="Answering…" if busy else "Ask"), gr.update(visible=busy)


def _year(value: Any, label: str = "Year") -> int | None:
    """A year filter from the UI: None, "", blank or 0 mean no filter; otherwise a whole year, or a gr.Error."""
    if isinstance(value, str):
        value = value.strip()
    if value in (None, "", 0, "0") or value != value:  # (NaN != NaN)
        return None
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = None
    if year is None or str(year) != str(value).removesuffix(".0") or not 1 <= year <= 9999:
        raise gr.Error(f"{label} must be a year such as 2021, or empty for any year; got {value!r}.")
    return year


def undated_note(stats) -> str:
    """Says how many papers a year filter leaves out because they have no year."""
    n = stats.undated
    if not n:
        return ""
    return f"{n} paper{'s have' if n != 1 else ' has'} no year and {'are' if n != 1 else 'is'} left out when a year filter is set."


def _check_k(k: Any) -> int | None:
    """None or "" means the configured top_k; otherwise a whole number 1..MAX_K, or a gr.Error."""
    if k in (None, ""):
        return None
    try:
        value = int(k)
    except (TypeError, ValueError):
        value = None
    if value is None or value != k or not 1 <= value <= MAX_K:
        raise gr.Error(f"Sources per answer (k) must be a whole number from 1 to {MAX_K}, got {k!r}.")
    return value


def _not_text(path: Path) -> str | None:
    """Why an upload is not a text file of abstracts, or None (the readers' own content sniff)."""
    from rag.readers import sniff

    try:
        problem = sniff(path)
    except (OSError, EOFError, RagError) as exc:
        return f"{path.name} cannot be read ({exc})."
    return f"{path.name}: {problem}. Upload abstracts as .jsonl, .json, .csv or .txt." if problem else None
