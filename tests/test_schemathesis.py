"""schemathesis over the OpenAPI schema against the real server (Daphne on the test database), as a
signed-in client: every operation, with examples, schema-coverage cases and fuzzed bodies,
headers and query strings, valid and invalid. Not one answer may be a server error or a status the
schema does not declare for its operation, and the server may log no ERROR line. (Bodies are held to
the declared schemas by every in-process API test: tests/schema_conformance.py. Here they are not,
because Daphne itself answers a multipart body without a boundary with a bare 400 before Django
sees it.) The figures it prints go to docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

BIN = Path(sys.executable).parent
MAX_SECONDS = 150  # the time budget schemathesis spreads over the operations


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(live_daphne, tmp_path):
    user = get_user_model().objects.create_user("fuzzer", password="a long fuzzing passphrase")
    token = Token.objects.create(user=user)
    report = tmp_path / "report.json"
    run = subprocess.run(
        [str(BIN / "st"), "run", f"{live_daphne}/api/schema/", "--header", f"Authorization: Token {token.key}",
         "--checks", "not_a_server_error,status_code_conformance", "--phases", "examples,coverage,fuzzing", "--max-examples", "20",
         "--workers", "1", "--seed", "12", "--no-shrink", "--max-time", str(MAX_SECONDS), "--request-timeout", "20",
         "--generation-database", "none", "--no-color", "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=MAX_SECONDS + 240, cwd=tmp_path,
    )
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    result = json.loads(report.read_text())
    assert (result["failures"], result["errors"]) == ([], []), summary
    assert result["operations"]["tested"] == result["operations"]["total"] > 25
    server_log = (tmp_path / "daphne.log").read_text()
    assert " ERROR " not in server_log, server_log[-4000:]
    print(f"schemathesis: {result['test_cases']['generated']} cases over {result['operations']['tested']} operations "
          f"in {result['running_time']:.0f} s, {len(result['failures'])} server errors")
