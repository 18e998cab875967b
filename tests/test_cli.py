"""The command line: `rag.cli.main` in-process (stdout, stderr, exit code), and a few real subprocesses
where the process itself is what is tested (start-up imports, `python -m rag`)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import TINY

from rag.types import Answer, Citation, Source

HEAVY = ("gradio", "torch", "onnxruntime", "chromadb", "llama_index", "openai", "transformers")


@pytest.fixture
def tiny_env(monkeypatch, tiny_index):
    """Commands read the session's tiny index (read-only commands only)."""
    monkeypatch.setenv("RAG_INDEX_DIR", str(tiny_index))
    monkeypatch.setenv("RAG_SAMPLE_ON_EMPTY", "false")
    return tiny_index


# -- real processes -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["import rag", "from rag.cli import build_parser; build_parser().format_help()"])
def test_import_and_help_load_no_heavy_modules(code):
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_the_commands():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    proc = subprocess.run([sys.executable, "-m", "rag", "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("ingest", "ask", "retrieve", "stats", "config", "eval", "ui"):  # eval, ui: entry points
        assert command in proc.stdout
    assert "OPENAI_BASE_URL" in proc.stdout and "warning" not in proc.stderr


# -- in-process ------------------------------------------------------------------------------------


def test_ingest_reports_then_an_unknown_file_type_changes_nothing(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    code, out, err = run_cli("ingest", TINY)
    assert code == 0, err
    assert "Ingested tiny.jsonl: 8 new, 0 updated, 0 unchanged, 0 skipped" in out
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    code, _, err = run_cli("ingest", TINY, pdf)
    assert code == 2 and "Unknown file type .pdf" in err
    assert "papers:      8" in run_cli("stats")[1]


def test_ask_prints_the_answer_then_numbered_references(run_cli, tiny_env):
    code, out, err = run_cli("ask", "What signing time does the lattice signature scheme reach?")
    assert code == 0, err
    answer, refs = out.split("\nReferences:\n")
    assert "0.3 milliseconds" in answer and "[1]" in answer
    assert refs.splitlines()[0] == (
        "[1] A Lattice-Based Signature Scheme with Short Keys (2205.00003) https://arxiv.org/abs/2205.00003"
    )


def test_ask_json_has_the_whole_answer(run_cli, tiny_env):
    code, out, _ = run_cli("ask", "--json", "How fast is verification of the zero-knowledge proof?")
    data = json.loads(out)
    assert code == 0 and data["backend"] == "extractive" and not data["abstained"]
    assert data["citations"][0]["paper_id"] == "2403.00008"
    assert data["sources"][0]["number"] == 1 and "settings_hash" in data


def test_retrieve_and_stats(run_cli, tiny_env):
    code, out, _ = run_cli("retrieve", "-k", "2", "--year-from", "2024", "attention sink tokens")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and lines[0].startswith("[1] KV Cache Eviction by Attention Sinks (2406.00006)")
    code, stats, _ = run_cli("stats")
    assert code == 0 and "papers:      8" in stats and "years:       2018–2024" in stats and "cs.CL" in stats


@pytest.mark.parametrize(
    "args, env, code, message",
    [
        (["ask", "   "], {}, 2, "error: The question is empty"),
        (["ingest", "missing.jsonl"], {}, 2, "error: No such file: missing.jsonl"),
        (["ask", "x?"], {"RAG_TOP_K": "many"}, 2, "error: Invalid settings: top_k (RAG_TOP_K)"),
        (["ask", "--backend", "openai", "What is the proof size?"], {}, 2, "error: No API key"),
        (["ask", "What is the proof size?"], {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "RAG_MAX_RETRIES": "0"}, 3,
         "error: Cannot reach the LLM server at http://127.0.0.1:9/v1"),
        (["ask", "--year-from", "2024", "--year-to", "2020", "q?"], {}, 2, "error: --year-from 2024 is after --year-to 2020"),
    ],
)
def test_errors_are_one_line_and_an_exit_code(run_cli, tiny_env, monkeypatch, args, env, code, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got, _, err = run_cli(*args)
    assert got == code
    assert err.startswith(message), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_config_shows_every_setting_as_json_with_secrets_hidden(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "x" * 32)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:hunter2@127.0.0.1:8080/v1")
    code, out, err = run_cli("config", "--collection", "mine")
    assert code == 0, err
    shown = json.loads(out)
    assert {"index_dir", "collection", "top_k", "min_evidence", "backend", "model", "openai_base_url",
            "openai_api_key", "chunk_tokens", "resolved_backend"} <= set(shown)
    assert shown["top_k"] == 7 and shown["collection"] == "mine"  # environment and arguments apply
    assert shown["index_dir"] == str(tmp_path / "index")
    assert shown["openai_api_key"] == "set" and shown["resolved_backend"] == "openai"
    assert shown["openai_base_url"] == "http://user:***@127.0.0.1:8080/v1"
    assert "hunter2" not in out and "sk-test-" not in out
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    code, out, _ = run_cli("config")
    assert json.loads(out)["openai_api_key"] is None and json.loads(out)["resolved_backend"] == "extractive"


# -- live output on a terminal -------------------------------------------------------------------


class FakeTTY:
    """A terminal stdout that logs each write and flush into a shared event log."""

    def __init__(self, log):
        self.log = log

    def isatty(self):
        return True

    def write(self, text):
        if text:
            self.log.append(("write", text))
        return len(text)

    def flush(self):
        self.log.append(("flush",))


class ScriptedStream:
    """What Engine.stream returns: text deltas as iterated (each logged when produced), then ``.answer``."""

    def __init__(self, deltas, answer, log):
        self.deltas, self.answer, self.log, self.sources = deltas, None, log, answer.sources
        self._final = answer

    def __iter__(self):
        for delta in self.deltas:
            self.log.append(("produced", delta))
            yield delta
        self.answer = self._final


def test_ask_on_a_terminal_prints_each_delta_as_it_arrives(run_cli, monkeypatch):
    log: list[tuple] = []
    deltas = ["Arrays of ", "16 hydrophones ", "were deployed [1]."]
    source = Source(1, "1903.00002", "Coral Reef Acoustic Monitoring", "Abstract.", 1.0, url="https://arxiv.org/abs/1903.00002")
    answer = Answer("How many?", "".join(deltas), [source], [Citation(1, "1903.00002", "Coral Reef Acoustic Monitoring")],
                    False, "scripted")

    class ScriptedEngine:
        def ensure_ready(self, progress=None):
            pass

        def stream(self, question, filters=None):
            return ScriptedStream(deltas, answer, log)

    monkeypatch.setattr("rag.cli.make_engine", lambda args, **kw: ScriptedEngine())
    monkeypatch.setattr(sys, "stdout", FakeTTY(log))
    assert run_cli("ask", "How many?")[0] == 0
    # each delta is written and flushed before the next one is even produced
    for delta in deltas:
        at = log.index(("produced", delta))
        assert log[at + 1:at + 3] == [("write", delta), ("flush",)], log
    written = "".join(e[1] for e in log if e[0] == "write")
    assert written.count("16 hydrophones") == 1  # not printed again at the end
    assert written.endswith("\n\nReferences:\n[1] Coral Reef Acoustic Monitoring (1903.00002) https://arxiv.org/abs/1903.00002\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "error: The question is empty"),
        (["retrieve", "-k", "0", "attention"], "error: k (how many papers) must be a whole number"),
        (["ask", "--year-from", "2024", "--year-to", "2020", "q?"], "error: --year-from 2024 is after --year-to 2020"),
    ],
)
def test_a_bad_question_on_a_fresh_install_ingests_nothing(args, message, tmp_path, monkeypatch, capsys):
    """In process: the question is checked before the index is opened or the sample ingested."""
    from rag.cli import main

    index = tmp_path / "fresh-index"
    monkeypatch.setenv("RAG_INDEX_DIR", str(index))
    assert main(args) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not index.exists()
