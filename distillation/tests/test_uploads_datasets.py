"""Data set uploads: validated with the engine's loaders at upload time; the engine's reason is the 400."""

import pytest

from distillation.models import Dataset

from tests.hostile_files import DEEP_JSONL, huge_field_csv, png, tabular_csv, tar_of, zip_of

from .test_uploads_fixtures import ada, bob, media, text_jsonl, upload  # noqa: F401

DATASETS = "/api/v1/datasets/"


def _refused(response, *words):
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    assert not Dataset.objects.exists()
    return message


def test_a_tabular_csv_is_stored_under_its_id_and_described(ada, media):
    api, _ = ada

    response = upload(api, DATASETS, "../iris.csv", tabular_csv(), name="iris")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["format"], body["task"], body["rows"], body["classes"]) == ("csv", "tabular", 90, ["c0", "c1", "c2"])
    dataset = Dataset.objects.get(public_id=body["id"])
    assert dataset.path == f"uploads/datasets/{dataset.public_id}/data.csv"
    assert [d["id"] for d in api.get(DATASETS).json()] == [body["id"]]


def test_jsonl_text_and_an_image_folder_zip_are_accepted(ada):
    api, _ = ada
    images = {f"shapes/{label}/{i}.png": png(shade=40 * i) for label in ("dark", "light") for i in range(3)}

    text = upload(api, DATASETS, "reviews.txt", text_jsonl())
    folders = upload(api, DATASETS, "shapes.zip", zip_of(images))
    tarred = upload(api, DATASETS, "shapes.tar", tar_of(images))

    assert (text.json()["format"], text.json()["task"]) == ("jsonl", "text")
    for response in (folders, tarred):
        assert response.status_code == 201, response.content
        assert (response.json()["task"], response.json()["rows"], response.json()["classes"]) == ("image", 6, ["dark", "light"])


def test_the_engines_one_line_reason_is_the_400(ada):
    api, _ = ada

    _refused(upload(api, DATASETS, "data.csv", b"text,label\nonly one,a\nclass here,a\n"), "only one class")
    _refused(upload(api, DATASETS, "data.csv", b"f1,f2\n1,2\n"), "no 'label' column")


def test_it_refuses_a_csv_with_a_huge_field(ada):
    api, _ = ada
    for size in (120_000, 300_000):  # past our limit, and past the csv module's own
        _refused(upload(api, DATASETS, "data.csv", huge_field_csv(size)), "line 2", "longer than")


def test_it_refuses_jsonl_nested_too_deep(ada):
    api, _ = ada

    _refused(upload(api, DATASETS, "data.jsonl", DEEP_JSONL), "line 2", "nested deeper")


def test_it_goes_by_the_content_not_by_a_name_that_lies(ada):
    api, _ = ada

    _refused(upload(api, DATASETS, "data.csv", png()), "PNG image", "not a data set")
    _refused(upload(api, DATASETS, "data.csv", b"\x80\x04\x95" + bytes(40)), "pickle")
    renamed = upload(api, DATASETS, "holiday.png", tabular_csv())
    assert (renamed.status_code, renamed.json()["format"]) == (201, "csv")


def test_it_refuses_a_decompression_bomb_image_and_a_fake_image(ada, settings):
    api, _ = ada
    settings.UPLOAD_MAX_IMAGE_PIXELS = 1000
    big = {f"{label}/{i}.png": png(64, 64) for label in ("a", "b") for i in range(2)}  # 4096 pixels each

    _refused(upload(api, DATASETS, "big.zip", zip_of(big)), "pixels")
    fake = {"a/1.png": png(), "b/1.png": b"GIF89a" + bytes(100)}
    _refused(upload(api, DATASETS, "fake.zip", zip_of(fake)), "not a PNG or JPEG")


@pytest.mark.parametrize("archive", [
    lambda: zip_of({"a/1.png": png(), "../b/1.png": png()}),
    lambda: zip_of({"a/1.png": png()}, symlinks={"b/1.png": "/etc/passwd"}),
    lambda: zip_of({"a/zeros.png": bytes(8 << 20)}),
])
def test_an_unsafe_archive_is_refused_before_extraction(ada, media, archive):
    api, _ = ada

    _refused(upload(api, DATASETS, "images.zip", archive()), "archive refused")
    assert not any(p.is_file() for p in media.rglob("*"))


def test_a_data_set_past_the_size_limit_is_a_413(ada, settings):
    api, _ = ada
    settings.UPLOAD_MAX_DATASET_BYTES = 1000

    response = upload(api, DATASETS, "data.csv", tabular_csv())

    assert response.status_code == 413
    assert response.json()["error"] == {"code": "too_large", "message": response.json()["error"]["message"], "field": "file"}


def test_another_users_data_sets_are_not_listed(ada, bob):
    api, _ = ada
    other, _ = bob
    upload(api, DATASETS, "data.csv", tabular_csv())

    assert other.get(DATASETS).json() == []
    assert len(api.get(DATASETS).json()) == 1
