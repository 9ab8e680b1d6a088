"""pip-audit over the installed environment (.venv), failing loudly when it could not look.

pip-audit reports "No known vulnerabilities found" and exits 0 even when every package was skipped
because its vulnerability service could not be reached (behind a proxy that answers 404, every
package is "not found on PyPI"). So this reads its JSON and fails unless each installed package,
other than this project itself (installed editable), was really audited; with
``PIP_AUDIT_OFFLINE_OK=1`` an unreachable service is a loud warning instead. A found vulnerability
always fails, unless its id is in IGNORED below with the reason.

Run by ``scripts/lint.sh`` (``make lint``); ``.venv/bin/python scripts/audit_installed.py``.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404  # runs pip-audit, an argument list, no shell
import sys
from pathlib import Path

PROJECT = "prsm-distill"  # this project, installed editable: nothing to look up
# Vulnerability id -> why it does not apply or cannot be fixed yet. Empty: none is ignored.
IGNORED: dict[str, str] = {}
TIMEOUT_S = 15  # per request to the vulnerability service


def main() -> int:
    command = [str(Path(sys.executable).with_name("pip-audit")), "--skip-editable", "--progress-spinner", "off",
               "--format", "json", "--timeout", str(TIMEOUT_S)]
    for vulnerability in IGNORED:
        command += ["--ignore-vuln", vulnerability]
    result = subprocess.run(command, capture_output=True, text=True)  # nosec B603  # a fixed argument list
    try:
        dependencies = json.loads(result.stdout)["dependencies"]
    except (json.JSONDecodeError, KeyError):
        last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}, no report"])[-1]
        return unreachable(f"pip-audit stopped without a report: {last}")
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason") and d["name"] != PROJECT]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        for vulnerability in dependency["vulns"]:
            fixed = ", ".join(vulnerability.get("fix_versions") or []) or "no fixed version yet"
            print(f"VULNERABLE {dependency['name']} {dependency['version']}: {vulnerability['id']} (fixed in {fixed})")
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} installed packages have known vulnerabilities: upgrade them, or add the "
              "id to IGNORED in scripts/audit_installed.py with the reason", file=sys.stderr)
        return 1
    if skipped:
        example = skipped[0]["skip_reason"]
        return unreachable(f"pip-audit could not audit {len(skipped)} of {len(skipped) + len(audited)} installed "
                           f"packages (e.g. {example})")
    print(f"pip-audit: {len(audited)} installed packages audited, no known vulnerabilities")
    return 0


def unreachable(reason: str) -> int:
    if os.environ.get("PIP_AUDIT_OFFLINE_OK") == "1":
        print(f"WARNING: {reason}. PIP_AUDIT_OFFLINE_OK=1: going on WITHOUT a vulnerability audit.", file=sys.stderr)
        return 0
    print(f"pip-audit FAILED: {reason}. Its vulnerability service (pypi.org) is probably unreachable from here; "
          "run where it is reachable, or set PIP_AUDIT_OFFLINE_OK=1 to accept no audit.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
