#!/usr/bin/env bash
# Starts a worker on the default and training queues, and on the gpu queue when PyTorch sees CUDA.
cd "$(dirname "$0")/.."
queues="default training"
if .venv/bin/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  queues="gpu $queues"
fi
exec .venv/bin/dramatiq prsm_site.worker --processes "${WORKER_PROCESSES:-1}" --threads "${WORKER_THREADS:-2}" --queues $queues
