"""The TensorFlow backend on this CPU, side by side in one run (issue 18's figures):

1. training speed: the backend's Keras loop (``KerasTrainer``: ``Model.fit`` with the distillation
   ``train_step``, the engine's callbacks, validation each epoch) against a hand-written
   ``tf.GradientTape`` loop compiled with ``tf.function`` on the same Keras student, the same cached
   teacher logits, batch, optimiser and epochs, each with a validation pass per epoch; rounds
   interleaved, medians reported;
2. TFLite int8 against the Keras model at batch 1 on one thread, and their sizes, from one exported
   student.

    .venv/bin/python bench/tf_train_speed.py            # about two minutes
    .venv/bin/python bench/tf_train_speed.py --rows 6144 --rounds 6

Student: the Fashion-MNIST-shaped zoo CNN 16-32, dense 104 (as ``bench/train_speed.py``), built by
the backend; data: Fashion-MNIST training images (random pixels where the Debian package is
missing), teacher logits random (speed does not depend on them). Not a test: nothing asserts on a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import machine, print_machine, table  # noqa: E402

STUDENT = {"format": "prsm-zoo/1", "kind": "cnn", "task": "image", "classes": [str(i) for i in range(10)],
           "config": {"in_channels": 1, "image_size": [28, 28], "channels": [16, 32], "hidden": 104, "dropout": 0.1}}
TEMPERATURE, ALPHA, LR, WEIGHT_DECAY = 4.0, 0.7, 2e-3, 1e-4


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2048)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--batch", type=int, default=128)
    return p.parse_args()


def images(rows: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from prsm.engine.data.builtin import load_builtin

        data = load_builtin("fashion-mnist")
        return data.images[:rows].astype(np.float32), data.labels[:rows].astype(np.int64)
    except Exception:  # noqa: BLE001 - the package is missing: random pixels time the same
        rng = np.random.default_rng(0)
        return rng.random((rows, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, rows)


def engine_loop(x, labels, teacher, validation, args) -> float:
    from prsm.engine.backends.tensorflow.models import keras_model
    from prsm.engine.backends.tensorflow.training import KerasTrainer
    from prsm.engine.training.loop import TrainData, TrainSettings

    model = keras_model(STUDENT, seed=0)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch, learning_rate=LR, weight_decay=WEIGHT_DECAY,
                             temperature=TEMPERATURE, alpha=ALPHA, patience=args.epochs, checkpoint_every=None, seed=0)
    started = time.perf_counter()
    KerasTrainer(model, settings).fit(TrainData({"x": x}, labels, teacher), TrainData({"x": validation[0]}, validation[1]))
    return time.perf_counter() - started


def hand_written(x, labels, teacher, validation, args) -> float:
    """What a careful engineer writes without the engine: a tf.function step over a tf.data pipeline."""
    import keras
    import tensorflow as tf

    from prsm.engine.backends.tensorflow.models import keras_model
    from prsm.engine.backends.tensorflow.training import WarmupLinearDecay, distillation_loss

    model = keras_model(STUDENT, seed=0)
    total = args.epochs * -(-len(x) // args.batch)
    optimizer = keras.optimizers.AdamW(WarmupLinearDecay(LR, max(1, int(total * 0.05)), total), weight_decay=WEIGHT_DECAY)

    @tf.function
    def step(xb, yb, tb):
        with tf.GradientTape() as tape:
            loss = distillation_loss(model(xb, training=True), tb, yb, TEMPERATURE, ALPHA)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def infer(xb):
        return model(xb, training=False)

    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.random.default_rng([0, epoch]).permutation(len(x))
        data = tf.data.Dataset.from_tensor_slices((x[order], labels[order], teacher[order])).batch(args.batch)
        for xb, yb, tb in data:
            step(xb, yb, tb)
        logits = np.concatenate([infer(validation[0][i:i + 256]).numpy() for i in range(0, len(validation[0]), 256)])
        float((logits.argmax(1) == validation[1]).mean())
    return time.perf_counter() - started


def tflite_against_keras(x, labels, teacher, validation, args) -> list[dict]:
    """One trained student exported; batch-1 latency on one thread and size, int8 and float32 TFLite
    against the Keras model."""
    from prsm.engine.backends.tensorflow.models import keras_cost, keras_model, weight_bytes
    from prsm.engine.backends.tensorflow.training import KerasTrainer
    from prsm.engine.export.keras_formats import export_savedmodel, export_tflite
    from prsm.engine.training.loop import TrainData, TrainSettings

    model = keras_model(STUDENT, seed=0)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch, learning_rate=LR, temperature=TEMPERATURE,
                             alpha=ALPHA, patience=args.epochs, checkpoint_every=None, seed=0)
    KerasTrainer(model, settings).fit(TrainData({"x": x}, labels, teacher), TrainData({"x": validation[0]}, validation[1]))
    folder = Path(tempfile.mkdtemp())
    expected = np.asarray(model(validation[0], training=False))
    saved = folder / "savedmodel"
    export_savedmodel(model, saved, folder, validation[0][:256], expected[:256])
    keras_figures = keras_cost(model, validation[0])
    rows = [{"model": "Keras (eager, batch 1)", "size_bytes": weight_bytes(model),
             "p50_ms": keras_figures["latency_ms_p50"], "p95_ms": keras_figures["latency_ms_p95"],
             "accuracy": round(float((expected.argmax(1) == validation[1]).mean()), 4), "threads": keras_figures["threads"]}]
    for variant in ("float32", "int8"):
        record = export_tflite(saved, folder / f"model.{variant}.tflite", folder, variant, x[:200], validation[0],
                               validation[1], expected)
        rows.append({"model": f"TFLite {variant} (LiteRT)", "size_bytes": record["size_bytes"], "p50_ms": record["latency_ms_p50"],
                     "p95_ms": record["latency_ms_p95"], "accuracy": round(record["accuracy"], 4), "threads": 1})
    return rows


def main() -> None:
    args = parse_args()
    import tensorflow as tf

    print_machine("TensorFlow backend: training speed and TFLite (issue 18)",
                  {**machine(), "tensorflow": tf.__version__, "rows": args.rows, "epochs": args.epochs, "batch": args.batch,
                   "rounds": args.rounds})
    x, labels = images(args.rows + 1024)
    validation = (x[args.rows:], labels[args.rows:])
    x, labels = x[:args.rows], labels[:args.rows]
    teacher = np.random.default_rng(1).normal(size=(len(x), 10)).astype(np.float32) * 3
    times: dict[str, list[float]] = {"engine (KerasTrainer)": [], "hand-written tf.GradientTape": []}
    runs = [("engine (KerasTrainer)", engine_loop), ("hand-written tf.GradientTape", hand_written)]
    engine_loop(x[:256], labels[:256], teacher[:256], validation, args)  # warm the runtime for both
    for round_ in range(args.rounds):
        for name, run in runs if round_ % 2 == 0 else runs[::-1]:
            times[name].append(run(x, labels, teacher, validation, args))
    samples = args.rows * args.epochs
    rows = [{"loop": name, "median s": round(statistics.median(t), 3), "samples/s": round(samples / statistics.median(t), 1)}
            for name, t in times.items()]
    ratio = rows[1]["median s"] / rows[0]["median s"]
    print(table(rows))
    print(f"engine / hand-written speed: {ratio:.3f}x (goal >= 0.9x)\n")
    tflite = tflite_against_keras(x, labels, teacher, validation, args)
    print(table(tflite))
    keras_row, int8 = tflite[0], tflite[-1]
    print(f"TFLite int8 against Keras at batch 1: {keras_row['p50_ms'] / int8['p50_ms']:.2f}x faster (goal >= 2x), "
          f"{keras_row['size_bytes'] / int8['size_bytes']:.2f}x smaller (goal >= 3.5x), "
          f"accuracy {int8['accuracy'] - keras_row['accuracy']:+.4f} (goal within 2 points)")


if __name__ == "__main__":
    main()
