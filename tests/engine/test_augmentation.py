"""Augmentation: new variants of each batch drawn from the seed, and the teacher run online on
every augmented batch (nothing cached), repeatable run to run and across a resume."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from safetensors.torch import load_file

from prsm.engine.data.loaders import load_data
from prsm.engine.errors import BadInput, Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.teachers.zoo import ZooTeacher
from prsm.engine.training.augment import Augmentation, augmentation_for, batch_rng


def test_an_image_moves_by_at_most_the_shift_and_keeps_its_pixels():
    x = np.zeros((64, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0
    out = Augmentation("image", shift=2)({"x": x}, batch_rng(0, 0, 0))["x"]
    assert out.shape == x.shape and out.sum() == x.sum()  # a centred dot is never cropped away
    _, _, rows, cols = np.nonzero(out)
    assert np.abs(rows - 4).max() == 2 and np.abs(cols - 4).max() == 2
    assert len(set(zip(rows, cols))) > 10
    assert (x[:, 0, 4, 4] == 1.0).all()  # the batch itself is not written to


def test_images_flip_only_when_asked():
    x = np.random.default_rng(0).random((32, 1, 5, 5), dtype=np.float32)
    assert np.array_equal(Augmentation("image", shift=0)({"x": x}, batch_rng(0, 0, 0))["x"], x)
    flipped = Augmentation("image", shift=0, flip=True)({"x": x}, batch_rng(0, 0, 0))["x"]
    mirrored = np.array([np.array_equal(f, o[..., ::-1]) for f, o in zip(flipped, x)])
    unchanged = np.array([np.array_equal(f, o) for f, o in zip(flipped, x)])
    assert (mirrored | unchanged).all() and 5 < mirrored.sum() < 27


def test_tabular_noise_follows_each_features_spread_and_spares_constant_ones():
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(0, 1, 4000), rng.normal(0, 100, 4000), np.full(4000, 7.0)], 1).astype(np.float32)
    augmentation = augmentation_for("tabular", {"x": x}, adapter=None)
    moved = np.abs(augmentation({"x": x}, batch_rng(0, 0, 0))["x"] - x).mean(0)
    assert moved[1] / moved[0] == pytest.approx(100, rel=0.1) and moved[2] == 0
    assert moved[0] == pytest.approx(augmentation.noise * np.sqrt(2 / np.pi), rel=0.1)


def test_text_masks_a_small_share_of_real_tokens_only():
    ids = np.full((200, 12), 0)
    ids[:, 0], ids[:, 1:9], ids[:, 9] = 2, 10, 3  # [CLS] words [SEP] then padding
    mask = (ids != 0).astype(np.int64)
    augmentation = Augmentation("text", mask_id=4, special_ids=(0, 1, 2, 3, 4))
    out = augmentation({"input_ids": ids, "attention_mask": mask}, batch_rng(0, 0, 0))["input_ids"]
    changed = out != ids
    assert (out[changed] == 4).all() and not changed[:, [0, 9, 10, 11]].any()
    assert changed[:, 1:9].mean() == pytest.approx(0.1, abs=0.03)


def test_flipping_is_refused_where_it_does_not_apply():
    with pytest.raises(ValidationError, match="augment_flip"):
        DistillConfig(teacher="t", augment_flip=True)
    with pytest.raises(BadInput, match="flips images"):
        augmentation_for("tabular", {"x": np.zeros((3, 2), np.float32)}, adapter=None, flip=True)


class TeacherCalls:
    """A callback that knows the stage, so the counting teacher can tell training calls apart."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stage, self.step, self.stop_at, self.batches = "", 0, stop_at, []

    def on_event(self, event: dict) -> None:
        self.stage, self.step = event["stage"], event.get("step", self.step)

    def should_stop(self) -> bool:
        return self.stop_at is not None and self.stage == "train" and self.step >= self.stop_at


@pytest.fixture
def counting_teacher(monkeypatch):
    """Every call of a zoo teacher's ``logits_of`` during training, with the images it was given."""
    watcher = {"calls": None}
    real = ZooTeacher.logits_of

    def logits_of(self, inputs, batch_size=256):
        calls = watcher["calls"]
        if calls is not None and calls.stage == "train":
            calls.batches.append(np.array(inputs["x"]))
        return real(self, inputs, batch_size)

    monkeypatch.setattr(ZooTeacher, "logits_of", logits_of)
    return watcher


def augmented_config(teacher, data) -> DistillConfig:
    # no validation-agreement watch, so during training the teacher sees the training batches alone
    return DistillConfig(teacher=str(teacher), data=str(data), augment=True, epochs=6, batch_size=16,
                         checkpoint_every=5, checkpoint_seconds=None, exports=["safetensors"],
                         checks={"max_agreement_drop": None})


def test_the_teacher_runs_on_every_augmented_batch_and_a_seed_repeats_the_run(
        tmp_path, shapes_cnn_teacher, shapes_folder, counting_teacher):
    calls = counting_teacher["calls"] = TeacherCalls()
    first = run_distillation(augmented_config(shapes_cnn_teacher, shapes_folder), tmp_path / "first", calls)

    training = first["training"]
    assert training["teacher_online"] and not training["teacher_outputs_cached"]
    assert training["augmentation"] == {"task": "image", "shift_pixels": 2, "horizontal_flip": False}
    assert len(calls.batches) == training["steps"] and all(len(batch) <= 16 for batch in calls.batches)
    originals = {image.tobytes() for image in load_data(str(shapes_folder)).images}
    shifted = [sum(image.tobytes() not in originals for image in batch) / len(batch) for batch in calls.batches]
    assert np.mean(shifted) > 0.8  # only a shift of (0, 0), 1 in 25, leaves an image as it was
    # nothing cached for the training rows: the only teacher outputs kept are the validation split's
    # (the search's deploy checks read them), which are not augmented
    cached = [np.load(path, mmap_mode="r").shape[0] for path in (tmp_path / "first" / "cache").glob("teacher-logits-*")]
    assert all(rows == first["data"]["split"]["validation"] for rows in cached), cached

    counting_teacher["calls"] = None
    second = run_distillation(augmented_config(shapes_cnn_teacher, shapes_folder), tmp_path / "second")
    assert second["training"]["steps"] == training["steps"]
    assert_same_weights(tmp_path / "first", tmp_path / "second")
    assert "augmentation" in (tmp_path / "first" / "MODEL_CARD.md").read_text()


def test_an_augmented_run_resumes_to_the_same_weights(tmp_path, shapes_cnn_teacher, shapes_folder, counting_teacher):
    run_distillation(augmented_config(shapes_cnn_teacher, shapes_folder), tmp_path / "straight")
    with pytest.raises(Cancelled):
        run_distillation(augmented_config(shapes_cnn_teacher, shapes_folder), tmp_path / "stopped", TeacherCalls(stop_at=7))
    resumed = run_distillation(augmented_config(shapes_cnn_teacher, shapes_folder), tmp_path / "stopped")
    assert resumed["training"]["resumed_from_step"] >= 7
    assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


def assert_same_weights(first, second) -> None:
    a, b = load_file(first / "model" / "model.safetensors"), load_file(second / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all((a[name] == b[name]).all() for name in a)
