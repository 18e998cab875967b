"""The same engine against a real Chroma server (`chroma run`) instead of the embedded store."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY, free_port

from rag.engine import Engine
from rag.errors import ServiceError
from rag.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([chroma, "run", "--path", str(data), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_ingest_and_ask_through_a_chroma_server(chroma_server, tmp_path):
    settings = Settings(index_dir=tmp_path / "local-cache", chroma_url=chroma_server, collection="server-test", sample_on_empty=False)
    engine = Engine(settings, notify=lambda m: None)
    assert engine.ingest([TINY]).new == 8
    assert engine.ingest([TINY]).unchanged == 8
    answer = engine.ask("How many hydrophones were deployed on the reefs?")
    assert answer.citations[0].paper_id == "1903.00002"
    # nothing was written to the embedded store: only the BM25 cache lives locally
    assert not (tmp_path / "local-cache" / "chroma").exists()
    # a second engine (another process, say) sees the same collection
    other = Engine(settings.replace(index_dir=tmp_path / "other-cache"), notify=lambda m: None)
    assert other.stats().papers == 8


def test_unreachable_chroma_server_says_what_to_do(tmp_path):
    settings = Settings(index_dir=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceError, match="Cannot reach the Chroma server.*chroma run.*unset RAG_CHROMA_URL"):
        Engine(settings).retrieve("anything")
