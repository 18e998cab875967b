"""Small command-line behaviours, run in-process through ``rag.cli.main`` (no subprocess start-up)."""

from __future__ import annotations

import io
import re
import warnings

import pytest

from rag import cli
from rag.readers import FORMATS


class FakeTerminal(io.StringIO):
    """stdout and stderr of one terminal: what both write lands on the same screen."""

    def isatty(self) -> bool:
        return True


def screen_lines(raw: str) -> list[str]:
    """The lines a terminal shows for ``raw``: a carriage return goes back to the line's start,
    tqdm's cursor-up (ESC[A) back to the line above."""
    lines, col = [""], 0
    for part in re.split(r"(\r|\n|\x1b\[A)", raw):
        if part == "\n":
            lines.append("")
            col = 0
        elif part == "\r":
            col = 0
        elif part == "\x1b[A":
            lines.pop() if len(lines) > 1 else None
        elif part:
            line = lines[-1]
            lines[-1] = line[:col] + part + line[col + len(part):]
            col += len(part)
    return [line.rstrip() for line in lines]


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag {version('rag-abstracts')}"


def test_version_is_unknown_in_a_plain_checkout(monkeypatch):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "version", missing)
    assert cli._version() == "unknown"


def test_ingest_help_lists_every_format_the_readers_accept(capsys):
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for ext in [*FORMATS, ".gz"]:
        assert re.search(re.escape(ext) + r"\b", help_text), ext


class _Report:
    def summary(self) -> str:
        return "Ingested sample.txt: 247 new, 0 updated, 0 unchanged, 0 skipped (1.0 s)."


class _EstimateTooHigh:
    """An engine whose ingest ends one paper short of its estimate (247 of 248), as the sample did."""

    def __init__(self, settings=None, notify=None):
        self.notify = notify
        self.callbacks = []  # kept, so the bar is not closed by chance when the callback is collected

    def ingest(self, paths, progress=None, workers=1):
        self.callbacks.append(progress)
        for done in (100, 200, 247):
            progress(done, 248)
        return _Report()

    def ensure_ready(self, progress=None):
        self.notify(self.ingest(["sample"], progress).summary())

    def retrieve(self, query):
        return []


def terminal(monkeypatch) -> FakeTerminal:
    """One terminal for stdout and stderr (set in the test itself: pytest resets sys.stdout between phases)."""
    screen = FakeTerminal()
    monkeypatch.setattr("sys.stdout", screen)
    monkeypatch.setattr("sys.stderr", screen)
    return screen


def test_ingest_summary_gets_its_own_line_when_the_estimate_was_off(monkeypatch):
    screen = terminal(monkeypatch)
    monkeypatch.setattr(cli, "make_engine", lambda args: _EstimateTooHigh())
    assert cli.main(["ingest", "sample.txt"]) == 0
    shown = [line for line in screen_lines(screen.getvalue()) if line]
    assert shown == [_Report().summary()]  # the bar's line was cleared: no "247/248" beside the summary


def test_first_run_summary_gets_its_own_line_when_the_estimate_was_off(monkeypatch):
    screen = terminal(monkeypatch)
    import rag.engine

    monkeypatch.setattr(rag.engine, "Engine", _EstimateTooHigh)
    assert cli.main(["retrieve", "kv cache"]) == 0
    shown = [line for line in screen_lines(screen.getvalue()) if line]
    assert shown == [_Report().summary()]


def test_a_notice_closes_an_open_bar_first(monkeypatch):
    screen = terminal(monkeypatch)
    bar = cli.progress_bar("ingesting sample")
    bar(247, 248)
    cli.notice("Ingested 247 papers.")
    assert [line for line in screen_lines(screen.getvalue()) if line] == ["Ingested 247 papers."]
    assert bar.bar.total == 247 and bar.bar.n == 247  # the total was corrected to what was done


def test_a_short_estimate_turns_into_a_plain_count(monkeypatch):
    terminal(monkeypatch)
    bar = cli.progress_bar("ingesting")
    bar(10, 8)
    assert bar.bar.total is None and bar.bar.n == 10
    bar.close()


def test_debug_shows_the_cause_of_an_error(tmp_path, capsys):
    bad = tmp_path / "config.toml"
    bad.write_text("top_k = = 3\n")
    assert cli.main(["config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot read config file") and "Traceback" not in err
    assert cli.main(["config", "--config", str(bad), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "TOMLDecodeError" in err and "ConfigError" in err
    assert err.rstrip().splitlines()[-1].startswith("error: Cannot read config file")


def test_an_unknown_rag_variable_is_named_once_with_a_suggestion(monkeypatch, capsys):
    from rag import settings

    monkeypatch.setattr(settings, "_WARNED_ENV", set())
    monkeypatch.setenv("RAG_TOPK", "9")
    for _ in range(2):
        assert cli.main(["config"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: unknown environment variable RAG_TOPK (did you mean RAG_TOP_K?)\n") == 1
    assert err.count("warning:") == 1


def test_other_warnings_are_left_to_python(monkeypatch, capsys):
    def cmd(args):
        warnings.warn("something else", DeprecationWarning)
        return 0

    monkeypatch.setattr(cli, "cmd_config", cmd)
    with pytest.warns(DeprecationWarning, match="something else"):
        assert cli.main(["config"]) == 0
    assert "warning: something else" not in capsys.readouterr().err
