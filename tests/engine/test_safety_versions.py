"""Startup refuses library versions with known unsafe model loading."""

from __future__ import annotations

import re

import pytest

from prsm.engine import safety_versions


@pytest.fixture
def versions(monkeypatch):
    installed = {"torch": "2.13.0+cpu", "onnx": "1.23.2"}
    monkeypatch.setattr(safety_versions, "installed_version", lambda name: installed.get(name))
    monkeypatch.setattr(safety_versions, "_verified", False)
    return installed


def test_current_versions_pass(versions):
    safety_versions.require_safe_versions()
    assert safety_versions.unsafe_versions() == {}


@pytest.mark.parametrize(("library", "old"), [("torch", "2.9.1"), ("torch", "2.6.0+cu124"), ("onnx", "1.20.1")])
def test_an_old_torch_or_onnx_is_refused_by_name(versions, library, old):
    versions[library] = old
    with pytest.raises(safety_versions.UnsafeLibraryVersion, match=re.escape(f"{library} {old}")):
        safety_versions.require_safe_versions()


def test_a_missing_library_is_not_a_refusal(versions):
    versions.pop("onnx")
    safety_versions.require_safe_versions()


def test_the_pipeline_checks_versions_before_loading_anything(versions, tmp_path):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    versions["torch"] = "2.4.0"
    with pytest.raises(safety_versions.UnsafeLibraryVersion):
        run_distillation(DistillConfig(teacher="nowhere", data="nowhere.csv"), tmp_path)
