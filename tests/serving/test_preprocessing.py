"""The preprocessing an export carries, and how it refuses inputs that do not fit the model."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import onnx
import pytest
from PIL import Image

from prsm.engine.export.preprocessing import METADATA_KEY, Preprocessor, read_metadata, write_metadata
from prsm.serving.errors import InputError

TABULAR = {"task": "tabular", "features": 3, "columns": ["a", "b", "c"]}
IMAGE = {"task": "image", "channels": 1, "height": 16, "width": 16}


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_onnx_export_carries_its_labels_and_preprocessing(digits_export, image_export, text_export):
    digits = read_metadata(digits_export)
    assert json.loads(digits[METADATA_KEY]) == {"task": "tabular", "features": 64,
                                                "columns": [f"p{i}" for i in range(64)]}
    assert json.loads(digits["labels"]) == [str(i) for i in range(10)]
    assert read_metadata(digits_export.with_name("model.int8.onnx"))[METADATA_KEY] == digits[METADATA_KEY]
    assert json.loads(read_metadata(image_export)[METADATA_KEY]) == {"task": "image", "channels": 1, "height": 16,
                                                                     "width": 16}
    text = json.loads(read_metadata(text_export)[METADATA_KEY])
    assert text["task"] == "text" and text["tokenizer"] == "tokenizer" and text["max_length"] > 0
    assert (text_export.parent / "tokenizer" / "tokenizer_config.json").is_file()


def test_write_metadata_replaces_the_preprocessing_and_keeps_the_labels(digits_export, tmp_path):
    copy = tmp_path / "model.onnx"
    copy.write_bytes(digits_export.read_bytes())
    write_metadata(copy, {"task": "tabular", "features": 64, "columns": None})
    props = read_metadata(copy)
    assert json.loads(props[METADATA_KEY])["columns"] is None and "labels" in props
    onnx.checker.check_model(onnx.load(str(copy)))


def test_feature_rows_come_as_lists_or_objects_keyed_by_column():
    pre = Preprocessor(TABULAR, None, ["x"])
    encoded = pre.encode([[1, 2.5, -3], {"c": 6, "a": 4, "b": 5}])["x"]
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [[1, 2.5, -3], [4, 5, 6]])


@pytest.mark.parametrize(("inputs", "message"), [
    ([], "no inputs"),
    ({"a": 1}, "inputs must be a list"),
    ([[1, 2, 3], [1, 2]], "input 1: 2 features, the model takes 3"),
    ([[1, 2, 3], {"a": 1, "b": 2}], "input 1: missing column 'c'"),
    ([{"a": 1, "b": 2, "c": 3, "d": 4}], "input 0: unknown column 'd'"),
    ([[1, 2, 3], [1, float("nan"), 3]], "input 1: b is nan, not a finite number"),
    ([[1, 2, float("inf")]], "input 0: c is inf"),
    ([[1, "2", 3]], "input 0: b must be a number, got a text"),
    ([[1, True, 3]], "input 0: b must be a number, got a boolean"),
    ([[1, 2, 3], "1,2,3"], "input 1: this model takes feature rows"),
    ([[1, 2, 3], 5], "input 1: this model takes feature rows"),
    ([[1, [2], 3]], "input 0: b must be a number, got a list"),
])
def test_it_refuses_a_feature_row_that_does_not_fit(inputs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        Preprocessor(TABULAR, None, ["x"]).encode(inputs)


def test_an_image_is_scaled_as_the_engine_scaled_its_training_images(shapes_folder):
    from prsm.engine.data.loaders import load_data

    data = load_data(str(shapes_folder))
    first = sorted(shapes_folder.rglob("*.png"))[0]
    encoded = Preprocessor(IMAGE, None, ["x"]).encode([first.read_bytes()])["x"]
    assert encoded.shape == (1, 1, 16, 16) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded[0], data.images[0])


def test_an_image_of_another_mode_or_size_is_converted_and_resized():
    rgb = Image.new("RGB", (40, 24), (255, 0, 0))
    encoded = Preprocessor(IMAGE, None, ["x"]).encode([png(rgb), png(Image.new("L", (16, 16), 255))])["x"]
    assert encoded.shape == (2, 1, 16, 16)
    np.testing.assert_allclose(encoded[0], np.asarray(rgb.convert("L"))[0, 0] / 255, atol=1e-6)
    np.testing.assert_array_equal(encoded[1], 1.0)
    three = Preprocessor({**IMAGE, "channels": 3}, None, ["x"]).encode([png(Image.new("L", (16, 16), 51))])["x"]
    assert three.shape == (1, 3, 16, 16) and np.allclose(three, 0.2)


def gif(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="GIF")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A small real PNG whose header claims ``width`` x ``height`` pixels (CRC fixed)."""
    data = bytearray(png(Image.new("L", (1, 1))))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    return bytes(data)


@pytest.mark.parametrize(("inputs", "message"), [
    ([b"\x89PNG not really"], "input 0: not a readable image"),
    ([png(Image.new("L", (16, 16))), b""], "input 1: not a readable image"),
    ([png(Image.new("L", (16, 16))), bomb_png(8_000, 8_000)], "input 1: image of 8000x8000 pixels, more than 40,000,000"),
    ([bomb_png(50_000, 50_000)], "input 0: image of more than 40,000,000 pixels"),
    ([gif(Image.new("L", (16, 16)))], "input 0: not a readable image"),
    (["a text"], "input 0: this model takes image files .*got a text"),
    ([[0.0] * 256], "input 0: this model takes image files .*got a list"),
])
def test_it_refuses_an_image_that_does_not_decode_or_is_too_large(inputs, message):
    with pytest.raises(InputError, match=message):
        Preprocessor(IMAGE, None, ["x"]).encode(inputs)


def test_texts_encode_as_the_engine_encoded_them(text_export):
    from transformers import AutoTokenizer

    from prsm.engine.adapters import SequenceAdapter
    from prsm.engine.data.types import TaskData

    pre = Preprocessor.load(text_export)
    texts = ["great fun", "the movie was really quite boring and tedious and the plot dull"]
    encoded = pre.encode(texts)
    tokenizer = AutoTokenizer.from_pretrained(str(text_export.parent / "tokenizer"))
    expected = SequenceAdapter(tokenizer, pre.preprocessing["max_length"]).encode(
        TaskData(task="text", classes=["negative", "positive"], labels=[0, 1], texts=texts))
    assert list(encoded) == [i.name for i in onnx.load(str(text_export)).graph.input]
    for name, array in encoded.items():
        assert array.dtype == np.int64
        np.testing.assert_array_equal(array, expected[name])


@pytest.mark.parametrize(("inputs", "message"), [
    (["fine", 3], "input 1: this model takes texts, got a number"),
    ([None], "input 0: this model takes texts, got null"),
    ([{"b64": "AAAA"}], "input 0: this model takes texts, got an object"),
    (["x" * 100_001], "input 0: text of 100001 characters"),
])
def test_it_refuses_what_is_not_a_text(text_export, inputs, message):
    with pytest.raises(InputError, match=message):
        Preprocessor.load(text_export).encode(inputs)
