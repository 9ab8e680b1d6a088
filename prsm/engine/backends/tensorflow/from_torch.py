"""A PyTorch zoo student (mlp or cnn), or a light text bag, copied into the Keras model of the same design, so that it can
be written as a SavedModel and TFLite like a Keras student, without an ONNX-to-TensorFlow converter.

Both frameworks build these designs from the same architecture dict (:mod:`.models`), so the copy
is layer for layer. What differs is layout:

- a Dense kernel is ``[in, out]`` where a Linear weight is ``[out, in]``;
- a Conv2D kernel is ``[kh, kw, in, out]`` where a Conv2d weight is ``[out, in, kh, kw]``;
- the Keras CNN runs channels last, so its Flatten lists a feature map as (h, w, c) where torch's
  lists it as (c, h, w): the first Dense after it takes torch's columns in that order.

The caller checks the copy's logits against the torch module's before anything is exported.
"""

from __future__ import annotations

import numpy as np

from .models import keras, keras_model


def keras_from_torch(module, architecture: dict) -> keras.Model:
    """The Keras model of ``architecture`` holding ``module``'s weights (an mlp or cnn zoo module)."""
    state = {name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()}
    model = keras_model(architecture, 0)
    if architecture["kind"] == "mlp":
        _copy_mlp(model, state)
    elif architecture["kind"] == "cnn":
        _copy_cnn(model, state, architecture["config"])
    elif architecture["kind"] == "bag":
        _copy_bag(model, state)
    else:
        raise ValueError(f"no Keras copy for a {architecture['kind']!r} student (mlp, cnn and bag only)")
    return model


def _linears(state: dict, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (weight, bias) pairs of a Sequential's Linear layers, in order."""
    indices = sorted({int(name.split(".")[1]) for name in state if name.startswith(prefix) and name.endswith(".bias")
                      and state[name.replace(".bias", ".weight")].ndim == 2})
    return [(state[f"{prefix}{i}.weight"], state[f"{prefix}{i}.bias"]) for i in indices]


def _copy_mlp(model, state: dict) -> None:
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    linears = _linears(state, "net.")
    if len(dense) != len(linears):
        raise ValueError(f"the Keras copy has {len(dense)} dense layers, the student {len(linears)}")
    for layer, (weight, bias) in zip(dense, linears):
        layer.set_weights([weight.T, bias])
    # the scaling (mean, std) is a constant of both models, built from the same architecture dict


def _copy_cnn(model, state: dict, config: dict) -> None:
    blocks = config["channels"]
    for i in range(len(blocks)):
        conv, bn = 4 * i, 4 * i + 1  # features: conv, bn, relu, pool per block
        model.get_layer(f"conv_{i}").set_weights([state[f"features.{conv}.weight"].transpose(2, 3, 1, 0)])
        model.get_layer(f"bn_{i}").set_weights([state[f"features.{bn}.weight"], state[f"features.{bn}.bias"],
                                                state[f"features.{bn}.running_mean"], state[f"features.{bn}.running_var"]])
    height, width = (size // 2 ** len(blocks) for size in config["image_size"])
    channels = blocks[-1] if blocks else config["in_channels"]
    linears = _linears(state, "head.")
    first, *rest = linears
    weight = first[0].reshape(-1, channels, height, width).transpose(2, 3, 1, 0).reshape(height * width * channels, -1)
    names = (["hidden"] if config.get("hidden") else []) + ["logits"]
    model.get_layer(names[0]).set_weights([weight, first[1]])
    for name, (weight, bias) in zip(names[1:], rest):
        model.get_layer(name).set_weights([weight.T, bias])


def _copy_bag(model, state: dict) -> None:
    """The light text bag (``transformers.light``): embeddings, then ``head`` = Dropout, Linear, ReLU, Linear."""
    model.get_layer("embed").set_weights([state["embed.weight"]])
    (hidden, hidden_bias), (logits, logits_bias) = _linears(state, "head.")
    model.get_layer("hidden").set_weights([hidden.T, hidden_bias])
    model.get_layer("logits").set_weights([logits.T, logits_bias])
