"""Keras teachers: a ``.keras`` file is checked as plain JSON, loaded once in the confined child,
rebuilt from the checked config with the weights' safetensors copy, and answers exactly as the
model that was saved. Hostile files are refused before any of their code could run: each payload
would write a canary if it ever ran, and no test may find the canary."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import replace

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # the backend is chosen by the environment, before the import
import numpy as np
import pytest
from keras import layers

from prsm.engine.data.loaders import load_data
from prsm.engine.errors import BadInput
from prsm.engine.teachers import align_classes, load_teacher
from prsm.engine.teachers import keras as keras_teacher

from .conftest import digits_task_data

pytestmark = [pytest.mark.slow,
              # Keras' own model.save, on TensorFlow variables under numpy 2: not this code's to fix
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")]


@keras.saving.register_keras_serializable(package="prsm_tests")
class Twice(layers.Layer):
    """A custom layer that writes ``canary`` when it is made: registered in this process only."""

    def __init__(self, canary: str = "", **kwargs):
        super().__init__(**kwargs)
        self.canary = canary
        if canary:
            open(canary, "w").close()

    def call(self, x):
        return x * 2

    def get_config(self):
        return {**super().get_config(), "canary": self.canary}


@pytest.fixture
def child_runs(monkeypatch, tmp_path):
    """How many times the confined child ran; converted copies go under this test's ``PRSM_HOME``."""
    monkeypatch.setenv("PRSM_HOME", str(tmp_path / "home"))
    runs = []
    real = keras_teacher.run_confined

    def counted(*args, **kwargs):
        runs.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(keras_teacher, "run_confined", counted)
    return runs


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "a payload ran"


@pytest.fixture(scope="module")
def digits_keras(tmp_path_factory):
    """A Dense MLP trained 5 epochs on sklearn's digits, ending in a softmax, saved as .keras."""
    data = digits_task_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), layers.Rescaling(1 / 16), layers.Dense(64, activation="relu"),
                              layers.Dropout(0.1), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data.features, data.labels, epochs=5, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("keras") / "digits.keras"
    model.save(path)
    return path, model


@pytest.fixture(scope="module")
def shapes_keras(tmp_path_factory, shapes_folder):
    """A tiny channels-last Conv2D model trained on the 16x16 shapes, saved as .keras."""
    data = load_data(str(shapes_folder))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 1)), layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(),
                              layers.Conv2D(16, 3, activation="relu"), layers.GlobalAveragePooling2D(), layers.Dense(3)])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.images.transpose(0, 2, 3, 1), data.labels, epochs=40, batch_size=16, verbose=0)
    path = tmp_path_factory.mktemp("keras") / "shapes.keras"
    model.save(path)
    return path, model, data


def small_model(*middle) -> keras.Model:
    return keras.Sequential([keras.Input((4,)), *middle, layers.Dense(2)])


def rewritten(source, target, config=None, metadata=None, extra=()):
    """A copy of the .keras file ``source`` with its config or metadata replaced and members added."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for name in archive.namelist():
            replaced = {"config.json": config, "metadata.json": metadata}.get(name)
            out.writestr(name, json.dumps(replaced) if replaced is not None else archive.read(name))
        for name, data in extra:
            out.writestr(name, data)
    return target


def config_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


# --- teachers that load


def test_a_digits_mlp_answers_as_the_saved_model_and_loads_once(digits_keras, child_runs):
    path, model = digits_keras
    data = digits_task_data()

    teacher = load_teacher(str(path))
    teacher.check(data)
    logits = teacher.logits(data, batch_size=500)

    assert teacher.runtime == "tensorflow" and teacher.task == "tabular" and teacher.classes is None
    assert teacher.outputs_probabilities  # it ends in a softmax: its logits are log-probabilities
    expected = np.log(keras.ops.convert_to_numpy(model(data.features, training=False)))
    assert logits.dtype == np.float32 and logits.shape == (len(data), 10)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert (logits.argmax(1) == data.labels).mean() > 0.85  # chance is 0.1
    assert child_runs == [keras_teacher.CHILD]

    again = load_teacher(str(path))
    assert child_runs == [keras_teacher.CHILD]  # the converted copy is reused: the child did not run again
    # the same weights; TensorFlow's CPU kernels may sum in another order on a busy machine (a 1e-6 difference)
    np.testing.assert_allclose(again.logits(data), logits, rtol=1e-5, atol=1e-6)
    assert again.describe()["params"] == model.count_params()
    cost = again.cost(again.encode(data.subset(np.arange(64))))
    assert cost["runtime"] == "tensorflow" and 0 < cost["latency_ms_p50"] <= cost["latency_ms_p95"]
    assert cost["peak_memory_bytes"] == 4 * model.count_params() and "latency_ms_p50_batch32" in cost


def test_an_image_model_gets_channels_last_images_and_answers_as_saved(shapes_keras, child_runs):
    path, model, data = shapes_keras

    teacher = load_teacher(str(path))
    teacher.check(data)
    logits = teacher.logits(data)

    assert teacher.task == "image" and teacher.channels_last and not teacher.outputs_probabilities
    assert teacher.expected_shape() == data.images.shape[1:]  # (1, 16, 16) as the engine stores images
    expected = keras.ops.convert_to_numpy(model(data.images.transpose(0, 2, 3, 1), training=False))
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    assert (logits.argmax(1) == data.labels).mean() > 0.6  # chance is 1/3
    described = teacher.describe()
    assert described["layers"] == 3 and described["width"] == 16 and described["architecture"]["layout"] == "channels_last"
    with pytest.raises(BadInput, match="the teacher takes image data, the data is tabular"):
        teacher.check(digits_task_data())


def test_a_functional_model_with_attention_recurrent_and_nested_layers_answers_as_saved(tmp_path, child_runs):
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((8, 8)), layers.LayerNormalization(), layers.Dense(8, activation="gelu")])
    inner.compile("adam", "mse")  # a nested model's training settings are dropped, never deserialised
    features = keras.Input((64,))
    x = layers.Normalization()(features)
    tokens = inner(layers.Permute((2, 1))(layers.Reshape((8, 8))(x)))
    attended = layers.Add()([tokens, layers.MultiHeadAttention(2, 4)(tokens, tokens)])
    pooled = layers.Concatenate()([layers.Bidirectional(layers.LSTM(4))(attended), layers.GRU(4)(attended),
                                   layers.GlobalAveragePooling1D()(attended)])
    model = keras.Model(features, layers.Activation("softmax")(layers.Dense(10)(pooled)))
    data = digits_task_data()
    model.layers[1].adapt(data.features)
    model.save(tmp_path / "functional.keras")

    teacher = load_teacher(str(tmp_path / "functional.keras"))

    assert teacher.outputs_probabilities and teacher.describe()["heads"] == 2
    expected = np.log(keras.ops.convert_to_numpy(model(data.features[:200], training=False)))
    np.testing.assert_allclose(teacher.logits(data.subset(np.arange(200))), expected, atol=1e-5)


def test_the_class_order_comes_from_labels_in_the_metadata(tmp_path, digits_keras, child_runs):
    path, _ = digits_keras
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    labelled = rewritten(path, tmp_path / "labelled.keras", metadata={**metadata, "labels": names})
    digits = digits_task_data()
    alphabetical = sorted(names)  # the data's own order, which is not the teacher's
    data = replace(digits, classes=alphabetical, labels=np.array([alphabetical.index(names[d]) for d in digits.labels]))

    teacher = load_teacher(str(labelled))
    aligned = align_classes(data, teacher)

    assert teacher.classes == names and aligned.classes == names
    assert (teacher.logits(aligned).argmax(1) == aligned.labels).mean() > 0.85


def test_weights_the_child_cannot_read_come_back_as_one_line(tmp_path, child_runs):
    source = tmp_path / "small.keras"
    small_model().save(source)
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(damaged, "w") as out:
        for name in archive.namelist():
            out.writestr(name, b"not an HDF5 file" * 64 if name == "model.weights.h5" else archive.read(name))

    with pytest.raises(BadInput, match=r"^damaged.keras: not loaded: keras.saving.load_model\(safe_mode=True\) refused it"):
        load_teacher(str(damaged))
    assert child_runs == [keras_teacher.CHILD]
    assert not list((tmp_path / "home" / "converted").iterdir())  # nothing half-converted is kept


# --- hostile files: refused before the child, and before anything is deserialised


def test_a_lambda_layer_is_refused_without_running_it(tmp_path, canary, child_runs):
    model = small_model(layers.Lambda(lambda x, path=str(canary): (open(path, "w").close(), x)[1]))
    assert canary.exists()  # the lambda writes the canary whenever it runs: building the model ran it
    model.save(tmp_path / "lambda.keras")
    canary.unlink()

    with pytest.raises(BadInput, match=r"refused: Lambda 'lambda(_\d+)?': a Lambda layer runs Python code"):
        load_teacher(str(tmp_path / "lambda.keras"))
    assert child_runs == []


def test_a_registered_custom_object_is_refused_without_making_it(tmp_path, canary, child_runs):
    model = small_model(Twice(canary=str(canary)))
    model.save(tmp_path / "custom.keras")
    canary.unlink()

    with pytest.raises(BadInput, match=r"refused: Twice 'twice(_\d+)?' is a custom object \(module "
                                       r"'tests.engine.test_keras_teacher', registered as "
                                       r"'prsm_tests>Twice'\)"):
        load_teacher(str(tmp_path / "custom.keras"))
    assert child_runs == []


def test_a_built_in_layer_that_is_not_on_the_list_is_refused_by_name(tmp_path, child_runs):
    small_model(layers.GaussianNoise(0.1)).save(tmp_path / "noise.keras")

    with pytest.raises(BadInput, match=r"GaussianNoise 'gaussian_noise(_\d+)?' \(keras.layers.GaussianNoise\) is not a "
                                       "built-in layer a teacher may use"):
        load_teacher(str(tmp_path / "noise.keras"))
    assert child_runs == []


def swap_dense_for(entry: dict):
    def change(config: dict) -> dict:
        config["config"]["layers"][1] = entry
        return config

    return change


def set_dense(key: str, value):
    def change(config: dict) -> dict:
        config["config"]["layers"][1]["config"][key] = value
        return config

    return change


@pytest.mark.parametrize(("change", "reason"), [
    (swap_dense_for({"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
                     "config": {"name": "graph", "filepath": "exported", "call_endpoint": "serve"}}),
     "TFSMLayer 'graph': a TFSMLayer loads a TensorFlow SavedModel"),
    (swap_dense_for({"module": "evil.layers", "class_name": "Dense", "registered_name": None,
                     "config": {"name": "dense", "units": 2}}),
     "Dense 'dense' is a custom object (module 'evil.layers'"),
    (set_dense("kernel_initializer", "prsm_tests>Twice"), "names 'prsm_tests>Twice', a registered custom object"),
    (set_dense("activation", "prsm_tests>twice"), "uses the activation 'prsm_tests>twice', which is not a built-in one"),
    (set_dense("activation", {"module": "builtins", "class_name": "__lambda__", "config": {"code": "e30="}}),
     "holds a Python lambda"),
    (set_dense("name", "/etc/passwd"), "holds the path '/etc/passwd', outside the archive"),
    (set_dense("name", "../../outside"), "holds the path '../../outside', outside the archive"),
    (set_dense("kernel_initializer", {"module": "keras.initializers", "class_name": "Constant",
                                      "config": {"value": "file:///etc/passwd"}}),
     "holds the path 'file:///etc/passwd', outside the archive"),
])
def test_a_config_naming_code_or_a_path_outside_the_archive_is_refused(tmp_path, child_runs, change, reason):
    small_model().save(tmp_path / "small.keras")
    hostile = rewritten(tmp_path / "small.keras", tmp_path / "hostile.keras", config=change(config_of(tmp_path / "small.keras")))

    with pytest.raises(BadInput) as refused:
        load_teacher(str(hostile))
    assert str(refused.value).startswith("hostile.keras: refused: ") and reason in str(refused.value)
    assert child_runs == []


@pytest.mark.parametrize(("member", "reason"), [
    ("../evil", "the archive member '../evil' points outside the archive"),
    ("/etc/cron.d/evil", "the archive member '/etc/cron.d/evil' points outside the archive"),
    ("assets/vocabulary.txt", "the archive holds 'assets/vocabulary.txt'; a .keras teacher holds only"),
])
def test_an_archive_whose_members_leave_it_or_are_extra_is_refused(tmp_path, child_runs, member, reason):
    small_model().save(tmp_path / "small.keras")
    hostile = rewritten(tmp_path / "small.keras", tmp_path / "hostile.keras", extra=[(member, b"payload")])

    with pytest.raises(BadInput, match=f"^hostile.keras: refused: {reason}"):
        load_teacher(str(hostile))
    assert child_runs == [] and not (tmp_path / "evil").exists()


def test_a_member_that_expands_far_beyond_its_stored_size_is_refused(tmp_path, child_runs):
    small_model().save(tmp_path / "small.keras")
    padded = json.dumps(config_of(tmp_path / "small.keras")) + " " * (8 << 20)  # JSON still, 8 MiB of it
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(tmp_path / "small.keras") as archive, zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as out:
        for name in archive.namelist():
            out.writestr(name, padded if name == "config.json" else archive.read(name))

    with pytest.raises(BadInput, match=r"^hostile.keras: refused: config.json expands \d+ times \(a decompression bomb\?\)"):
        load_teacher(str(hostile))
    assert child_runs == []


def test_a_legacy_hdf5_file_and_a_saved_model_are_refused_with_their_reasons(tmp_path, child_runs):
    model = small_model()
    keras.saving.save_model(model, tmp_path / "legacy.h5")
    model.export(tmp_path / "exported", format="tf_saved_model", verbose=False)
    assert (tmp_path / "exported" / "saved_model.pb").is_file()

    with pytest.raises(BadInput, match="^legacy.h5: legacy HDF5 Keras files are not accepted; save the model as .keras"):
        load_teacher(str(tmp_path / "legacy.h5"))
    with pytest.raises(BadInput, match="^exported: a TensorFlow SavedModel is a graph that can read and write files"):
        load_teacher(str(tmp_path / "exported"))
    assert child_runs == []
