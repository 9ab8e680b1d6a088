"""The hostile-client figures for docs/BENCHMARKS.md: how many malformed requests the suite sends
and over how many operations, how many were refused properly (a 4xx in the error shape, no ERROR
log line), how many sign-ups one address gets per hour, and what schemathesis ran against a live
server and found.

    .venv/bin/python bench/hostile_clients.py

It runs the suites themselves (pytest -s), so the figures are those of the tests that keep them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _common import print_machine

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_hostile_bodies.py", "tests/test_hostile_requests.py", "tests/test_hostile_websockets.py",
          "tests/test_hostile_identity.py", "accounts/tests/test_signup_rate.py", "tests/test_schemathesis.py"]


def main() -> int:
    print_machine("bench/hostile_clients.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *SUITES],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    out = run.stdout
    for pattern in (r"hostile bodies: .*", r"schemathesis: .*", r"^\d+ passed.*|^=+ .*passed.*"):
        for line in re.findall(pattern, out, flags=re.MULTILINE):
            print(line.strip("= "))
    # the rate as the settings read it (the environment, or the default); in a process of its own,
    # since this folder's ledger.py would shadow the ledger app here
    rate = subprocess.run([sys.executable, "-c", "import django; from django.conf import settings; django.setup(); "
                           "print(settings.SIGNUP_RATE_PER_HOUR)"], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "DJANGO_SETTINGS_MODULE": "prsm_site.settings.test"}).stdout.strip()
    print(f"sign-ups accepted per client address per hour: {rate} "
          "(accounts/tests/test_signup_rate.py: the next one is refused on both routes, whatever X-Forwarded-For says)")
    if run.returncode:
        print(out[-3000:], run.stderr[-2000:])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
