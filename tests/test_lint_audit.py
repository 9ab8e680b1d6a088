"""`make lint`'s pip-audit step: it fails when the audit could not look, not only when it finds
something (pip-audit alone exits 0 with every package skipped), unless PIP_AUDIT_OFFLINE_OK=1."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "audit_installed.py"


@pytest.fixture
def audit(monkeypatch):
    spec = importlib.util.spec_from_file_location("audit_installed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.delenv("PIP_AUDIT_OFFLINE_OK", raising=False)

    def answering(dependencies=None, stdout=None, returncode=0, stderr=""):
        body = json.dumps({"dependencies": dependencies, "fixes": []}) if stdout is None else stdout
        monkeypatch.setattr(module.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(
            command, returncode, stdout=body, stderr=stderr))
        return module.main()

    return answering


PROJECT = {"name": "prsm-distill", "skip_reason": "distribution marked as editable"}
NOT_FOUND = {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2.19)"}
CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}


def test_it_passes_when_every_package_was_audited_and_none_is_vulnerable(audit, capsys):
    assert audit([PROJECT, CLEAN]) == 0
    assert "1 installed packages audited" in capsys.readouterr().out


def test_it_fails_loudly_when_the_service_could_not_be_reached(audit, capsys, monkeypatch):
    assert audit([PROJECT, NOT_FOUND]) == 1
    assert "pip-audit FAILED: pip-audit could not audit 1 of 1" in capsys.readouterr().err
    assert audit(stdout="", returncode=1, stderr="requests.exceptions.ConnectionError: no route") == 1
    assert "ConnectionError" in capsys.readouterr().err

    monkeypatch.setenv("PIP_AUDIT_OFFLINE_OK", "1")
    assert audit([PROJECT, NOT_FOUND]) == 0
    assert "WITHOUT a vulnerability audit" in capsys.readouterr().err


def test_a_vulnerability_fails_it_even_offline_ok(audit, capsys, monkeypatch):
    monkeypatch.setenv("PIP_AUDIT_OFFLINE_OK", "1")
    vulnerable = {"name": "django", "version": "5.2.0", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["5.2.1"]}]}

    assert audit([PROJECT, vulnerable], returncode=1) == 1
    assert "VULNERABLE django 5.2.0: PYSEC-0000-1 (fixed in 5.2.1)" in capsys.readouterr().out
