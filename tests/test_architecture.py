"""Dependencies point one way (ui, eval -> rag): the import-linter contracts in pyproject.toml hold."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]' (it brings import-linter)")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", proc.stdout)
    assert kept and int(kept.group(1)) >= 2, proc.stdout  # the layers and the no-cycles contracts at least


@pytest.mark.slow  # a cold mypy run takes about a minute on 2 cores
def test_mypy_is_clean_from_a_plain_checkout(tmp_path):
    """`mypy` over rag/, ui/ and eval/ (configured in pyproject.toml) finds no error, reading the
    packages from the checkout itself, as a contributor's editor or CI does."""
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
