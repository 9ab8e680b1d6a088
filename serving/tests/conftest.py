"""A real deployed model for the serving tests: the digits-mlp catalog teacher distilled for 20 epochs by the
real engine (once a session), its exports copied into a job that the real services take to completed."""

import shutil

import pytest

from distillation.selectors import job_out_dir
from distillation.services import distillation_job_create, job_complete, job_lease_acquire
from marketplace.tests.conftest import make_user  # noqa: F401 - a fixture (1,000 FTNS in the wallet)
from prsm.request import DistillationRequest
from safety.tests.conftest import api_for, catalog_home  # noqa: F401 - fixtures
from safety.tests.conftest import make_user as make_unfunded_user  # noqa: F401 - a fixture make_user needs

REQUEST = {"teacher_model": "catalog:digits-mlp", "dataset": "builtin:digits", "domain": "digits", "budget_ftns": 1000,
           "epochs": 20, "quality_threshold": 0.3, "export_formats": ["onnx", "onnx-int8", "safetensors"]}


@pytest.fixture(scope="session")
def digits_export(catalog_home, tmp_path_factory):  # noqa: F811 - the fixture imported above
    """(report, folder) of one real short distillation with ONNX, int8 ONNX and safetensors exports."""
    from prsm.engine.pipeline import run_distillation
    from prsm.planning import request_to_config

    request = DistillationRequest.model_validate(REQUEST)
    out = tmp_path_factory.mktemp("digits-export")
    config = request_to_config(request, teacher=request.teacher, dataset=request.dataset, backend="pytorch", epochs=request.epochs)
    return run_distillation(config, out), out


@pytest.fixture
def served_job(digits_export, db):
    """``served_job(owner, **request)``: a completed job holding the real exports (not yet deployed)."""
    report, folder = digits_export

    def make(owner, **request):
        job = distillation_job_create(owner=owner, request=DistillationRequest.model_validate({**REQUEST, **request}))
        job, token = job_lease_acquire(job_id=job.job_id)
        shutil.copytree(folder, job_out_dir(job), dirs_exist_ok=True)
        assert job_complete(job=job, token=token, report=report)
        job.refresh_from_db()
        return job

    return make
