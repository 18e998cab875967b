"""The ``rag`` command line. Imports stay inside the commands, so ``rag --help`` is instant."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

EXAMPLES = """\
examples:
  rag ask "How do recent papers shrink the KV cache?"     (first run ingests the bundled sample)
  rag ingest papers.jsonl arxiv-metadata-oai-snapshot.json
  rag ask --year-from 2023 --category cs.CL "Which methods speed up decoding?"
  OPENAI_API_KEY=sk-... rag ask "..."                      (answers with an OpenAI model)
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 rag ask "..."   (a local llama.cpp / vLLM / Ollama server)

environment: RAG_INDEX_DIR, RAG_CHROMA_URL, RAG_COLLECTION, RAG_BACKEND, RAG_MODEL, RAG_TOP_K,
OPENAI_API_KEY, OPENAI_BASE_URL; `rag config` shows every setting and its value.
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    import warnings

    from .errors import RagError

    try:
        with warnings.catch_warnings():
            _show_rag_warnings_as_lines()
            return args.func(args) or 0
    except RagError as exc:
        close_progress_bars()
        if getattr(args, "debug", False):
            _print_traceback_with_causes(exc)
        show(f"error: {exc}", file=sys.stderr, redact=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: work committed so far is kept; run the command again to resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the one place an unexpected failure becomes one line
        if getattr(args, "debug", False):
            raise
        close_progress_bars()
        storage = _storage_error(args, exc)
        if storage is not None:
            show(f"error: {storage}", file=sys.stderr, redact=True)
            return storage.exit_code
        show(f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)", file=sys.stderr, redact=True)
        return 1
    finally:
        close_progress_bars()


def _show_rag_warnings_as_lines() -> None:
    """Inside ``main``'s ``catch_warnings``: a :class:`RagWarning` prints as ``warning: MSG`` on stderr
    (its sender already says it once per process); other warnings keep Python's format."""
    import warnings

    from .errors import RagWarning

    original = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, RagWarning):
            close_progress_bars()
            show(f"warning: {message}", file=sys.stderr, redact=True)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.simplefilter("always", RagWarning)
    warnings.showwarning = showwarning


def _print_traceback_with_causes(exc: BaseException) -> None:
    """``--debug``: the whole chain, including the exceptions a ``raise ... from None`` hid
    from the one-line message (their ``__context__`` is kept; only its display was suppressed)."""
    import traceback

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if link.__cause__ is None and link.__context__ is not None:
            link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    traceback.print_exception(exc, file=sys.stderr)


def _version() -> str:
    """The installed distribution's version; "unknown" when run from a plain checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag-abstracts")
    except PackageNotFoundError:
        return "unknown"


def _storage_error(args: argparse.Namespace, exc: Exception):
    """A full disk, a read-only or a damaged index that escaped the store's own checks, as a RagError."""
    from .storage_errors import storage_error

    try:
        settings = load_settings(args)
    except Exception:
        return None
    if isinstance(exc, OSError) and not str(exc.filename or "").startswith(str(settings.index_dir)):
        return None  # an input file, not the index
    where = settings.chroma_url or str(settings.index_dir)
    return storage_error(exc, where, None if settings.chroma_url else settings.index_dir)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="index directory (RAG_INDEX_DIR)")
    common.add_argument("--collection", help="Chroma collection (RAG_COLLECTION)")
    common.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000 (RAG_CHROMA_URL)")
    common.add_argument("--config", help="TOML config file (RAG_CONFIG)")
    common.add_argument("--debug", action="store_true", help="show tracebacks, with the underlying causes")

    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions of a collection of paper abstracts; answers cite the papers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(metavar="COMMAND")

    from .readers import formats_help  # stdlib only: --help stays instant

    p = sub.add_parser("ingest", parents=[common], help="add abstract files to the collection")
    p.add_argument("paths", nargs="+", metavar="PATH", help=f"files of abstracts: {formats_help()}")
    p.add_argument("--workers", type=int, default=1,
                   help="ingest processes sharing the records (needs a Chroma server: RAG_CHROMA_URL); default 1")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited papers")
    p.add_argument("question")
    _answer_options(p)
    p.add_argument("--grounding", choices=["auto", "on", "off"],
                   help="check an LLM answer sentence by sentence against the sources (RAG_GROUNDING)")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("retrieve", parents=[common], help="list the papers that best match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=10, help="how many papers (default 10)")
    _filter_options(p)
    p.add_argument("--json", action="store_true", help="print the sources as JSON")
    p.set_defaults(func=cmd_retrieve)

    p = sub.add_parser("stats", parents=[common], help="what the collection holds")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("config", parents=[common], help="show the effective settings (secrets hidden)")
    p.set_defaults(func=cmd_config)

    for register in _extra_commands():
        register(sub, common)
    return parser


def _answer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, help="papers given to the answerer (RAG_TOP_K, default 5)")
    p.add_argument("--backend", choices=["auto", "extractive", "openai", "local"], help="answerer (RAG_BACKEND)")
    p.add_argument("--model", help="chat model for the openai backend (RAG_MODEL); with --backend local, "
                   "the local model: a preset such as qwen2.5-coder-0.5b, a .gguf path, a package or a URL (RAG_LOCAL_MODEL)")
    _filter_options(p)


def _filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year-from", type=int, help="only papers from this year on")
    p.add_argument("--year-to", type=int, help="only papers up to this year")
    p.add_argument("--category", action="append", default=[], help="only papers in this category (repeatable)")


#: Entry-point group through which packages add subcommands: ``register(subparsers, common_parent)``.
COMMANDS_GROUP = "rag.commands"


def _extra_commands() -> list[Callable[[Any, Any], None]]:
    """Commands that live with their own code (eval, ui, plugins), found through the ``rag.commands``
    entry points, the way simonw/llm's ``register_commands`` hook works. A broken plugin is reported
    and skipped, so it never takes the core commands down with it."""
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            found.append(ep.load())
        except Exception as exc:  # a plugin's import error must not break `rag ask`
            print(f"warning: cannot load the '{ep.name}' commands ({ep.value}): {type(exc).__name__}: {exc}", file=sys.stderr)
    return found


# -- helpers ----------------------------------------------------------------------------------


def show(text: object = "", end: str = "\n", file=None, flush: bool = False, redact: bool = False) -> None:
    """Print text that came from outside (answers, titles, servers' errors) without escape sequences
    or control characters; ``redact``: also mask credentials in URLs and key-shaped words."""
    from .redact import redact_text
    from .terminal import safe_for_terminal

    text = redact_text(str(text)) if redact else str(text)
    print(safe_for_terminal(text), end=end, file=file or sys.stdout, flush=flush)


def show_json(data: object) -> None:
    """JSON on stdout; the control characters JSON leaves raw are written as escapes."""
    from .terminal import json_for_terminal

    print(json_for_terminal(json.dumps(data, indent=2, ensure_ascii=False)))


def load_settings(args: argparse.Namespace, **extra: Any):
    """The settings with the command's flags on top; ``--model`` picks the local model when the backend is local."""
    from .settings import Settings

    settings = Settings.load(
        config_file=args.config,
        index_dir=args.index_dir,
        collection=args.collection,
        chroma_url=args.chroma_url,
        backend=getattr(args, "backend", None),
        grounding=getattr(args, "grounding", None),
        **extra,
    )
    model = getattr(args, "model", None)
    if model and settings.resolved_backend() == "local":
        return settings.replace(local_model=model)
    return settings.replace(model=model)


def query_from(args: argparse.Namespace, k: int | None):
    """The command's :class:`~rag.query.Query`, checked before any engine or index is built."""
    from .query import Query
    from .types import Filters

    return Query(args.question, k=k, filters=Filters(args.year_from, args.year_to, tuple(args.category)))


def make_engine(args: argparse.Namespace, **extra: Any):
    from .engine import Engine

    return Engine(load_settings(args, **extra), notify=notice)


def notice(msg: str) -> None:
    """A message for the user on stderr, on its own line (an open progress bar is closed first)."""
    close_progress_bars()
    show(msg, file=sys.stderr, redact=True)


class ProgressBar:
    """A tqdm bar on stderr (hidden when stderr is not a terminal), as a progress callback.

    The total is an estimate (see ``readers.estimate_records``): past it the bar shows a plain
    count, and :meth:`close` sets the total to what was done, then clears the bar's line, so
    whatever is printed next starts on a line of its own."""

    def __init__(self, desc: str):
        self.desc = desc
        self.bar: Any = None
        _OPEN_BARS.append(self)

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="papers", file=sys.stderr, disable=None, leave=False)
        if self.bar.total is not None and done > self.bar.total:
            self.bar.total = None  # the estimate was short: count without a total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self in _OPEN_BARS:
            _OPEN_BARS.remove(self)
        if self.bar is not None:
            self.bar.total = self.bar.n
            self.bar.close()


_OPEN_BARS: list[ProgressBar] = []


def close_progress_bars() -> None:
    for bar in list(_OPEN_BARS):
        bar.close()


def progress_bar(desc: str) -> ProgressBar:
    return ProgressBar(desc)


# -- commands -----------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    engine = make_engine(args)
    if args.workers > 1:
        from .bulk import check_workers

        check_workers(engine.settings, args.workers)  # before a progress bar or a store is opened
    bar = progress_bar("ingesting")
    try:
        report = engine.ingest([Path(p) for p in args.paths], progress=bar, workers=args.workers)
    finally:
        bar.close()
    show(report.summary())
    return 0


def _ensure_ready(engine) -> None:
    bar = progress_bar("ingesting sample")
    try:
        engine.ensure_ready(progress=bar)
    finally:
        bar.close()


def cmd_ask(args: argparse.Namespace) -> int:
    query = query_from(args, args.k)
    engine = make_engine(args, top_k=args.k)
    _ensure_ready(engine)
    stream = engine.stream(query)
    live = sys.stdout.isatty() and not args.json
    shown = []
    for delta in stream:
        shown.append(delta)
        if live:
            show(delta, end="", flush=True)
    answer = stream.answer
    if args.json:
        show_json(answer.to_dict())
        return 0
    if not live:
        show(answer.text, end="")
    elif not answer.abstained and answer.text.split() != "".join(shown).split():
        show("\n\nChecked against the sources (see the notes):\n" + answer.text, end="")  # grounding changed it
    print()
    if answer.citations:
        print("\nReferences:")
        for line in answer.references():
            show(line)
    for note in answer.notes:
        show(f"note: {note}", file=sys.stderr, redact=True)
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    query = query_from(args, args.k)
    engine = make_engine(args)
    _ensure_ready(engine)
    sources = engine.retrieve(query)
    if args.json:
        show_json([s.to_dict() for s in sources])
        return 0
    for s in sources:
        show(f"[{s.number}] {s.title} ({s.paper_id})  score={s.score:.4f} evidence={s.evidence:.2f}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    st = make_engine(args).stats()
    show(f"location:    {st.location}", redact=True)
    print(f"papers:      {st.papers}")
    print(f"chunks:      {st.chunks}")
    print(f"last ingest: {st.last_ingest or 'never'}")
    if st.years:
        print(f"years:       {st.years[0]}–{st.years[1]}")
    if st.categories:
        show(f"categories:  {', '.join(st.categories[:20])}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    data = settings.public_dict()
    data["resolved_backend"] = settings.resolved_backend()
    print(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
