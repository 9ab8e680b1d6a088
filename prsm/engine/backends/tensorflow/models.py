"""Keras 3 students built from the engine's own architecture dicts (``prsm.engine.zoo``'s format):
the same designs the PyTorch backend offers, so the design rule and the search choose among the
same candidates whichever framework trains them.

- ``mlp``: the training data's per-feature mean and standard deviation folded in as a
  ``Normalization`` layer (raw values in, as the teacher takes them), then Dense-ReLU-Dropout
  blocks and a Dense head that returns logits.
- ``cnn``: images arrive as the engine stores them, channels first ``[n, C, H, W]``; a ``Permute``
  turns them channels last (what TensorFlow's CPU kernels and TFLite run), then conv3x3-BN-ReLU-
  maxpool2 blocks, Flatten, Dropout, an optional Dense-ReLU, and the logits.
- ``bag`` (text, ``prsm-text/1``, the Transformers backend's light family of that name): token ids
  in (padding id 0), an ``Embedding`` that masks the padding, the mean of a text's own word vectors,
  Dropout, Dense-ReLU and the logits. Only the bag: its masked mean is a built-in layer, where the
  light CNN's and BiLSTM's masked maxima would need a ``Lambda``, which ``safe_mode`` refuses.

Weights start as PyTorch's layers start (uniform within 1/sqrt(fan_in), for kernels and biases),
not Keras' Glorot default: on a small CNN the Glorot start learnt markedly slower (0.67 against 0.87
test accuracy after the same 30 epochs on 300 shape images), and the two backends are to be
compared design for design.

Only built-in layers: a saved student reloads with ``safe_mode=True`` and converts to TFLite.
Parameters count as PyTorch counts them: the trainable weights (a BatchNorm's moving statistics
and the Normalization's constants are state, not parameters).
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 - after the backend is chosen
from keras import layers  # noqa: E402


def keras_model(architecture: dict, seed: int = 0) -> keras.Model:
    """A fresh Keras model for an architecture dict, its weights drawn from ``seed``."""
    keras.utils.set_random_seed(seed)
    config, classes = architecture["config"], len(architecture["classes"])
    if architecture["kind"] == "mlp":
        return _mlp(config, classes, architecture.get("name", "mlp"))
    if architecture["kind"] == "cnn":
        return _cnn(config, classes)
    if architecture["kind"] == "bag":
        return _bag(config, classes)
    raise ValueError(f"the tensorflow backend has no {architecture['kind']!r} students (expected mlp, cnn or bag)")


def _torch_like(fan_in: int) -> dict:
    """Kernel and bias initialisers as torch's Linear and Conv2d draw them: U(-b, b), b = 1/sqrt(fan_in)."""
    bound = 1.0 / float(np.sqrt(max(fan_in, 1)))
    return {"kernel_initializer": keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            "bias_initializer": keras.initializers.RandomUniform(-bound, bound)}


def _mlp(config: dict, classes: int, name: str) -> keras.Model:
    width = config["input_dim"]
    inputs = keras.Input((width,), name="x")
    mean = np.asarray(config.get("mean") or [0.0] * width, dtype=np.float32)
    std = np.maximum(np.asarray(config.get("std") or [1.0] * width, dtype=np.float32), 1e-6)
    x = layers.Normalization(mean=mean, variance=std**2, name="scale")(inputs)
    for i, size in enumerate(config["hidden"]):
        x = layers.Dense(size, activation="relu", name=f"dense_{i}", **_torch_like(width))(x)
        x = layers.Dropout(config.get("dropout", 0.0), name=f"dropout_{i}")(x)
        width = size
    return keras.Model(inputs, layers.Dense(classes, name="logits", **_torch_like(width))(x), name="mlp")


def _cnn(config: dict, classes: int) -> keras.Model:
    channels, (height, width) = config["in_channels"], config["image_size"]
    inputs = keras.Input((channels, height, width), name="x")
    x = layers.Permute((2, 3, 1), name="channels_last")(inputs)
    for i, size in enumerate(config["channels"]):
        x = layers.Conv2D(size, 3, padding="same", use_bias=False, name=f"conv_{i}",
                          kernel_initializer=_torch_like(9 * channels)["kernel_initializer"])(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn_{i}")(x)  # torch's defaults
        x = layers.ReLU(name=f"relu_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
        channels, height, width = size, height // 2, width // 2
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(config.get("dropout", 0.0), name="dropout")(x)
    fan_in = channels * height * width
    if config.get("hidden"):
        x = layers.Dense(config["hidden"], activation="relu", name="hidden", **_torch_like(fan_in))(x)
        x = layers.Dropout(config.get("dropout", 0.0), name="dropout_hidden")(x)
        fan_in = config["hidden"]
    return keras.Model(inputs, layers.Dense(classes, name="logits", **_torch_like(fan_in))(x), name="cnn")


def _bag(config: dict, classes: int) -> keras.Model:
    if config.get("padding_id", 0) != 0:
        raise ValueError(f"a Keras bag student masks token id 0 as padding; this tokenizer pads with {config['padding_id']}")
    inputs = keras.Input((None,), dtype="int32", name="input_ids")
    x = layers.Embedding(config["vocab_size"], config["dim"], mask_zero=True, name="embed")(inputs)
    x = layers.GlobalAveragePooling1D(name="mean")(x)  # over the unmasked words only
    x = layers.Dropout(0.1, name="dropout")(x)
    x = layers.Dense(config["hidden"], activation="relu", name="hidden", **_torch_like(config["dim"]))(x)
    return keras.Model(inputs, layers.Dense(classes, name="logits", **_torch_like(config["hidden"]))(x), name="bag")


def input_dtype(model: keras.Model) -> str:
    """What the model reads: float32 features or pixels, or int32 token ids."""
    return str(model.inputs[0].dtype).replace("tf.", "")


def keras_cost(model: keras.Model, x: np.ndarray) -> dict:
    """Latency at batch 1 and 32 of the model called eagerly (as a deployment in Python calls it),
    in the fields :func:`prsm.engine.evaluation.compare.torch_cost` writes; memory as the weights'
    bytes (Keras gives no activation count), FLOPs not counted."""
    from ...evaluation.compare import BATCHES, _latency_fields
    from ...evaluation.cost import latency_ms

    out: dict = {"runtime": "tensorflow", "peak_memory_bytes": weight_bytes(model),
                 "peak_memory_method": "weights only (Keras)", "flops_per_example": None}
    for batch in BATCHES:
        rows = np.ascontiguousarray(x[np.arange(batch) % len(x)], dtype=input_dtype(model))
        out.update(_latency_fields(latency_ms(lambda rows=rows: model(rows, training=False)), batch))
    return out


def parameter_count(model: keras.Model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def weight_bytes(model: keras.Model) -> int:
    """Every weight the model keeps (state included), at its stored precision."""
    return int(sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights))
