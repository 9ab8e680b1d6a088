#!/usr/bin/env bash
# `make test`: make sure Redis (and PostgreSQL, when DATABASE_URL names a local one) answer, then
# run the whole pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2

redis_state=$(scripts/ensure-redis.sh)
cleanup() { if [ "$redis_state" = started ]; then scripts/stop-redis.sh; fi; }
trap cleanup EXIT

case "${DATABASE_URL:-}" in
  postgres*://*127.0.0.1*|postgres*://*localhost*)
    if ! pg_isready -q -h 127.0.0.1 2>/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; then
      echo "Starting PostgreSQL..." >&2
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi ;;
esac
echo "database: ${DATABASE_URL:-SQLite (default)}  redis: ${REDIS_URL:-redis://127.0.0.1:6379 (db 15 for tests)}"

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure of the suite, not a pass" >&2
fi
exit "$status"
