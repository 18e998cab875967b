"""`rag ui` and `rag ingest` on one embedded index, as a user runs them: two real processes.

The UI holds the index for as long as it runs; an ingest from the shell waits, then stops
with a message that names the UI's process, writes nothing, and the UI goes on answering.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import TINY, free_port

from rag.engine import Engine
from rag.settings import Settings

pytestmark = pytest.mark.slow


def env_for(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(RAG_INDEX_DIR=str(index_dir), **extra)
    return env


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"rag ui exited early: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"rag ui did not answer at {url} within {timeout} s")


def test_an_ingest_from_the_shell_while_the_ui_runs_is_refused_and_the_ui_keeps_serving(tmp_path):
    from gradio_client import Client

    index = tmp_path / "idx"
    done = subprocess.run([sys.executable, "-m", "rag", "ingest", str(TINY)], capture_output=True, text=True,
                          env=env_for(index), timeout=300)
    assert done.returncode == 0, done.stderr
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "rag", "ui", "--port", str(port)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env_for(index))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", ui)
        extra = tmp_path / "extra.jsonl"
        extra.write_text(json.dumps({"id": "new1", "title": "Quantum Annealing for Protein Folding",
                                     "abstract": "We fold proteins on a quantum annealer with 5000 qubits and beat "
                                     "classical heuristics on every benchmark we tried."}) + "\n")
        shell = subprocess.run([sys.executable, "-m", "rag", "ingest", str(extra)], capture_output=True, text=True,
                               env=env_for(index, RAG_LOCK_TIMEOUT="1"), timeout=300)
        assert shell.returncode == 3, shell.stderr
        assert f"in use by PID {ui.pid} (python -m rag ui): stop it, or use a Chroma server with RAG_CHROMA_URL" in shell.stderr
        assert "Traceback" not in shell.stderr
        reply = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            "What does the lattice signature scheme reduce?", 3, api_name="/ask")
        assert reply["sources"] and not reply.get("error")
    finally:
        ui.terminate()
        ui.wait(timeout=60)
    with Engine(Settings(index_dir=index, sample_on_empty=False, lock_timeout=0), notify=lambda m: None) as engine:
        assert engine.store.existing(["new1"]) == {}  # the refused ingest wrote nothing
        assert engine.stats().papers == 8
