"""DistillationRequest.augmentation_techniques: the engine's augmentations by name, mapped onto its
config, and every name or mix it cannot honour refused with a message naming the field."""

import pytest
from pydantic import ValidationError

from prsm.engine.config import DistillConfig
from prsm.engine.data.loaders import load_data
from prsm.engine.errors import BadInput
from prsm.planning import request_to_config
from prsm.request import DistillationRequest, request_errors


def _config(techniques, teacher="teachers/model.onnx") -> dict:
    request = DistillationRequest(teacher_model=teacher, dataset="data.csv", augmentation_techniques=techniques)
    return request_to_config(request, teacher=teacher, dataset="data.csv", backend="pytorch", epochs=2)


def _error(**fields) -> str:
    with pytest.raises(ValidationError) as caught:
        DistillationRequest(**fields)
    errors = {e["field"]: e["message"] for e in request_errors(caught.value)}
    assert list(errors) == ["augmentation_techniques"], errors
    return errors["augmentation_techniques"]


@pytest.mark.parametrize(("techniques", "task", "flip"), [
    (["shift"], "image", False),
    (["shift", "flip"], "image", True),
    (["noise"], "tabular", False),
    ([" Token_Mask "], "text", False),
])
def test_each_augmentation_turns_on_the_engines_for_its_kind_of_data(techniques, task, flip):
    config = _config(techniques)

    assert (config["augment"], config["augment_flip"], config["task"]) == (True, flip, task)
    assert DistillConfig.model_validate(config).augment  # the engine takes it as it is


def test_no_augmentation_leaves_the_engine_config_as_it_was():
    config = _config([])

    assert (config["augment"], config["augment_flip"], config["task"]) == (False, False, "auto")


def test_names_are_kept_once_in_the_order_given():
    request = DistillationRequest(teacher_model="m.onnx", augmentation_techniques=["flip", "SHIFT", "flip"])

    assert request.augmentation_techniques == ["flip", "shift"]
    assert request.augmentation_task == "image"


def test_an_unknown_augmentation_is_refused_naming_the_known_ones():
    message = _error(teacher_model="m.onnx", augmentation_techniques=["shift", "mixup"])

    assert message == ("unknown augmentation 'mixup'; choose from shift and flip (images), noise (tabular), "
                       "token_mask (text), or the training strategies adversarial and curriculum")


def test_augmentations_for_two_kinds_of_data_are_refused():
    message = _error(teacher_model="m.onnx", augmentation_techniques=["noise", "token_mask"])

    assert message == "'noise' is for tabular data and 'token_mask' for text; a job's data is of one kind"


def test_flip_alone_is_refused_because_the_engine_always_shifts_images_too():
    assert "ask for ['shift', 'flip']" in _error(teacher_model="m.onnx", augmentation_techniques=["flip"])


def test_a_catalog_teacher_of_another_kind_is_refused_at_once():
    message = _error(teacher_model="catalog:sentiment-minilm", augmentation_techniques=["shift"])

    assert message == "'shift' is for image data; catalog:sentiment-minilm is a text teacher"
    assert DistillationRequest(teacher_model="catalog:sentiment-minilm", augmentation_techniques=["token_mask"])


def test_data_of_another_kind_is_refused_when_the_engine_loads_it(tmp_path):
    """Outside the catalog the teacher's kind is known only on disk: the task fixed in the config makes
    the engine's loader refuse, instead of augmenting the data some other way."""
    data = tmp_path / "reviews.jsonl"
    data.write_text('{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n')
    config = _config(["noise"])

    with pytest.raises(BadInput, match="a JSONL file holds text data, not tabular"):
        load_data(str(data), config["task"])
    assert load_data(str(data), _config(["token_mask"])["task"]).task == "text"
