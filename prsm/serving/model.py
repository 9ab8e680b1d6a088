"""One export ready to answer: an onnxruntime session on the CPU (ONNX) or a LiteRT interpreter
(TFLite), and the export's own preprocessing, read from its metadata props (``labels`` and
``prsm.preprocessing``; a TFLite file's sidecar holds them)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..engine.export.preprocessing import Preprocessor, parse, read_metadata
from .errors import ModelUnavailable

DEFAULT_THREADS = 1  # a pool runs several workers on a few cores; batching, not threads, buys throughput


class ServedModel:
    """``ServedModel.load(path).predict(inputs)`` -> one ``{"label", "probabilities"}`` per input."""

    def __init__(self, path: Path, session, preprocessor: Preprocessor, labels: list[str]) -> None:
        self.path, self.session, self.preprocessor, self.labels = path, session, preprocessor, labels

    @classmethod
    def load(cls, path: Path | str, threads: int = DEFAULT_THREADS) -> ServedModel:
        path = Path(path)
        if not path.is_file():
            raise ModelUnavailable(f"{path.name}: no such model file")
        if path.suffix == ".tflite":
            preprocessing, labels = parse(read_metadata(path), path.name)
            session = LiteSession(path, threads, preprocessing["task"])
        else:
            session = _session(path, threads)
            preprocessing, labels = parse(session.get_modelmeta().custom_metadata_map, path.name)
        preprocessor = Preprocessor(preprocessing, path.parent, [i.name for i in session.get_inputs()])
        return cls(path, session, preprocessor, labels)

    @property
    def task(self) -> str:
        return self.preprocessor.task

    @property
    def preprocessing(self) -> dict:
        return self.preprocessor.preprocessing

    def encode(self, inputs: list) -> dict[str, np.ndarray]:
        """The graph's input arrays; raises ``InputError`` naming a bad input."""
        return self.preprocessor.encode(inputs)

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)

    def outputs(self, logits: np.ndarray) -> list[dict]:
        """Softmax of each row of logits, as the label and every label's probability."""
        shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [{"label": self.labels[int(row.argmax())],
                 "probabilities": {label: float(p) for label, p in zip(self.labels, row)}}
                for row in probabilities]

    def predict(self, inputs: list) -> list[dict]:
        return self.outputs(self.run(self.encode(inputs)))

    def pad_token(self) -> tuple[int, str]:
        """(pad id, side) for merging token batches; (0, "right") for a tokenizer without one."""
        tokenizer = self.preprocessor.tokenizer
        pad = getattr(tokenizer, "pad_token_id", None)
        return (int(pad) if pad is not None else 0), getattr(tokenizer, "padding_side", "right")


class LiteSession:
    """A TFLite file in LiteRT, answering as an onnxruntime session does (``get_inputs``, ``run``). Its
    one input is the ids of a text or the rows of features or pixels; an interpreter is not safe to
    call from two threads at once, so calls take turns."""

    def __init__(self, path: Path, threads: int, task: str) -> None:
        from ..engine.export.keras_formats import lite_interpreter

        try:
            self.interpreter = lite_interpreter(path, max(1, int(threads)))
        except (RuntimeError, ValueError) as error:
            raise ModelUnavailable(f"{path.name}: not a loadable TFLite model ({type(error).__name__})") from None
        self.input_name = "input_ids" if task == "text" else "x"
        self._lock = threading.Lock()

    def get_inputs(self) -> list:
        return [SimpleNamespace(name=self.input_name)]

    def run(self, _outputs, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        from ..engine.export.keras_formats import invoke

        with self._lock:
            return [invoke(self.interpreter, np.ascontiguousarray(feed[self.input_name]))]


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... kinds
        raise ModelUnavailable(f"{path.name}: not a loadable ONNX model ({type(error).__name__})") from None


def example_inputs(preprocessing: dict) -> list:
    """One input of the model's kind, for warm-up and measurement: a zero row, a blank image of
    the model's size and mode, or a short text."""
    task = preprocessing["task"]
    if task == "tabular":
        return [[0.0] * int(preprocessing["features"])]
    if task == "image":
        import io

        from PIL import Image

        mode = "L" if preprocessing["channels"] == 1 else "RGB"
        buffer = io.BytesIO()
        Image.new(mode, (int(preprocessing["width"]), int(preprocessing["height"]))).save(buffer, format="PNG")
        return [buffer.getvalue()]
    return ["a short example text to warm the model up"]
