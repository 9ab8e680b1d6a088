"""A folder export (the Transformers format) downloads as one zip: the folder's files under its name,
no link that points outside it, the same bytes every time, and the zip's own sha256 in the header."""

import hashlib
import io
import os
import zipfile

import pytest

from distillation.models import Artifact
from distillation.selectors import job_out_dir

from distillation.tests.conftest import catalog_home  # noqa: F401 - a fixture

from .test_job_dashboard import ada, completed, new_job  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _with_transformers_folder(job):
    folder = job_out_dir(job) / "transformers"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(b"\x00weights" * 100)
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    secret = job_out_dir(job).parent / "elsewhere.txt"
    secret.write_text("not part of the export")
    os.symlink(secret, folder / "link.txt")
    return Artifact.objects.create(job=job, format="transformers", path=str(folder.relative_to(folder.parents[2])),
                                   sha256="f" * 64, size_bytes=1, verified=True)


def _download(client, job):
    response = client.get(f"/api/v1/distillations/{job.job_id}/artifacts/transformers/download/")
    assert response.status_code == 200, response.content[:200]
    return response, b"".join(response.streaming_content)


def test_a_folder_export_downloads_as_a_zip_of_its_files_and_nothing_else(client, ada, completed):  # noqa: F811
    job = completed(ada)
    _with_transformers_folder(job)
    client.force_login(ada)

    response, body = _download(client, job)

    assert response["Content-Type"] == "application/zip"
    assert 'filename="transformers.zip"' in response["Content-Disposition"]
    assert response["X-Checksum-SHA256"] == hashlib.sha256(body).hexdigest()
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["transformers/config.json", "transformers/model.safetensors",
                                          "transformers/tokenizer/vocab.txt"]
    assert archive.read("transformers/model.safetensors") == b"\x00weights" * 100


def test_every_download_of_a_folder_is_the_same_bytes(client, ada, completed):  # noqa: F811
    job = completed(ada)
    _with_transformers_folder(job)
    client.force_login(ada)

    first = _download(client, job)[1]
    for built in job_out_dir(job).glob("transformers.zip*"):
        built.unlink()  # built again from scratch, later
    second = _download(client, job)[1]

    assert first == second
