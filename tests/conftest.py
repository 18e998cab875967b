from __future__ import annotations

import os
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
def tiny_engine(tiny_settings):
    from rag.engine import Engine

    engine = Engine(tiny_settings, notify=lambda msg: None)
    engine.ingest([TINY])
    return engine


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory):
    """The bundled sample corpus ingested once for the session, through the first-run path."""
    from rag.engine import Engine

    settings = Settings(index_dir=tmp_path_factory.mktemp("sample-index"))
    messages: list[str] = []
    engine = Engine(settings, notify=messages.append)
    engine.ensure_ready()
    return settings, engine, messages
