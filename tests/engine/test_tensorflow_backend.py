"""The TensorFlow backend (issue 18): Keras students distilled from tabular and image teachers,
resumed after an interruption, measured, checked and exported like the other backends' students."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prsm.engine.errors import Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation
from tests.engine.events import Recorder

pytestmark = pytest.mark.slow

TINY = {"max_train_examples": 400, "epochs": 12, "search": "off", "backend": "tensorflow", "exports": []}


def _config(teacher, data, **fields) -> DistillConfig:
    return DistillConfig(teacher=str(teacher), data=str(data), **{**TINY, **fields})


def test_a_keras_student_learns_digits_from_an_onnx_teacher(tmp_path, digits_onnx_teacher, digits_csv):
    recorder = Recorder()
    report = run_distillation(_config(digits_onnx_teacher, digits_csv, epochs=60, baseline=True), tmp_path, recorder)
    assert report["backend"] == "tensorflow"
    assert report["student"]["accuracy"] > 0.85 and report["retention"] > 0.9, report["student"]["accuracy"]
    # the same design as the PyTorch backend would build, counted the same way
    assert report["student"]["params"] == next(c["params"] for c in report["design"]["candidates"]
                                               if c["name"] == report["student"]["candidate"])
    history = report["training"]["history"]
    assert history and all(0 <= h["val_accuracy"] <= 1 for h in history)
    assert report["student"]["latency_ms_p50"] > 0 and report["latency_runtime"] == "onnxruntime"
    # timed as deployed (a TFLite file in LiteRT), the eager Keras call beside it
    assert report["student"]["runtime"] == "tflite" and report["student"]["threads"] == 1
    assert report["student"]["keras_latency_ms_p50"] > report["student"]["latency_ms_p50"]
    assert report["baseline"]["accuracy"] > 0.5  # the labels-only Keras student trained too
    assert {"progress", "metric"} <= {e["type"] for e in recorder.events}
    assert report["checks"]["robustness"]["passed"] in (True, False)  # measured on the Keras student


def test_auto_picks_tensorflow_for_a_tensorflow_format_and_refuses_one_for_text(tmp_path, digits_teacher, digits_csv):
    from prsm.engine.backends import select_backend
    from prsm.engine.errors import BadInput

    assert select_backend("auto", "tabular", "zoo", ["tflite"]) == "tensorflow"
    assert select_backend("auto", "image", "zoo", None) == "pytorch"
    assert select_backend("auto", "text", "huggingface", ["onnx"]) == "transformers"
    assert select_backend("auto", "text", "huggingface", ["savedmodel"]) == "tensorflow"  # a Keras bag
    with pytest.raises(BadInput, match="does not handle text"):
        select_backend("pytorch", "text", "huggingface")


def test_an_interrupted_keras_training_resumes_at_its_step_and_ends_with_the_same_weights(tmp_path, digits_teacher,
                                                                                          digits_csv):
    config = _config(digits_teacher, digits_csv, epochs=4, checkpoint_every=5, baseline=False)
    straight = run_distillation(config, tmp_path / "straight")

    class StopAt(Recorder):
        def should_stop(self) -> bool:
            steps = [e for e in self.events if e["type"] == "progress" and e.get("stage") == "train"]
            return bool(steps) and steps[-1].get("step", 0) >= 12

    with pytest.raises(Cancelled):
        run_distillation(config, tmp_path / "resumed", StopAt())
    resumed = run_distillation(config, tmp_path / "resumed")
    assert resumed["training"]["resumed_from_step"] and resumed["training"]["resumed_from_step"] >= 12
    assert [h["val_accuracy"] for h in resumed["training"]["history"]] == \
        [h["val_accuracy"] for h in straight["training"]["history"]]
    assert resumed["student"]["accuracy"] == straight["student"]["accuracy"]


def test_a_keras_cnn_student_learns_images_and_is_attacked_by_its_own_gradients(tmp_path, shapes_cnn_teacher):
    from PIL import Image

    from tests.engine.conftest import SHAPE_CLASSES, shape_image

    folder, rng = tmp_path / "shapes", np.random.default_rng(11)  # 300 more images like the teacher's own
    for kind in SHAPE_CLASSES:
        (folder / kind).mkdir(parents=True)
        for i in range(100):
            Image.fromarray(shape_image(kind, rng), mode="L").save(folder / kind / f"{i:03d}.png")
    formats = ["savedmodel", "tflite", "tflite-float16", "tflite-int8"]
    report = run_distillation(_config(shapes_cnn_teacher, folder, epochs=80, exports=formats), tmp_path / "run")
    assert report["backend"] == "tensorflow" and report["student"]["architecture"]["kind"] == "cnn"
    exports = report["exports"]
    assert sorted(exports) == sorted(formats)
    assert all(exports[name]["verified"] for name in ("savedmodel", "tflite", "tflite-float16")), exports
    # int8 on ~45 test images: one image is 2 points, the verification's whole allowance; it reloads and runs
    assert abs(exports["tflite-int8"]["accuracy"] - report["student"]["accuracy"]) <= 0.07
    assert report["student"]["accuracy"] > 0.8 and report["teacher"]["accuracy"] > 0.8, \
        (report["student"]["accuracy"], report["teacher"]["accuracy"])
    robustness = report["checks"]["robustness"]
    assert robustness["perturbations"]["fgsm"]["student"] < robustness["clean"]["student"]  # the attack bites
    json.dumps(report)  # the report is plain JSON
    assert np.isfinite(report["student"]["latency_ms_p50"])


def test_a_keras_student_exports_keras_savedmodel_and_every_tflite_variant_verified(tmp_path, digits_teacher,
                                                                                    digits_csv):
    formats = ["keras", "savedmodel", "tflite", "tflite-float16", "tflite-int8"]
    report = run_distillation(_config(digits_teacher, digits_csv, epochs=40, exports=formats), tmp_path)
    exports = report["exports"]
    assert sorted(exports) == sorted(formats)
    assert all(record["verified"] for record in exports.values()), {k: r.get("note") for k, r in exports.items()}
    for name in formats:
        assert (tmp_path / exports[name]["path"]).exists()
    assert exports["tflite-int8"]["size_bytes"] < exports["tflite"]["size_bytes"]
    assert abs(exports["tflite"]["accuracy"] - report["student"]["accuracy"]) <= 0.005
    assert exports["tflite-int8"]["threads"] == 1 and exports["tflite-int8"]["latency_ms_p50"] > 0
    import keras

    reloaded = keras.saving.load_model(tmp_path / exports["keras"]["path"], safe_mode=True, compile=False)
    assert reloaded.count_params() > 0
    # each TFLite file serves feature rows, the student's labels in its sidecar; bad rows are refused by name
    from prsm.serving.errors import InputError
    from prsm.serving.model import ServedModel
    from tests.engine.conftest import digits_task_data

    data = digits_task_data()
    rows = [list(map(float, row)) for row in data.features[:20]]
    keras_labels = reloaded(np.asarray(rows, dtype=np.float32)).numpy().argmax(1)
    for name in ("tflite", "tflite-int8"):
        served = ServedModel.load(tmp_path / exports[name]["path"])
        labels = [answer["label"] for answer in served.predict(rows)]
        agree = np.mean([label == report["classes"][k] for label, k in zip(labels, keras_labels)])
        assert agree >= (1.0 if name == "tflite" else 0.9), (name, agree)
        with pytest.raises(InputError, match="input 0: 3 features, the model takes 64"):
            served.predict([[1.0, 2.0, 3.0]])


def test_a_keras_teacher_teaches_a_keras_student_and_a_pytorch_one(tmp_path, digits_csv):
    import keras

    from prsm.engine.backends.pytorch import students as designs
    from prsm.engine.backends.tensorflow.models import keras_model
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split

    train = stratified_split(load_data(str(digits_csv)), seed=0).train  # the teacher never sees the test rows
    candidate = next(c for c in designs.mlp_candidates(train.classes, 64) if c.name == "mlp-512x256")
    teacher = keras_model(designs.scaled_mlp_architecture(candidate.architecture, train), seed=1)
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(train.features.astype(np.float32), train.labels, epochs=30, batch_size=64, verbose=0)
    path = tmp_path / "digits-teacher.keras"
    teacher.save(path)

    for backend in ("tensorflow", "pytorch"):
        report = run_distillation(_config(path, digits_csv, epochs=40, backend=backend), tmp_path / backend)
        assert report["teacher"]["kind"] == "keras" and report["teacher"]["accuracy"] > 0.9
        assert report["backend"] == backend and report["retention"] > 0.85, (backend, report["retention"])
        assert report["teacher"]["latency_ms_p50"] > 0 and report["speedup"] > 0


def test_the_search_tries_keras_students_and_the_chosen_trials_weights_can_be_kept(tmp_path, digits_teacher,
                                                                                   digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, search="quick", epochs=30, baseline=False), tmp_path)
    search = report["search"]
    finished = [t for t in search["trials"] if t["state"] == "complete" and not t.get("reference")]
    assert finished and all("gate" in t for t in finished)  # the deploy checks ran on each Keras trial
    chosen = search["trials"][search["chosen"]]
    assert report["student"]["candidate"] == chosen["design"] and report["backend"] == "tensorflow"
    final = max(h["val_accuracy"] for h in report["training"]["history"])
    kept = report["training"]["kept_trial"]
    assert (kept is None) == (final >= chosen["val_accuracy"])  # the trial's weights, saved and reloaded, where better
    assert report["student"]["accuracy"] > 0.8


def test_a_keras_trials_weights_are_reloaded_where_the_full_training_ends_lower(tmp_path, monkeypatch, digits_teacher,
                                                                                digits_csv):
    import importlib

    train_stage = importlib.import_module("prsm.engine.stages.train")
    real = train_stage.settings_for

    def crippled(run, student, alpha):  # the full training cannot learn
        settings = real(run, student, alpha)
        settings.learning_rate, settings.epochs = 1e-12, 1
        return settings

    monkeypatch.setattr(train_stage, "settings_for", crippled)
    report = run_distillation(_config(digits_teacher, digits_csv, search="quick", epochs=30, baseline=False), tmp_path)
    chosen = report["search"]["trials"][report["search"]["chosen"]]
    assert report["training"]["kept_trial"]["trial"] == chosen["number"]
    assert report["student"]["accuracy"] > 0.7  # the reloaded Keras weights are what was evaluated


def test_the_model_card_says_where_each_latency_was_measured(tmp_path, digits_onnx_teacher, digits_csv):
    run_distillation(_config(digits_onnx_teacher, digits_csv, epochs=5), tmp_path)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "teacher latency in onnxruntime" in card and "student in tflite (1 thread)" in card
    assert "an eager Keras call takes" in card


def test_a_pytorch_student_is_copied_into_keras_for_tensorflows_formats_and_each_file_verifies(tmp_path, digits_teacher,
                                                                                              digits_csv):
    formats = ["onnx", "keras", "tflite", "tflite-int8"]
    report = run_distillation(_config(digits_teacher, digits_csv, epochs=20, backend="pytorch", exports=formats),
                              tmp_path)
    exports = report["exports"]
    assert report["backend"] == "pytorch" and sorted(exports) == sorted(formats)
    assert all(record["verified"] for record in exports.values()), {k: r.get("note") for k, r in exports.items()}
    # float32 TFLite keeps the torch student's accuracy on the test split; int8 stays within 2 points
    assert abs(exports["tflite"]["accuracy"] - report["student"]["accuracy"]) <= 0.005
    assert exports["tflite-int8"]["accuracy"] >= report["student"]["accuracy"] - 0.02


def test_a_pytorch_cnn_copied_into_keras_gives_the_torch_logits(shapes_cnn_teacher):
    """The layout changes (kernels, channels-last flatten) on a CNN with a hidden layer and trained
    batch-norm statistics: the copy answers as the torch module does."""
    import torch

    from prsm.engine.backends.tensorflow.from_torch import keras_from_torch
    from prsm.engine.zoo import load_zoo_model

    module, architecture = load_zoo_model(shapes_cnn_teacher)
    config = architecture["config"]
    assert config["hidden"] and module.training is False
    x = np.random.default_rng(0).random((8, config["in_channels"], *config["image_size"])).astype(np.float32)
    with torch.inference_mode():
        expected = module(torch.from_numpy(x)).numpy()
    copied = keras_from_torch(module, architecture)(x, training=False).numpy()
    assert np.abs(copied - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


def test_a_transformers_student_asked_for_tflite_is_refused_before_training(tmp_path, tiny_bert_teacher, reviews_csv):
    from prsm.engine.errors import BadInput

    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), backend="transformers",
                           exports=["onnx", "tflite"], search="off", epochs=1, max_train_examples=40)
    with pytest.raises(BadInput, match="export format 'tflite' is not available for transformers students: "
                                       "transformers 5 has no TensorFlow classes"):
        run_distillation(config, tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_a_keras_text_bag_learns_from_a_hugging_face_teacher_resumes_and_exports_tflite(tmp_path, tiny_bert_teacher,
                                                                                        reviews_csv):
    """Text on the TensorFlow backend: an embedding bag over the teacher's trimmed tokenizer, started
    from its word embeddings, trained in Keras, resumed after a stop, exported as Keras, SavedModel
    and the three TFLite variants (token ids in), each reloaded and verified."""
    formats = ["keras", "savedmodel", "tflite", "tflite-float16", "tflite-int8"]
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), backend="tensorflow", search="off",
                           epochs=6, checkpoint_every=4, max_train_examples=300, exports=formats, target_size="large")

    class StopAt(Recorder):
        def should_stop(self) -> bool:
            steps = [e for e in self.events if e["type"] == "progress" and e.get("stage") == "train"]
            return bool(steps) and steps[-1].get("step", 0) >= 10

    with pytest.raises(Cancelled):
        run_distillation(config, tmp_path, StopAt())
    report = run_distillation(config, tmp_path)
    assert report["backend"] == "tensorflow" and report["student"]["architecture"]["kind"] == "bag"
    assert report["training"]["resumed_from_step"] >= 10
    assert report["student"]["initialised_from"]["word_embeddings"] == "projected"
    assert report["student"]["accuracy"] > 0.75 and report["retention"] > 0.8, \
        (report["student"]["accuracy"], report["teacher"]["accuracy"])
    exports = report["exports"]
    assert sorted(exports) == sorted(formats)
    assert all(record["verified"] for record in exports.values()), {k: r.get("note") for k, r in exports.items()}
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file() and exports["tflite-int8"]["tokenizer"] == "tokenizer"
    assert exports["tflite-int8"]["size_bytes"] < exports["tflite"]["size_bytes"]
    # a TFLite file serves texts as an ONNX export does: its sidecar names the tokenizer and the classes
    from prsm.serving.model import ServedModel

    served = ServedModel.load(tmp_path / exports["tflite-int8"]["path"])
    answers = served.predict(["great wonderful film", "awful terrible boring film"])
    assert [a["label"] for a in answers] == ["positive", "negative"], answers
    assert abs(sum(answers[0]["probabilities"].values()) - 1) < 1e-6


def test_a_keras_training_killed_outright_resumes_from_its_last_checkpoint(tmp_path, digits_teacher, digits_csv):
    """SIGKILL, not a polite stop: the checkpoint on disk is whole (written atomically), and the run
    started again in the same folder resumes from it and finishes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-m", "prsm.cli", "distill", "--teacher", str(digits_teacher), "--data", str(digits_csv),
               "--backend", "tensorflow", "--export", "keras", "--search", "off", "--epochs", "40",
               "--max-train", "400", "--checkpoint-every", "5", "--out", str(out), "--json"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 240
    while not (out / "checkpoints" / "student.pt").exists():  # the training's own checkpoint
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.05)
    time.sleep(0.5)  # a few more steps, maybe mid-write of the next checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()

    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["training"]["resumed_from_step"] >= 5 and report["student"]["accuracy"] > 0.5
