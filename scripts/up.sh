#!/usr/bin/env bash
# `make up`: start Redis if none answers, migrate, create the demo account, then run the web
# server (Daphne: HTTP + websockets) and a worker under honcho in the foreground. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PRSM_PORT=${PORT:-8000}
export PRSM_HOST=${HOST:-127.0.0.1}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=.venv/bin/python
URL="http://$PRSM_HOST:$PRSM_PORT"

if ! "$PY" -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2])))" "$PRSM_HOST" "$PRSM_PORT" 2>/dev/null; then
  echo "error: port $PRSM_PORT is taken on $PRSM_HOST; run with another, e.g. PORT=8080 make up" >&2
  exit 1
fi

redis_state=$(scripts/ensure-redis.sh)
cleanup() {
  if [ "$redis_state" = started ]; then scripts/stop-redis.sh; echo "stopped the Redis this run started"; fi
}
trap cleanup EXIT

# DEBUG is off unless DEBUG=1 is set, and bootstrap then refuses the demo account's published
# password: without PRSM_DEMO_PASSWORD the first run makes one, kept (owner-only) in var/demo-password.
if [ -z "${PRSM_DEMO_PASSWORD:-}" ]; then
  if [ ! -s var/demo-password ]; then
    mkdir -p var
    (umask 077 && "$PY" -c "import secrets; print(secrets.token_urlsafe(12))" > var/demo-password)
  fi
  PRSM_DEMO_PASSWORD=$(cat var/demo-password)
fi
export PRSM_DEMO_PASSWORD

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py bootstrap

announce() {
  for _ in $(seq 1 120); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$URL/healthz" 2>/dev/null; then
      break
    fi
    sleep 1
  done
  cat <<MSG

  PRSM Distill is up:  $URL
  Log in as:           demo / $PRSM_DEMO_PASSWORD
  Health:              $URL/healthz      API docs: $URL/api/docs/
  Stop:                Ctrl-C

MSG
  if [ "${PRSM_DEMO:-1}" != 0 ] && "$PY" manage.py help demo_job >/dev/null 2>&1; then
    "$PY" manage.py demo_job --base-url "$URL"
  fi
}
announce &

status=0
.venv/bin/honcho start -f Procfile || status=$?
[ "$status" = 130 ] && status=0  # Ctrl-C is the normal way to stop
exit "$status"
