#!/usr/bin/env bash
# `make lint`: bandit over our own code (settings in pyproject.toml's [tool.bandit]), then
# pip-audit over what is installed in .venv. A few seconds each; CI runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== bandit"
# The whole tree, less what pyproject.toml's [tool.bandit] exclude_dirs leaves out (the virtualenv,
# run data, tests): a new app or folder is scanned without being added to a list.
# -q: findings and errors only. Its warnings about "# nosec" comments (free text read as test ids,
# tests that did not fire on a nosec line) are dropped: each nosec names its test and says why.
.venv/bin/bandit -r . -c pyproject.toml -q 2>&1 \
  | { grep -v -E "^\[(manager|tester)\]"$'\t'"WARNING" || true; }
echo "bandit: no issues"

echo "== pip-audit"
.venv/bin/python scripts/audit_installed.py
