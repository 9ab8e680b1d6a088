#!/usr/bin/env bash
# Makes sure a Redis answers at REDIS_URL. If none does and REDIS_URL is local, installs Debian's
# redis-server when missing and starts one in the background, writing its pid to var/redis.pid
# (the caller stops it). Prints "started" when it started one.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PY=.venv/bin/python

ping() {
  "$PY" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()" "$REDIS_URL" >/dev/null 2>&1
}

if ping; then exit 0; fi

read -r HOST PORT < <("$PY" -c "from urllib.parse import urlparse; import sys; u=urlparse(sys.argv[1]); print(u.hostname or '127.0.0.1', u.port or 6379)" "$REDIS_URL")
case "$HOST" in
  127.0.0.1|localhost|::1) ;;
  *) echo "error: no Redis answers at $REDIS_URL, and it is not on this machine; start it there." >&2; exit 1 ;;
esac

if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Redis (Debian package redis-server)..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    echo "Installing Redis with sudo (Debian package redis-server)..." >&2
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "error: Redis is needed and not installed. Install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running one." >&2
    exit 1
  fi
fi

mkdir -p var
redis-server --daemonize yes --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no \
  --dir "$PWD/var" --pidfile "$PWD/var/redis.pid" --logfile "$PWD/var/redis.log"
for _ in $(seq 1 50); do
  if ping; then echo started; exit 0; fi
  sleep 0.1
done
echo "error: started redis-server but it does not answer; see var/redis.log" >&2
exit 1
