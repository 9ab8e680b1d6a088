"""Training strategies on the TensorFlow backend (issue 19): curriculum, adversarial training and the
teacher assistant with Keras students, end to end on digits through the engine, as
``test_strategies`` runs them with torch students; and the one refusal left (adversarial training
of a Keras text student)."""

from __future__ import annotations

import numpy as np
import pytest

from prsm.engine.errors import BadInput, Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation
from tests.engine.events import Recorder

pytestmark = pytest.mark.slow

TINY = {"max_train_examples": 400, "epochs": 12, "search": "off", "backend": "tensorflow", "exports": []}


def _config(teacher, data, **fields) -> DistillConfig:
    return DistillConfig(teacher=str(teacher), data=str(data), **{**TINY, **fields})


def test_tensorflow_pgd_stays_within_epsilon_and_the_bounds_and_raises_the_loss():
    import tensorflow as tf

    from prsm.engine.backends.tensorflow.training import pgd_tf

    tf.random.set_seed(0)
    w = tf.constant(np.random.default_rng(0).normal(size=(4, 3)), dtype=tf.float32)
    x = tf.constant(np.random.default_rng(1).uniform(size=(16, 4)), dtype=tf.float32)
    y = tf.constant(np.random.default_rng(2).integers(0, 3, 16), dtype=tf.int32)

    def loss_at(z):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z @ w))

    adv = pgd_tf(loss_at, x, 0.05, steps=5, bounds=(0.0, 1.0))
    assert float(tf.reduce_max(tf.abs(adv - x))) <= 0.05 + 1e-6
    assert float(tf.reduce_min(adv)) >= 0 and float(tf.reduce_max(adv)) <= 1
    assert float(loss_at(adv)) > float(loss_at(x))


def test_a_keras_curriculum_trains_on_a_growing_share_and_resumes_where_it_stopped(tmp_path, digits_teacher,
                                                                                   digits_csv):
    basic = run_distillation(_config(digits_teacher, digits_csv, epochs=20), tmp_path / "basic")
    settings = {"strategies": ["curriculum"], "epochs": 20, "checkpoint_every": 3, "checkpoint_seconds": None}
    straight = run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "straight")
    training = straight["training"]
    assert straight["backend"] == "tensorflow" and training["strategies"] == ["curriculum"]
    rows = training["curriculum"]["rows_per_epoch"]
    assert rows[0] == -(-rows[-1] * 3 // 10) and rows == sorted(rows) and rows[0] < rows[-1]
    # the loop trained each epoch's share: its steps are the sum of the epochs' batches
    batch = training["batch_size"]
    assert training["steps"] == sum(-(-r // batch) for r in rows)
    assert training["steps"] < basic["training"]["steps"]  # the early epochs were shorter
    assert straight["student"]["accuracy"] > basic["student"]["accuracy"] - 0.1, (straight["student"], basic["student"])

    class StopAt(Recorder):
        def should_stop(self) -> bool:
            steps = [e for e in self.events if e["type"] == "progress" and e.get("stage") == "train"]
            return bool(steps) and steps[-1].get("step", 0) >= 4  # within the second epoch (3 batches in the first)

    with pytest.raises(Cancelled):
        run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "stopped", StopAt())
    resumed = run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "stopped")
    assert resumed["training"]["resumed_from_step"] >= 3
    assert resumed["training"]["steps"] == training["steps"]
    assert [h["val_accuracy"] for h in resumed["training"]["history"]] == [h["val_accuracy"] for h in training["history"]]


def test_keras_adversarial_distillation_holds_up_better_under_attack(tmp_path, digits_teacher, digits_csv):
    epsilon = {"adversarial_epsilon": 0.5, "epochs": 60}  # half a feature's spread: digits' pixels are 0..16
    basic = run_distillation(_config(digits_teacher, digits_csv, attack_eval=True, **epsilon), tmp_path / "basic")
    robust = run_distillation(_config(digits_teacher, digits_csv, strategies=["adversarial"], **epsilon),
                              tmp_path / "robust")
    attacked, defended = basic["student"]["under_attack"], robust["student"]["under_attack"]
    assert attacked["attack"] == defended["attack"] == "pgd" and attacked["steps"] == 10
    assert attacked["epsilon"] == defended["epsilon"] == pytest.approx(0.5)
    assert robust["training"]["adversarial"]["perturbed_share_of_loss"] == 0.5
    assert basic["student"]["params"] == robust["student"]["params"]
    assert 0 <= attacked["accuracy"] <= basic["student"]["accuracy"]  # an attack never helps
    assert defended["accuracy"] > attacked["accuracy"] + 0.15, (attacked, defended)
    assert robust["student"]["accuracy"] > basic["student"]["accuracy"] - 0.05


def test_a_keras_student_learns_from_a_keras_teacher_assistant(tmp_path, digits_teacher, digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, strategies=["progressive"], epochs=60), tmp_path / "run")
    progressive = report["training"]["progressive"]
    assert progressive["assistant"] is not None, progressive
    assert report["student"]["params"] * 2 <= progressive["assistant_params"] <= report["teacher"]["params"]
    assert progressive["assistant_validation_accuracy"] > 0.8
    assert "assistant" in report["stages"] and report["student"]["accuracy"] > 0.8


def test_adversarial_training_of_a_keras_text_student_is_refused_with_the_reason(tmp_path, tiny_bert_teacher,
                                                                                 reviews_csv):
    from prsm.engine.backends import strategy_refused

    with pytest.raises(BadInput, match="adversarial strategy is not available on the tensorflow backend for text"):
        run_distillation(_config(tiny_bert_teacher, reviews_csv, strategies=["adversarial"]), tmp_path / "text")
    assert strategy_refused("tensorflow", ["curriculum", "progressive"], "text") is None
    assert strategy_refused("tensorflow", ["adversarial"], "image") is None
    assert strategy_refused("tensorflow", ["adversarial"], "text")[0] == "adversarial"
