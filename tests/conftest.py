from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from rag.settings import Settings

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.jsonl"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's keys, servers, config or index."""
    for name in list(os.environ):
        if name.startswith(("RAG_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))


@pytest.fixture
def tiny_settings(tmp_path) -> Settings:
    return Settings(index_dir=tmp_path / "tiny-index", sample_on_empty=False)


@pytest.fixture
def tiny_engine(tiny_settings, tiny_index):
    """An engine over its own copy of the tiny index (free to mutate)."""
    from rag.engine import Engine

    shutil.copytree(tiny_index, tiny_settings.index_dir)
    return Engine(tiny_settings, notify=lambda msg: None)


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory) -> Path:
    """tests/data/tiny.jsonl ingested once for the session: an index dir to READ or to copy.

    A test that writes to an index uses ``tiny_index_copy`` (or ``tiny_engine``) instead.
    """
    from rag.engine import Engine

    index_dir = tmp_path_factory.mktemp("tiny-index") / "index"
    engine = Engine(Settings(index_dir=index_dir, sample_on_empty=False), notify=lambda msg: None)
    report = engine.ingest([TINY])
    assert report.new == 8, report.summary()
    engine.lexical()  # the BM25 cache is built once too
    return index_dir


@pytest.fixture
def tiny_index_copy(tiny_index, tmp_path) -> Path:
    """A private copy of the session's tiny index, for a test that changes it."""
    return Path(shutil.copytree(tiny_index, tmp_path / "tiny-index-copy"))


@pytest.fixture
def run_cli(capsys):
    """``rag ARGS`` in-process (no interpreter start-up): returns (exit code, stdout, stderr).

    The environment is the test's own (see ``isolated_env``; set more with monkeypatch).
    """
    from rag.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # drop what came before
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory):
    """The bundled sample corpus ingested once for the session, through the first-run path."""
    from rag.engine import Engine

    settings = Settings(index_dir=tmp_path_factory.mktemp("sample-index"))
    messages: list[str] = []
    engine = Engine(settings, notify=messages.append)
    engine.ensure_ready()
    return settings, engine, messages


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for a module of browser tests (each module sets its own page size)."""
    from browser import chromium

    with chromium() as b:
        yield b
