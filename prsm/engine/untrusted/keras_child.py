"""What the confined child does with a checked ``.keras`` file: ``keras.saving.load_model`` in safe
mode, the model's input and output shapes, and its weights written as safetensors. Runs only inside
``untrusted.sandbox.run_confined`` (``teachers.keras`` starts it), after the child confined itself;
TensorFlow, Keras, h5py and safetensors are imported with this module, before the limits.

The archive's config was checked before this runs (``keras_archive.check_keras_archive``): only
built-in layers, no Lambda, no custom objects. The child still loads it with ``safe_mode=True``; what
it guards is the rest: h5py parsing the weights file someone else wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: F401 - Keras imports it lazily, when it first reads weights: here, before the limits
import keras  # the backend is chosen by the environment, before the import
import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

from ..errors import BadInput
from ..export.files import sha256_of

OUT_OF_MEMORY = "loading it needs more memory than the conversion is allowed"


def convert(src: str, sha256: str, out: str, max_output_bytes: int) -> dict:
    """Load ``src`` (whose sha256 must be ``sha256``: the bytes the parent checked), write its weights
    to ``out`` as safetensors (``00000``, ``00001``, ... in ``model.weights`` order, their paths in
    the metadata) and return its input shape and output width."""
    # one thread per pool: TensorFlow starts its pools on the first op, after the limits, and each
    # thread's malloc arena takes address space (64 MiB a thread, more pools on more cores)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if sha256_of(Path(src)) != sha256:
        raise BadInput("the file changed after it was checked")
    try:
        model = keras.saving.load_model(src, safe_mode=True, compile=False)
    except MemoryError:
        raise BadInput(OUT_OF_MEMORY) from None
    except Exception as error:  # noqa: BLE001 - Keras' own refusal or a damaged file: one line of it
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInput(f"keras.saving.load_model(safe_mode=True) refused it ({type(error).__name__}: {first[:200]})") \
            from None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise BadInput(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; a teacher has one of each")
    # np.array, not np.ascontiguousarray: that makes a scalar (a Normalization count) one-dimensional
    tensors = {f"{i:05d}": np.array(keras.ops.convert_to_numpy(w), order="C") for i, w in enumerate(model.weights)}
    total = sum(array.nbytes for array in tensors.values())
    if not tensors:
        raise BadInput("the model holds no weights (was it saved before it was built?)")
    if total > max_output_bytes:
        raise BadInput(f"the weights hold {total} bytes, more than the {max_output_bytes} allowed for this file")
    paths = [w.path for w in model.weights]
    save_file(tensors, out, metadata={"format": "np", "prsm.converted_from": "keras", "prsm.paths": json.dumps(paths)})
    return {"input_shape": list(model.inputs[0].shape), "output_shape": list(model.outputs[0].shape),
            "weights": len(tensors), "bytes": total, "params": int(model.count_params())}


