"""The CLI, the web server and the workers refuse library versions with known unsafe loading."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from prsm import cli
from prsm.engine import safety_versions


def test_the_platform_refuses_to_start_on_an_old_torch(monkeypatch):
    monkeypatch.setattr(safety_versions, "installed_version", lambda name: "2.5.1" if name == "torch" else "1.23.2")

    with pytest.raises(ImproperlyConfigured, match=r"torch 2\.5\.1 \(needs >= 2\.10\)"):
        apps.get_app_config("distillation").ready()


def test_the_platform_starts_on_the_pinned_versions():
    apps.get_app_config("distillation").ready()  # raises on failure


def test_the_cli_refuses_to_run_on_an_old_onnx(monkeypatch, capsys):
    monkeypatch.setattr(safety_versions, "_verified", False)
    monkeypatch.setattr(safety_versions, "installed_version", lambda name: "1.16.0" if name == "onnx" else "2.13.0")

    code = cli.main(["catalog"])

    assert code == 1
    assert "onnx 1.16.0 (needs >= 1.21)" in capsys.readouterr().err
