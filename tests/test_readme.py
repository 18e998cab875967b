"""The README's examples run, so they cannot drift."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()

pytestmark = pytest.mark.slow


def test_quick_start_is_two_commands():
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert "rag ask" in commands[0] and "pytest" in commands[1]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert commands[1] in ci  # CI runs the README's test command


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", README, re.S))
def test_python_examples_run(block, sample_index):
    settings, engine, _ = sample_index
    engine.close()  # the subprocess opens the index; the engine reopens it when next used
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env["RAG_INDEX_DIR"] = str(settings.index_dir)
    proc = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "False extractive" in proc.stdout
