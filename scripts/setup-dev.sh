#!/usr/bin/env bash
# Install everything the tests need: a venv in .venv with the package and its test extras.
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
