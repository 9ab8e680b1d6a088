"""Each kind of bad data gets a one-line error naming the problem and the row or file."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from prsm.engine.data.files import MAX_FIELD_CHARS, MAX_JSON_DEPTH
from prsm.engine.data.loaders import load_data
from prsm.engine.errors import BadInput


def refusal(path) -> str:
    with pytest.raises(BadInput) as caught:
        load_data(str(path))
    message = str(caught.value)
    assert "\n" not in message
    return message


def save_image(path, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=0 if mode == "L" else (0, 0, 0)).save(path)


def test_it_refuses_a_csv_without_a_label_column(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    assert "no 'label' column" in refusal(path)


def test_it_refuses_data_with_a_single_class(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("text,label\ngood film,pos\nfine film,pos\n")
    assert "only one class" in refusal(path)


def test_it_refuses_an_empty_file(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("")
    assert "empty" in refusal(path)


def test_it_refuses_a_file_that_is_not_utf8_and_names_the_line(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"text,label\ngood,pos\ncaf\xe9 noir,neg\n")
    assert "not UTF-8" in refusal(path) and "line 3" in refusal(path)


def test_it_names_the_line_and_column_of_a_non_numeric_feature(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,y,label\n1,2,a\n3,oops,b\n")
    message = refusal(path)
    assert "line 3" in message and "'y'" in message and "oops" in message


def test_it_names_the_line_of_an_empty_label(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,label\n1,a\n2,\n3,b\n")
    assert "line 3 has an empty label" in refusal(path)


def test_it_names_the_line_of_invalid_jsonl(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    assert "line 2 is not valid JSON" in refusal(path)


def test_it_names_the_line_of_a_csv_field_past_the_limit(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("text,label\ngood,pos\n" + "x" * 300_000 + ",neg\n")
    assert refusal(path) == "rows.csv: line 3 has a field longer than 100000 characters"
    path.write_text("text,label\ngood,pos\n" + "x" * (MAX_FIELD_CHARS + 1) + ",neg\n")  # under csv's own limit
    assert refusal(path) == "rows.csv: line 3 has a field longer than 100000 characters"
    path.write_text("text,label\ngood,pos\n" + "x" * MAX_FIELD_CHARS + ",neg\n")
    assert len(load_data(str(path)).texts[1]) == MAX_FIELD_CHARS


def test_it_names_the_line_that_csv_cannot_read(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_bytes(b"text,label\ngood,pos\nba\rd,neg\n")
    assert refusal(path) == "rows.csv: line 3 is not readable CSV (new-line character seen in unquoted field)"


def test_it_names_the_line_of_jsonl_nested_past_the_limit(tmp_path):
    path = tmp_path / "rows.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y", "n": ' + deep + "}\n")
    assert refusal(path) == "rows.jsonl: line 2 is nested deeper than 32 levels"
    at_the_limit = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    brackets_in_a_string = "[" * 1000
    path.write_text('{"text": "a", "label": "x", "n": ' + at_the_limit + "}\n"
                    + json.dumps({"text": brackets_in_a_string, "label": "y"}) + "\n")
    assert load_data(str(path)).texts == ["a", brackets_in_a_string]


def test_it_refuses_mixed_image_sizes_naming_both_files(tmp_path):
    save_image(tmp_path / "imgs" / "cat" / "a.png", (8, 8))
    save_image(tmp_path / "imgs" / "dog" / "b.png", (9, 8))
    message = refusal(tmp_path / "imgs")
    assert "mixed image sizes or modes" in message and "cat/a.png" in message and "dog/b.png" in message


def test_it_refuses_mixed_image_modes(tmp_path):
    save_image(tmp_path / "imgs" / "cat" / "a.png", mode="L")
    save_image(tmp_path / "imgs" / "dog" / "b.png", mode="RGB")
    assert "mixed image sizes or modes" in refusal(tmp_path / "imgs")


def test_it_names_an_unreadable_image(tmp_path):
    save_image(tmp_path / "imgs" / "cat" / "a.png")
    (tmp_path / "imgs" / "dog").mkdir()
    (tmp_path / "imgs" / "dog" / "b.png").write_bytes(b"not a png at all")
    assert "unreadable image dog/b.png" in refusal(tmp_path / "imgs")


def test_it_refuses_an_image_zip_with_a_single_class(tmp_path):
    save_image(tmp_path / "a.png")
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as archive:
        archive.write(tmp_path / "a.png", "only/a.png")
        archive.write(tmp_path / "a.png", "only/b.png")
    assert "only one class" in refusal(tmp_path / "imgs.zip")


def test_it_refuses_a_missing_path(tmp_path):
    assert "no such file" in refusal(tmp_path / "nowhere.csv")


def test_a_good_image_zip_loads_in_sorted_class_order(tmp_path):
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as archive:
        for label in ("zebra", "ant"):
            for i in range(3):
                image = tmp_path / f"{label}{i}.png"
                Image.fromarray(rng.integers(0, 255, (6, 5), dtype=np.uint8)).save(image)
                archive.write(image, f"wrapped/{label}/{i}.png")
    data = load_data(str(tmp_path / "imgs.zip"))
    assert data.classes == ["ant", "zebra"]
    assert data.images.shape == (6, 1, 6, 5)
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert len(data.sha256) == 64
