"""Good files load into TaskData; the split is deterministic, stratified and disjoint."""

from __future__ import annotations

import numpy as np

from prsm.engine.data.loaders import load_data
from prsm.engine.data.splits import stratified_split


def test_a_text_csv_becomes_text_data_with_sorted_string_classes(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"great, really",10\nawful,2\nfine,10\n')
    data = load_data(str(path))
    assert data.task == "text"
    assert data.classes == ["10", "2"]  # string order, as CONTRACT.md says
    assert data.texts[0] == "great, really"
    assert data.labels.tolist() == [0, 1, 0]


def test_a_jsonl_file_becomes_text_data(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n')
    data = load_data(str(path))
    assert (data.task, data.classes, data.texts) == ("text", ["0", "1"], ["good", "bad"])


def test_a_numeric_csv_becomes_tabular_data_in_file_column_order(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("b,a,label\n1.5,2,x\n3,4e1,y\n")
    data = load_data(str(path))
    assert data.task == "tabular"
    assert data.feature_names == ["b", "a"]
    assert data.features.tolist() == [[1.5, 2.0], [3.0, 40.0]]


def test_the_same_bytes_give_the_same_hash_and_other_bytes_another(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("x,label\n1,a\n2,b\n")
    second.write_text("x,label\n1,a\n3,b\n")
    assert load_data(str(first)).sha256 == load_data(str(first)).sha256
    assert load_data(str(first)).sha256 != load_data(str(second)).sha256


def test_the_split_is_deterministic_stratified_and_disjoint():
    from prsm.engine.data.types import TaskData

    labels = np.repeat(np.arange(4), [40, 40, 20, 100])
    ids = np.arange(len(labels), dtype=np.float32)[:, None]  # feature 0 is the row's id
    data = TaskData(task="tabular", classes=list("abcd"), labels=labels, features=ids)
    split = stratified_split(data, seed=3)
    ids_of = {part: set(getattr(split, part).features[:, 0].astype(int)) for part in ("train", "validation", "test")}
    assert set().union(*ids_of.values()) == set(range(len(labels)))
    assert sum(map(len, ids_of.values())) == len(labels)
    assert np.bincount(split.test.labels).tolist() == [6, 6, 3, 15]
    assert ids_of["test"] == set(stratified_split(data, seed=3).test.features[:, 0].astype(int))
    assert ids_of["test"] != set(stratified_split(data, seed=4).test.features[:, 0].astype(int))
