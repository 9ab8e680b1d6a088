import json
import math

import numpy as np
import pytest
import torch

from prsm.engine.catalog import catalog_build, read_card, registry
from prsm.engine.catalog.packages import sha256_of_file
from prsm.engine.data.builtin import load_builtin
from prsm.engine.zoo import load_zoo_model


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full build shared by the tests that only read it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRSM_HOME", str(tmp_path_factory.mktemp("prsm-home")))
        yield catalog_build("digits-mlp")


def test_digits_mlp_builds_a_zoo_model_with_a_sane_held_out_accuracy(built):
    card = json.loads((built / "catalog.json").read_text())
    assert card["name"] == "digits-mlp" and card["quick"] is False
    assert card["accuracy"] >= 0.9
    model, architecture = load_zoo_model(built)
    assert architecture["kind"] == "mlp" and architecture["classes"] == [str(d) for d in range(10)]
    assert card["params"] == sum(p.numel() for p in model.parameters())


def test_the_recorded_accuracy_is_what_the_saved_model_scores_on_the_held_out_rows(built):
    card = json.loads((built / "catalog.json").read_text())
    data = load_builtin("digits")
    rows = np.array(card["heldout"]["indices"])
    assert card["data_sha256"] == data.sha256
    assert len(rows) == card["heldout"]["size"] == math.ceil(0.2 * len(data))
    model, _ = load_zoo_model(built)
    with torch.no_grad():
        predictions = model(torch.from_numpy(data.features[rows])).argmax(-1).numpy()
    assert float((predictions == data.labels[rows]).mean()) == pytest.approx(card["accuracy"], abs=1e-4)


def test_the_card_records_sources_training_settings_and_build_time(built):
    card = json.loads((built / "catalog.json").read_text())
    assert {"torch", "data"} <= set(card["sources"])
    assert card["training"]["seed"] == 0 and card["training"]["train_rows"] + card["heldout"]["size"] == 1797
    assert card["build_seconds"] > 0 and card["built_at"]


def test_the_same_build_twice_gives_the_same_weights(tmp_path, monkeypatch):
    digests = []
    for run in ("first", "second"):
        monkeypatch.setenv("PRSM_HOME", str(tmp_path / run))
        digests.append(sha256_of_file(catalog_build("digits-mlp", quick=True) / "model.safetensors"))
    assert digests[0] == digests[1]


def test_a_failed_build_leaves_neither_a_teacher_nor_a_temporary_folder(prsm_home, monkeypatch):
    def broken(folder, quick, progress):
        (folder / "model.safetensors").write_bytes(b"half written")
        raise RuntimeError("the machine ran out of patience")

    monkeypatch.setattr(registry, "_import_builder", lambda spec: broken)
    with pytest.raises(RuntimeError):
        catalog_build("digits-mlp")
    assert list((prsm_home / "catalog").iterdir()) == []


def test_a_quick_build_is_replaced_by_a_full_one_but_a_full_one_is_kept(prsm_home, monkeypatch):
    calls = []

    def builder(folder, quick, progress):
        calls.append(quick)
        return {"params": 1, "accuracy": 0.5, "heldout": {"size": 1, "indices": [0]}}

    monkeypatch.setattr(registry, "_import_builder", lambda spec: builder)
    catalog_build("digits-mlp", quick=True)
    catalog_build("digits-mlp", quick=True)
    assert calls == [True] and read_card("digits-mlp")["quick"] is True
    catalog_build("digits-mlp")
    catalog_build("digits-mlp", quick=True)
    assert calls == [True, False] and read_card("digits-mlp")["quick"] is False
    catalog_build("digits-mlp", force=True, quick=True)
    assert calls == [True, False, True]


def test_progress_reports_every_training_step(prsm_home):
    seen = []
    catalog_build("digits-mlp", quick=True, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and seen[-1][1] == seen[-1][2]
    assert [done for _, done, _ in seen] == list(range(1, seen[-1][2] + 1))
