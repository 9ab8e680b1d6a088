#!/usr/bin/env bash
# Stops the Redis that ensure-redis.sh started (and only that one).
cd "$(dirname "$0")/.."
if [ -f var/redis.pid ]; then
  kill "$(cat var/redis.pid)" 2>/dev/null || true
  rm -f var/redis.pid
fi
