"""PyTorch weights in uploaded teachers: converted to safetensors (only the copy is kept), or refused
with the reason; a forbidden import in a pickle is flagged for the moderators. Every malicious file
comes from ``tests/hostile_files.py``; a payload that ran would write the canary."""

import hashlib
import json
import os
import pickle

import pytest
import torch
from safetensors.torch import load_file

from distillation.models import Teacher
from distillation.tasks import teacher_analyze
from safety.models import FlaggedUpload

from tests.hostile_files import System, pickle_payload, safetensors_bytes, tar_of, torch_bytes, zip_of

from .test_uploads_fixtures import ada, media, upload  # noqa: F401

TEACHERS = "/api/v1/teachers/"
ARCHITECTURE = {"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": ["a", "b"],
                "config": {"input_dim": 3, "hidden": [4], "dropout": 0.0}}


def zoo_weights() -> dict:
    from prsm.engine.zoo import build_model

    torch.manual_seed(3)
    return build_model(ARCHITECTURE).state_dict()


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "a payload ran"


def _refused(response, *words, status=400) -> str:
    assert response.status_code == status, response.content
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("layout", ["zip", "legacy"], ids=["zip layout", "legacy layout"])
def test_a_zoo_folder_with_pth_weights_becomes_a_teacher_stored_as_safetensors(ada, media, layout):
    api, _ = ada
    weights = zoo_weights()
    archive = zip_of({"mlp/architecture.json": json.dumps(ARCHITECTURE).encode(),
                      "mlp/model.pth": torch_bytes(weights, layout)})

    response = upload(api, TEACHERS, "mlp.zip", archive)

    assert response.status_code == 201, response.content
    teacher = Teacher.objects.get(public_id=response.json()["id"])
    folder = media / teacher.path
    assert teacher.kind == "zoo"
    assert sorted(p.name for p in folder.iterdir()) == ["architecture.json", "model.safetensors"]  # the pickle is gone
    stored = load_file(folder / "model.safetensors")
    assert stored.keys() == weights.keys() and all(torch.equal(stored[k], weights[k]) for k in weights)
    teacher_analyze(str(teacher.public_id))
    teacher.refresh_from_db()
    assert (teacher.status, teacher.classes, teacher.params) == ("ready", ["a", "b"], 3 * 4 + 4 + 4 * 2 + 2)
    assert not FlaggedUpload.objects.exists()


def test_a_hugging_face_directory_with_pytorch_model_bin_is_stored_as_safetensors(ada, media):
    api, _ = ada
    config = {"model_type": "bert", "architectures": ["BertForSequenceClassification"]}
    weights = {"classifier.weight": torch.randn(2, 4), "classifier.bias": torch.zeros(2)}

    response = upload(api, TEACHERS, "bert.tgz", tar_of({
        "bert/config.json": json.dumps(config).encode(), "bert/pytorch_model.bin": torch_bytes(weights),
        "bert/training_args.bin": pickle.dumps({"lr": 0.1}, protocol=2)}, gz=True))

    assert response.status_code == 201, response.content
    folder = media / Teacher.objects.get().path
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert torch.equal(load_file(folder / "model.safetensors")["classifier.weight"], weights["classifier.weight"])


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_malicious_pth_is_refused_and_flagged_for_the_moderators(ada, media, canary, layout):
    api, user = ada
    content = torch_bytes({"w": torch.ones(2), "x": System(canary)}, layout)

    response = upload(api, TEACHERS, "../model.pth", content)

    message = _refused(response, f"imports {os.system.__module__}.system", "not a tensor type")
    assert not Teacher.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")), "a refused upload leaves no file behind"
    flagged = FlaggedUpload.objects.get()
    assert (flagged.user, flagged.kind, flagged.filename, flagged.status) == (user, "teacher", "model.pth", "pending")
    assert flagged.sha256 == hashlib.sha256(content).hexdigest() and flagged.reason == message
    assert flagged.imports == [f"{os.system.__module__}.system"]


def test_a_poisoned_checkpoint_inside_a_model_folder_is_refused_and_flagged(ada, media, canary):
    api, _ = ada
    poisoned = torch_bytes({"state_dict": {**zoo_weights(), "extra": System(canary)}, "epoch": 2})
    archive = zip_of({"mlp/architecture.json": json.dumps(ARCHITECTURE).encode(), "mlp/model.pth": poisoned})

    _refused(upload(api, TEACHERS, "mlp.zip", archive), "model.pth: refused", f"{os.system.__module__}.system")

    assert FlaggedUpload.objects.get().imports == [f"{os.system.__module__}.system"]
    assert not Teacher.objects.exists()


def test_weights_that_are_not_a_state_dict_or_stray_pickles_are_refused_without_a_flag(ada, media):
    api, _ = ada
    zoo = {"mlp/architecture.json": json.dumps(ARCHITECTURE).encode()}

    _refused(upload(api, TEACHERS, "mlp.zip", zip_of({**zoo, "mlp/model.pth": torch_bytes([1, 2, 3])})),
             "model.pth: not converted", "not a state dict")
    _refused(upload(api, TEACHERS, "mlp.zip", zip_of({**zoo, "mlp/model.safetensors": safetensors_bytes(),
                                                      "mlp/extra/state.pkl": pickle.dumps({"a": 1})})),
             "extra/state.pkl", "other than PyTorch weights")
    _refused(upload(api, TEACHERS, "model.pth", torch_bytes(zoo_weights())), "weights alone are not a teacher")

    assert not FlaggedUpload.objects.exists()
    assert not Teacher.objects.exists()


def test_a_pickled_data_set_with_a_payload_is_flagged_too(ada, media, canary):
    api, user = ada

    _refused(upload(api, "/api/v1/datasets/", "data.csv", pickle_payload(canary, 4)), "builtins.exec")

    assert FlaggedUpload.objects.get().kind == "dataset"
