"""The local backend's runtime: a llama.cpp server (from ``xllamacpp``) on 127.0.0.1, managed by us.

:class:`LocalServer` starts it in a child process on a free port the first time a question
needs it, keeps it for every later question (the model is loaded once), and stops it on
:meth:`LocalServer.stop`, which the engine's ``close`` and an ``atexit`` hook both call. The
child also exits by itself when our end of its stdin closes, so a killed parent leaves no
server behind. Answers then go through the ordinary OpenAI-compatible client
(:class:`~rag.llm.ChatClient`) at :attr:`LocalServer.base_url`.

Run as ``python -m rag.local_server MODEL PORT THREADS CONTEXT`` it *is* that child.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Callable

from .errors import ConfigError, ServiceError
from .local_model import LocalModel

READY = "rag-local-server-ready"


def require_runtime() -> None:
    """Fail with what to install when the ``local`` extra is missing."""
    import importlib.util

    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(
            "The local backend needs llama.cpp: `pip install \"rag-abstracts[local]\"`, "
            "or choose another answerer with --backend extractive."
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """One llama.cpp server process serving ``model``; started by :meth:`start`, reused until :meth:`stop`."""

    def __init__(self, model: LocalModel, threads: int, context: int, startup_timeout: float = 300.0,
                 command: list[str] | None = None):
        self.model = model
        self.threads = threads
        self.context = context
        self.startup_timeout = startup_timeout
        self._command = command  # tests: a stand-in for the child
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the local server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, notify: Callable[[str], None] | None = None) -> str:
        """Start the server unless it runs already; returns :attr:`base_url` once it answers."""
        with self._lock:
            if self.running:
                return self.base_url
            self.stop()
            if notify:
                notify(f"Loading local model {self.model.name} ({self.model.size_mb} MB)… (once per session)")
            self.port = free_port()
            command = self._command or [sys.executable, "-m", "rag.local_server", str(self.model.path),
                                        str(self.port), str(self.threads), str(self.context)]
            self._log = tempfile.TemporaryFile()  # the child's llama.cpp log, shown when it fails
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
            atexit.register(self.stop)
            self._wait_ready()
            return self.base_url

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        ready = threading.Event()
        out = self._proc.stdout

        def watch() -> None:  # reads to the end: a full pipe would stall the server's logging, and with it the server
            for line in out:
                if line.decode(errors="replace").strip() == READY:
                    ready.set()

        threading.Thread(target=watch, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not ready.wait(0.1):
            if self._proc.poll() is not None:
                detail = self._log_tail()
                self.stop()
                raise ServiceError(
                    f"The local model {self.model.name} failed to load ({detail or 'the llama.cpp server exited'}): "
                    "check RAG_LOCAL_MODEL is a valid GGUF chat model, lower RAG_LOCAL_CONTEXT, or use --backend extractive."
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(
                    f"The local model {self.model.name} did not load within {self.startup_timeout:g} s: "
                    "raise RAG_LOCAL_STARTUP_TIMEOUT, choose a smaller RAG_LOCAL_MODEL, or use --backend extractive."
                )

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "failed" in ln.lower()] or lines
        return " ".join(errors[-2:])[-300:]

    def stop(self) -> None:
        """Stop the server (no-op when it is not running)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin,):
                try:
                    if stream:
                        stream.close()  # the child exits when its stdin closes
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        atexit.unregister(self.stop)


def _serve(model: str, port: int, threads: int, context: int) -> None:
    """The child: load ``model`` into llama.cpp's server on 127.0.0.1:``port``, say READY, serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = context
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    print(READY, flush=True)
    try:
        sys.stdin.read()  # EOF: the parent stopped us or died
    finally:
        del server


if __name__ == "__main__":  # pragma: no cover - run as the child process
    if len(sys.argv) != 5 or not Path(sys.argv[1]).is_file():
        sys.exit("usage: python -m rag.local_server MODEL.gguf PORT THREADS CONTEXT")
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
