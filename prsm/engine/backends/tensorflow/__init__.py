"""The TensorFlow backend: Keras 3 students on the TensorFlow runtime, for tabular data, images and text.

Designs are the PyTorch backend's (the same candidates, built in Keras by :mod:`.models`), so the
design rule and the search weigh the same students; training is Keras' own (:mod:`.training`);
exports are a ``.keras`` file, a TensorFlow SavedModel and TFLite (float32, float16, full-integer
int8). Text students are embedding bags over the teacher's own (trimmed) tokenizer, the
Transformers backend's light ``bag`` family, started from the teacher's word embeddings as there
and then copied into Keras (transformers 5 has no TensorFlow classes, so a transformer student stays
with the Transformers backend).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...adapters import SequenceAdapter, TensorAdapter
from ...data.types import TaskData
from ...errors import BadInput
from ...export.files import export_record, within_tolerance
from ...export.keras_formats import REPRESENTATIVE_ROWS  # training rows int8 calibrates its ranges on
from ...export.preprocessing import TOKENIZER_FOLDER, describe
from ...formats import TENSORFLOW_FORMATS
from ...students.design import Candidate
from ..base import Backend, Student
from ..pytorch import students as designs
from ..pytorch import PyTorchBackend
from ..transformers import TransformersBackend, typical_length
from .models import keras, keras_cost, keras_model, parameter_count, weight_bytes
from .training import KerasAdversarial, KerasTrainer, accuracy_under_attack_tf, predict

KERAS_FILE = "model.keras"
MOBILE_CALIBRATION_ROWS = 32  # enough to set a design's int8 ranges for timing it (its accuracy is not measured)


class KerasTokenAdapter:
    """Texts through the student's tokenizer into token ids ``{"x": [n, longest]}`` (int32, padding 0)."""

    kind = "tokens"

    def __init__(self, tokenizer, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def encode(self, data: TaskData) -> dict:
        ids = SequenceAdapter(self.tokenizer, self.max_length).encode(data)["input_ids"]
        return {"x": np.ascontiguousarray(ids, dtype=np.int32)}


class TensorFlowBackend(Backend):
    name = "tensorflow"
    tasks = ("tabular", "image", "text")
    formats = TENSORFLOW_FORMATS
    default_exports = ("keras", "savedmodel", "tflite", "tflite-int8")

    def candidates(self, teacher, train: TaskData, base: str | None = None,
                   vocabulary_size: int | None = None) -> list[Candidate]:
        if train.task == "text":
            return self._bags(teacher, train, base, vocabulary_size)
        return _TORCH.candidates(teacher, train, base, vocabulary_size)  # the same designs, and the same refusals

    def _bags(self, teacher, train: TaskData, base: str | None, vocabulary_size: int | None) -> list[Candidate]:
        """Embedding bags at every width the light family offers, over the teacher's trimmed vocabulary."""
        from ..transformers import light

        if base is not None:
            raise BadInput("student_base is a pretrained transformer, and the tensorflow backend's text students are "
                           "embedding bags: use the transformers backend for a student_base")
        if getattr(teacher, "kind", "") != "huggingface":
            raise BadInput("a text student on the tensorflow backend reads its teacher's tokenizer: it needs a Hugging "
                           "Face teacher")
        tokenizer = self._tokenizer(teacher, train, vocabulary_size)
        if (tokenizer.pad_token_id or 0) != 0:
            raise BadInput(f"the tensorflow backend's text students mask token id 0 as padding, and this teacher's "
                           f"tokenizer pads with {tokenizer.pad_token_id}: use the transformers backend")
        self._length = typical_length(tokenizer, teacher.adapter.max_length, train)
        first = train.subset(np.arange(min(len(train), MOBILE_CALIBRATION_ROWS)))
        self._calibration_ids = KerasTokenAdapter(tokenizer, teacher.adapter.max_length).encode(first)["x"]
        out = []
        for dim in light.DIMS:
            architecture = light.architecture("bag", len(tokenizer), dim, max(32, dim // 2), train.classes, 0)
            out.append(Candidate(name=f"bag-{dim}", architecture=architecture, params=light.count_params(architecture),
                                 layers=1, width=dim))
        return out

    def _tokenizer(self, teacher, train: TaskData, vocabulary_size: int | None):
        """The teacher's tokenizer trimmed to the training texts' tokens (the Transformers backend's plan)."""
        from ..transformers import vocab

        plan = _TRANSFORMERS.vocabulary(teacher, train, teacher.adapter.max_length, vocabulary_size)
        kept = plan.get("kept_ids")
        return vocab.trimmed_tokenizer(teacher.tokenizer, kept) if kept is not None else teacher.tokenizer

    def measure(self, candidate: Candidate, teacher, train: TaskData) -> None:
        # measured as the PyTorch module of the same shape: the rule ranks designs by it, and a
        # Keras model's call overhead at batch 1 would hide the differences between them
        if train.task == "text":
            from ..transformers import light

            light.measure(candidate, getattr(self, "_length", 32))
            return
        _TORCH.measure(candidate, teacher, train)

    def measure_mobile(self, candidate: Candidate, teacher, train: TaskData) -> None:
        """FLOPs as on the CPU; latency and memory of the candidate (fresh weights: the time of an
        int8 graph does not depend on its values) as a full-integer int8 TFLite file in LiteRT on one
        thread, calibrated on a few training rows."""
        from ...export.keras_formats import MOBILE_RUNTIME, mobile_cost

        self.measure(candidate, teacher, train)
        architecture = candidate.architecture
        if architecture["kind"] == "mlp":
            architecture = designs.scaled_mlp_architecture(architecture, train)
        if train.task == "text":  # token ids of the first training texts, from candidates()
            x = self._calibration_ids
        else:
            x = TensorAdapter().encode(train.subset(np.arange(min(len(train), MOBILE_CALIBRATION_ROWS))))["x"]
        cost = mobile_cost(keras_model(architecture, 0), x)
        candidate.latency_ms, candidate.memory_bytes = cost["latency_ms_p50"], cost["memory_bytes"]
        candidate.measured_on = MOBILE_RUNTIME

    def build(self, candidate: Candidate, teacher, train: TaskData, seed: int, base: str | None = None,
              vocabulary_size: int | None = None) -> Student:
        if train.task == "text":
            return self._build_bag(candidate, teacher, train, seed, vocabulary_size)
        architecture = candidate.architecture
        if architecture["kind"] == "mlp":
            architecture = designs.scaled_mlp_architecture(architecture, train)
        return Student(module=keras_model(architecture, seed), adapter=TensorAdapter(), architecture=architecture,
                       family=architecture["kind"], extra={"representative": representative_rows(train, seed)})

    def _build_bag(self, candidate: Candidate, teacher, train: TaskData, seed: int,
                   vocabulary_size: int | None) -> Student:
        """Built and started as the Transformers backend builds a light bag (the teacher's word
        embeddings on their principal directions), then copied into Keras."""
        from .from_torch import keras_from_torch

        torch_student = _TRANSFORMERS.build_light(candidate, teacher, train, seed, None, vocabulary_size)
        keras.utils.set_random_seed(seed)
        adapter = KerasTokenAdapter(torch_student.adapter.tokenizer, torch_student.adapter.max_length)
        return Student(module=keras_from_torch(torch_student.module, candidate.architecture), adapter=adapter,
                       architecture=candidate.architecture, family="bag",
                       extra={"initialised_from": torch_student.extra["initialised_from"], "light": True,
                              "representative": representative_rows(train, seed, adapter)})

    def default_settings(self, student: Student, train_rows: int) -> dict:
        if student.extra.get("light"):  # a text bag learns as the Transformers backend's light students do
            return _TRANSFORMERS.default_settings(student, train_rows)
        return _TORCH.default_settings(student, train_rows)

    def objective(self, student: Student, teacher, settings, transfer: list[str]):
        if transfer != ["logits"]:
            raise BadInput("the tensorflow backend's students learn from the teacher's logits: transfer=['logits']")
        return None  # the Keras Distiller's train_step holds the loss

    def fit(self, student: Student, train, validation, settings, objective, checkpoint: Path | None, reporter,
            fingerprint: str = ""):
        if settings.device not in ("cpu", "auto"):
            raise BadInput(f"the tensorflow backend trains on the CPU in this version (device={settings.device!r})")
        if train.augment is not None and student.family == "bag":
            raise BadInput("augmentation of texts masks tokens for a transformer's inputs; the tensorflow backend's "
                           "text students do not take it: use text_variants (new texts the teacher labels once)")
        adversarial = objective if isinstance(objective, KerasAdversarial) else None
        return KerasTrainer(student.module, settings, checkpoint, reporter, fingerprint).fit(train, validation, adversarial)

    def adversarial_objective(self, objective, attack: dict) -> KerasAdversarial:
        """The Distiller's train_step takes the attack's settings (the loss lives there, not in an objective)."""
        return KerasAdversarial.of(attack)

    def accuracy_under_attack(self, student: Student, data: TaskData, attack: dict, seed: int) -> float | None:
        if student.family == "bag":
            return None
        from ...training.strategies import EVAL_PGD_STEPS

        return accuracy_under_attack_tf(student.module, student.adapter.encode(data)["x"], data.labels,
                                        KerasAdversarial.of(attack).size, EVAL_PGD_STEPS, attack["bounds"], seed=seed)

    def evaluate(self, student: Student, data: TaskData) -> np.ndarray:
        return predict(student.module, student.adapter.encode(data)["x"])

    # what the stages need of a student beyond training it (Backend's defaults are torch's)

    def parameters(self, student: Student) -> int:
        return parameter_count(student.module)

    def weights(self, student: Student) -> dict:
        import torch

        return {f"w{i}": torch.from_numpy(np.array(w, copy=True)) for i, w in enumerate(student.module.get_weights())}

    def load_weights(self, student: Student, weights: dict) -> None:
        student.module.set_weights([weights[f"w{i}"].numpy() for i in range(len(weights))])

    def to_cpu(self, student: Student) -> None:
        pass  # trained on the CPU

    def size_bytes(self, student: Student) -> int:
        return weight_bytes(student.module)

    def cost(self, student: Student, inputs: dict) -> dict:
        """Latency at batch 1 and 32 as the student is deployed: a float32 TFLite file in LiteRT on one
        thread (an eager Keras call costs milliseconds of Python and TensorFlow overhead, which would
        swamp a small student's figure); the eager call's figures beside them, memory as the weights'
        bytes. Where the conversion fails, the eager figures stand."""
        from ...export.keras_formats import tflite_cost

        eager = keras_cost(student.module, inputs["x"])
        try:
            lite = tflite_cost(student.module, inputs["x"])
        except BadInput:
            return eager
        return eager | lite | {"keras_latency_ms_p50": eager["latency_ms_p50"],
                               "keras_latency_ms_p95": eager["latency_ms_p95"]}

    def latency_onnx(self, student: Student, inputs: dict, path: Path, classes: list[str]) -> Path | None:
        return None  # timed in TensorFlow (cost), and its TFLite exports in LiteRT

    def adversarial(self, student: Student, data: TaskData, epsilon: float) -> TaskData:
        """FGSM (Goodfellow et al., 2015) against the Keras student, as ``checks.perturb.fgsm`` does
        against a torch one: x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1)."""
        import tensorflow as tf

        x = tf.convert_to_tensor(student.adapter.encode(data)["x"])
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=data.labels.astype(np.int32), logits=student.module(x, training=False)))
        attacked = tf.clip_by_value(x + epsilon * tf.sign(tape.gradient(loss, x)), 0.0, 1.0).numpy()
        out = data.subset(np.arange(len(data)))
        out.images = attacked.astype(np.float32)
        return out

    def export(self, student: Student, formats: list[str], folder: Path, root: Path, test: TaskData) -> dict:
        unknown = [f for f in formats if f not in self.formats]
        if unknown:
            raise BadInput(f"export format {unknown[0]!r} is not available for {self.name} students ({', '.join(self.formats)})")
        x = student.adapter.encode(test)["x"]
        served = describe(test, student.adapter), list(student.architecture["classes"])
        records = export_keras_model(student.module, formats, folder, root, x, test.labels,
                                     student.extra.get("representative", x), served)
        if isinstance(student.adapter, KerasTokenAdapter):  # the files read token ids: the tokenizer goes beside them
            student.adapter.tokenizer.save_pretrained(str(folder / TOKENIZER_FOLDER))
            for record in records.values():
                record["tokenizer"] = TOKENIZER_FOLDER
        return records


def export_torch_student(student: Student, formats: list[str], folder: Path, root: Path, test: TaskData,
                         representative: np.ndarray) -> dict:
    """A PyTorch zoo student written in TensorFlow's formats: copied into the Keras model of its
    design (:mod:`.from_torch`), the copy's logits checked against the student's on the test rows,
    then exported and verified like a Keras student. Refused with the reason where the copy differs."""
    from ...adapters import predict_logits
    from .from_torch import keras_from_torch

    x = student.adapter.encode(test)["x"]
    model = keras_from_torch(student.module, student.architecture)
    ok, diff = within_tolerance(predict(model, x), predict_logits(student.module, student.adapter, {"x": x}))
    if not ok:
        raise BadInput(f"{', '.join(formats)}: the Keras copy of this PyTorch student gives logits up to {diff:.3g} "
                       "away from its own, so it is not written; export onnx instead")
    return export_keras_model(model, formats, folder, root, x, test.labels, representative,
                              (describe(test, student.adapter), list(student.architecture["classes"])))


def export_keras_model(model, formats: list[str], folder: Path, root: Path, x: np.ndarray, labels: np.ndarray,
                       representative: np.ndarray, served: tuple[dict, list[str]]) -> dict:
    """Each of ``formats`` (TENSORFLOW_FORMATS) written under ``folder`` and verified on the test rows
    ``x`` against the Keras model's own logits; int8 TFLite calibrated on ``representative`` rows.
    ``served``: the preprocessing and class names a TFLite file's sidecar keeps for serving it."""
    from ...export import keras_formats
    from ...export.preprocessing import write_sidecar

    expected = predict(model, x)
    records: dict[str, dict] = {}
    if "keras" in formats:
        records["keras"] = export_keras(model, folder / KERAS_FILE, root, x[:256], expected[:256])
    tflite = [f for f in formats if f.startswith("tflite")]
    if "savedmodel" in formats or tflite:
        saved = folder / "savedmodel"
        record = keras_formats.export_savedmodel(model, saved, root, x[:256], expected[:256])
        if "savedmodel" in formats:
            records["savedmodel"] = record
        for name in tflite:
            variant = {"tflite": "float32", "tflite-float16": "float16", "tflite-int8": "int8"}[name]
            suffix = "" if variant == "float32" else f".{variant}"
            path = folder / f"model{suffix}.tflite"
            records[name] = keras_formats.export_tflite(saved, path, root, variant, representative, x, labels, expected)
            write_sidecar(path, *served)
        if "savedmodel" not in formats:
            import shutil

            shutil.rmtree(saved, ignore_errors=True)
    return records


def representative_rows(train: TaskData, seed: int, adapter=None) -> np.ndarray:
    """Training rows (a seeded sample, never test rows) an int8 conversion calibrates its ranges on,
    as the student reads them (``adapter``; features or pixels by default)."""
    rows = np.sort(np.random.default_rng([seed, 11]).permutation(len(train))[:REPRESENTATIVE_ROWS])
    return (adapter or TensorAdapter()).encode(train.subset(rows))["x"]


def export_keras(model: keras.Model, path: Path, root: Path, x: np.ndarray, expected: np.ndarray) -> dict:
    """The native ``.keras`` file, reloaded with ``safe_mode=True`` (as a teacher upload would be)
    and checked against the model's own logits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    ok, diff = within_tolerance(predict(reloaded, x), expected)
    return export_record(path, root, ok, diff, keras=keras.__version__)


_TORCH = PyTorchBackend()
_TRANSFORMERS = TransformersBackend()
BACKEND = TensorFlowBackend()
