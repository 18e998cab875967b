"""The command line as a user runs it: a subprocess, its stdout, stderr and exit code."""

import json
import os
import subprocess
import sys

import pytest
from conftest import TINY

HEAVY = ("gradio", "torch", "onnxruntime", "chromadb", "llama_index", "openai", "transformers")


def run(*args, env_extra=None, index_dir=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    if index_dir:
        env["RAG_INDEX_DIR"] = str(index_dir)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-index")
    proc = run("ingest", str(TINY), index_dir=d)
    assert proc.returncode == 0, proc.stderr
    assert "Ingested tiny.jsonl: 8 new, 0 updated, 0 unchanged, 0 skipped" in proc.stdout
    return d


@pytest.mark.parametrize("code", ["import rag", "from rag.cli import build_parser; build_parser().format_help()"])
def test_import_and_help_load_no_heavy_modules(code):
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("ingest", "ask", "retrieve", "stats", "config"):
        assert command in proc.stdout
    assert "OPENAI_BASE_URL" in proc.stdout


def test_ask_prints_the_answer_then_numbered_references(tiny_dir):
    proc = run("ask", "What signing time does the lattice signature scheme reach?", index_dir=tiny_dir)
    assert proc.returncode == 0, proc.stderr
    answer, refs = proc.stdout.split("\nReferences:\n")
    assert "0.3 milliseconds" in answer and "[1]" in answer
    assert refs.splitlines()[0] == (
        "[1] A Lattice-Based Signature Scheme with Short Keys (2205.00003) https://arxiv.org/abs/2205.00003"
    )


def test_ask_json_has_the_whole_answer(tiny_dir):
    proc = run("ask", "--json", "How fast is verification of the zero-knowledge proof?", index_dir=tiny_dir)
    data = json.loads(proc.stdout)
    assert data["backend"] == "extractive" and not data["abstained"]
    assert data["citations"][0]["paper_id"] == "2403.00008"
    assert data["sources"][0]["number"] == 1 and "settings_hash" in data


def test_retrieve_and_stats(tiny_dir):
    proc = run("retrieve", "-k", "2", "--year-from", "2024", "attention sink tokens", index_dir=tiny_dir)
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("[1] KV Cache Eviction by Attention Sinks (2406.00006)")
    stats = run("stats", index_dir=tiny_dir).stdout
    assert "papers:      8" in stats and "years:       2018–2024" in stats and "cs.CL" in stats


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
def test_errors_are_one_line_and_an_exit_code(tiny_dir, args, env, code, message):
    proc = run(*args, env_extra=env, index_dir=tiny_dir)
    assert proc.returncode == code
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unknown_file_type_changes_nothing(tiny_dir, tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    proc = run("ingest", str(TINY), str(pdf), index_dir=tiny_dir)
    assert proc.returncode == 2 and "Unknown file type .pdf" in proc.stderr
    assert "papers:      8" in run("stats", index_dir=tiny_dir).stdout


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
