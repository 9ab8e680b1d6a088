#!/usr/bin/env bash
# Creates .venv with Python 3.11 and installs the project with its test tools; then the browser
# tests' tools (Debian's chromium with apt-get, axe-core from npm into var/node) and the data sets.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found. Install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv; then
    echo "error: could not create .venv. On Debian: apt-get install python3.11-venv" >&2
    exit 1
  fi
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade "pip==25.3" 2>&1 | grep -v "is ignored: it is neither" || true
# torch is pinned exactly (torch==2.13.0, the CPU build) in pyproject.toml: a looser pin pulls a
# CUDA build of several GB.
.venv/bin/python -m pip install --quiet -e '.[platform,test]' 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python -c "import django, torch, dramatiq, channels; print('installed: django', django.get_version(), '| torch', torch.__version__)"
scripts/install-browser.sh
if [ -x scripts/install-data.sh ]; then
  scripts/install-data.sh
fi
