"""A real deployed model for the serving tests: the digits-mlp catalog teacher distilled for 20 epochs by the
real engine (once a session), its exports copied into a job that the real services take to completed."""

import json
import shutil

import pytest
from asgiref.sync import async_to_sync
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from distillation.selectors import job_out_dir
from distillation.services import distillation_job_create, job_complete, job_lease_acquire
from marketplace.tests.conftest import make_user  # noqa: F401 - a fixture (1,000 FTNS in the wallet)
from prsm.request import DistillationRequest
from safety.tests.conftest import catalog_home  # noqa: F401 - a fixture
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


class AsgiResponse:
    def __init__(self, status: int, headers: list, content: bytes) -> None:
        self.status_code, self.content = status, content
        self.headers = {name.decode().lower(): value.decode() for name, value in headers}

    def json(self):
        return json.loads(self.content)

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def has_header(self, name: str) -> bool:
        return name.lower() in self.headers


class AsgiApi(APIClient):
    """An API client whose predict calls go through the site's ASGI application as Daphne serves them
    (``prsm_site.asgi``: the lean path for a token and JSON); other calls go through Django's test client."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    def post(self, path, data=None, format=None, content_type=None, **extra):
        from prsm_site.asgi import PREDICT_PATH

        if not PREDICT_PATH.match(path) or format != "json":
            return super().post(path, data, format=format, content_type=content_type, **extra)
        body = json.dumps(data).encode()
        return async_to_sync(asgi_post)(path, body, [(b"authorization", f"Token {self.key}".encode()),
                                                     (b"content-type", b"application/json")])


async def asgi_post(path: str, body: bytes, headers: list, host: bytes = b"testserver") -> AsgiResponse:
    """One POST through ``prsm_site.asgi.application``, awaited to the application's end (the lean path
    writes its metering row after the answer)."""
    from prsm_site.asgi import application

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", host), (b"content-length", str(len(body)).encode()), *headers],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    sent, messages = [], [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        import asyncio

        await asyncio.Event().wait()  # nothing more: the caller waits for the answer

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return AsgiResponse(start["status"], start["headers"], content)


@pytest.fixture(params=["view", "lean"])
def api_for(request):
    """``api_for(user)``: an API client with the user's DRF token. Each test runs twice: predict calls
    through Django's view (``endpoint.py``), and through the ASGI application's lean path (``fast_path.py``)."""

    def client(user) -> APIClient:
        key = Token.objects.get_or_create(user=user)[0].key
        if request.param == "lean":
            return AsgiApi(key)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api

    return client
