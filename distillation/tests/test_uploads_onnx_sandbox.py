"""The ONNX check of an upload runs in the same confined child as the pickle conversion: no network,
no writes, limits on memory and CPU time; a model it refuses is a 400 with the checker's reason."""

from __future__ import annotations

import socket

import pytest

from distillation.uploads import UploadError, onnx_check
from distillation.uploads.teachers import onnx_confinement
from prsm.engine.untrusted.sandbox import ChildFailed, run_confined
from tests.engine.test_untrusted_sandbox import accepted

from .test_uploads_fixtures import onnx_teacher


def test_the_onnx_checks_child_cannot_reach_the_network(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(onnx_teacher())
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"

        with pytest.raises(ChildFailed, match="not allowed|no network"):
            run_confined("urllib.request:urlopen", [url], onnx_confinement(model))  # the check's own limits

        assert not accepted(server)
        socket.create_connection(server.getsockname(), timeout=5).close()  # unconfined, the same address answers
        assert accepted(server)


def test_the_onnx_checks_child_cannot_write_files(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(onnx_teacher())

    with pytest.raises(ChildFailed, match="writing .* is not allowed"):
        run_confined("shutil:copyfile", [str(model), str(tmp_path / "written")], onnx_confinement(model))
    assert not (tmp_path / "written").exists()


def test_a_valid_model_passes_and_a_broken_one_is_refused_with_the_reason(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(onnx_teacher())
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07" + bytes(100))

    onnx_check(model)
    with pytest.raises(UploadError, match=r"^broken.onnx: not a valid ONNX model") as refused:
        onnx_check(broken)
    assert (refused.value.status_code, refused.value.code, refused.value.field) == (400, "invalid", "file")
