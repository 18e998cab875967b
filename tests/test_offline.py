"""Offline by default: ingest and answer with every network socket blocked."""

import subprocess
import sys
import textwrap

from conftest import TINY

GUARD = textwrap.dedent(
    """
    import socket, sys
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by test")
    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from rag.cli import main
    codes = [main(["ingest", sys.argv[1]]), main(["ask", "How big is a zero-knowledge proof of a ResNet-18 inference?"])]
    print("EXIT", codes, "ATTEMPTS", len(attempts))
    """
)


def test_ingest_and_ask_work_with_sockets_blocked(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RAG_INDEX_DIR": str(tmp_path / "idx"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", GUARD, str(TINY)], capture_output=True, text=True, timeout=300, env=env
    )
    assert "EXIT [0, 0] ATTEMPTS 0" in proc.stdout, proc.stdout + proc.stderr
    assert "18 kilobytes" in proc.stdout and "[1] Zero-Knowledge Proofs for Verifiable Model Inference" in proc.stdout
