"""Hostile HTTP requests (issue 13, items 5 to 8): each is answered with a 4xx in the API's error shape
and leaves no ERROR line in the log. The websocket frames are in test_hostile_websockets.py."""

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.services import user_create, user_token_get_or_create
from distillation import services as job_services
from distillation.models import DistillationJob
from distillation.runner import JobRunner
from ledger import services as ledger_services
from ledger.models import Hold
from prsm.engine.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
NESTED_DEEP = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit
NESTED = '{"a":' * 100 + "1" + "}" * 100  # parses, but far deeper than any body the API takes
JOB = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 100}


@pytest.fixture
def errors_logged(caplog):
    """ERROR records from any logger, Django's own (which do not reach the root logger) included."""
    caplog.set_level(logging.INFO)
    extra = [logging.getLogger(name) for name in ("django.request", "django.security")]
    for logger in extra:
        logger.addHandler(caplog.handler)
    yield lambda: [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    for logger in extra:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def ada(db):
    return user_create(username="ada", password="correct horse battery", email="ada@example.com")


@pytest.fixture
def api(ada):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token_get_or_create(user=ada)}")
    return client


@pytest.fixture
def anonymous(db):
    return APIClient(raise_request_exception=False)


def assert_refused(response, status: int, errors_logged, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "field"} and error["code"] and error["message"], error
    if field is not None:
        assert error.get("field") == field, error
    assert errors_logged() == []
    return error


def post_raw(client, path: str, body: str | bytes, content_type: str = "application/json", **headers):
    return client.generic("POST", path, body, content_type=content_type, **headers)


# --- item 5: numbers bounded at the edge; a user's input error in the worker is the user's


@pytest.mark.parametrize("route", ["/api/v1/distillations/", "/api/v1/distillations/estimate/"])
@pytest.mark.parametrize("field, value", [
    ("seed", 2**70), ("seed", -1), ("budget_ftns", 10**13), ("max_memory_usage", "9" * 400 + "TB"),
    ("max_inference_latency", "9" * 400 + "ms"), ("epochs", 10**18), ("layer_count", 10**6),
])
def test_a_number_out_of_bounds_is_refused_naming_its_field(api, errors_logged, route, field, value):
    response = api.post(route, {**JOB, field: value}, format="json")

    assert_refused(response, 400, errors_logged, field=field)
    assert not DistillationJob.objects.exists()


def _job_held(owner) -> DistillationJob:
    job = DistillationJob.objects.create(owner=owner, request={}, engine_config={"teacher": "catalog:digits-mlp"},
                                         backend="pytorch", backend_reason="test", cost_estimate_ftns=1)
    ledger_services.hold_place(user=owner, reference=job_services.job_hold_reference(job), amount=10**6, budget=10**8)
    return job


def _run(job: DistillationJob, monkeypatch, raises: Exception | None = None) -> Hold:
    if raises is not None:
        def run_distillation(*args, **kwargs):
            raise raises

        monkeypatch.setattr("prsm.engine.pipeline.run_distillation", run_distillation)
    JobRunner(*job_services.job_lease_acquire(job_id=job.job_id)).run()
    job.refresh_from_db()
    assert job.status == DistillationJob.Status.FAILED
    return Hold.objects.get(reference=job_services.job_hold_reference(job))


def test_bad_input_found_in_the_worker_is_the_users_and_charged_not_refunded(ada, monkeypatch, errors_logged):
    job = _job_held(ada)

    hold = _run(job, monkeypatch, raises=BadInput("the data has one class"))

    assert hold.state == Hold.State.SETTLED and hold.charged > 0
    assert job.error == "the data has one class"
    assert errors_logged() == []


def test_a_stored_config_the_engine_refuses_is_the_users_too(ada, monkeypatch, errors_logged):
    job = _job_held(ada)
    DistillationJob.objects.filter(pk=job.pk).update(engine_config={"teacher": "catalog:digits-mlp", "epochs": 10**9})

    hold = _run(job, monkeypatch)

    assert hold.state == Hold.State.SETTLED
    assert job.error.startswith("epochs: ")
    assert errors_logged() == []


def test_a_platform_failure_is_still_refunded(ada, monkeypatch, caplog):
    job = _job_held(ada)

    hold = _run(job, monkeypatch, raises=RuntimeError("disk full"))

    assert hold.state == Hold.State.REFUNDED
    assert "refunded" in job.error


# --- item 7: the API speaks JSON


def test_an_api_list_asked_for_html_answers_json(api, errors_logged):
    response = api.get("/api/v1/ledger/entries/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "results" in response.json()
    assert errors_logged() == []


@pytest.mark.parametrize("path", ["/api/v1/ledger/entries/", "/api/v1/distillations/", f"/api/v1/distillations/{uuid.uuid4()}/"])
def test_an_api_error_asked_for_html_is_json_in_the_error_shape(anonymous, errors_logged, path):
    response = anonymous.get(path, HTTP_ACCEPT="text/html,application/xhtml+xml")

    assert_refused(response, 401, errors_logged)


def test_the_api_docs_stay_a_page_and_the_schema_stays_negotiable(anonymous):
    assert anonymous.get("/api/docs/", HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "paths" in schema.json()


# --- item 8: malformed requests


def _json_routes() -> list[tuple[str, str]]:
    """(method, path) of every route whose request body the OpenAPI schema gives as JSON."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                routes.append((method.upper(), path.replace("{", "<").replace("}", ">")))
    return routes


def _concrete(path: str) -> str:
    return re.sub(r"<[^>]+>", str(uuid.uuid4()), path)


def test_the_schema_lists_the_json_routes_this_suite_relies_on(db):
    routes = _json_routes()

    assert ("POST", "/api/v1/auth/token/") in routes and ("POST", "/api/v1/distillations/") in routes
    assert len(routes) >= 10


# The malformed bodies of item 8, on every JSON route (tests/test_hostile_bodies.py generates the
# rest: wrong types, sizes and encodings per field of each operation).
MALFORMED_BODIES = {
    "nested-past-recursion-limit": NESTED_DEEP,
    "nested-100-levels": NESTED,
    "lone-surrogate": '{"username": "\\ud800", "to": "\\udc00", "memo": "\\ud800", "teacher_model": "\\ud800"}',
    "nan": '{"amount": NaN, "budget_ftns": Infinity}',
    "5000-digit-number": '{"amount": ' + "9" * 5000 + ', "budget_ftns": ' + "9" * 5000 + "}",
    "not-utf8": b'{"username": "\xff\xfe"}',
    "over-2.5MB": json.dumps({"memo": "x" * 2_700_000}),
}


@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
def test_a_malformed_body_is_a_4xx_in_the_error_shape_on_every_json_route(api, anonymous, errors_logged, name):
    """Every route the OpenAPI schema gives a JSON body, signed in and not (ids are random: a route
    that looks its object up first answers 404 before it reads the body, which is a 4xx too)."""
    for method, path in _json_routes():
        for client in (api, anonymous):
            response = client.generic(method, _concrete(path), MALFORMED_BODIES[name], content_type="application/json",
                                      HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
            assert 400 <= response.status_code < 500, (method, path, response.status_code, response.content[:300])
            assert set(response.json()["error"]) >= {"code", "message"}
    assert errors_logged() == []


def test_deeply_nested_json_to_the_token_route_without_logging_in_is_a_parse_error(anonymous, errors_logged):
    error = assert_refused(post_raw(anonymous, "/api/v1/auth/token/", NESTED_DEEP), 400, errors_logged)

    assert error["code"] == "parse_error" and "nested" in error["message"]


def test_a_multipart_form_with_more_than_1000_fields_is_a_400(api, errors_logged):
    body = "".join(f'--B\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\n1\r\n' for n in range(1001)) + "--B--\r\n"

    error = assert_refused(post_raw(api, "/api/v1/datasets/", body, "multipart/form-data; boundary=B"), 400, errors_logged)

    assert "too many fields" in error["message"]


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", "&".join(f"f{n}=1" for n in range(1001))),
    ("multipart/form-data; boundary=B", '--B\r\nContent-Disposition: form-data; name="username"\r\n\r\nada\r\n--B--\r\n'),
    ("text/plain", '{"username": "ada", "password": "x"}'),
], ids=["urlencoded", "multipart", "text"])
def test_a_body_that_is_not_json_on_a_json_route_is_a_415_naming_json(anonymous, errors_logged, content_type, body):
    """JSON routes read JSON alone (the schema declares one body kind), however large the form."""
    error = assert_refused(post_raw(anonymous, "/api/v1/auth/token/", body, content_type), 415, errors_logged)

    assert error["code"] == "unsupported_media_type" and error["message"].endswith("This route reads application/json.")


def test_more_than_1000_query_parameters_on_an_api_route_is_a_400(anonymous, errors_logged):
    query = "&".join(f"q{n}=1" for n in range(1001))

    assert_refused(anonymous.get(f"/api/v1/marketplace/models/?{query}"), 400, errors_logged)


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/distillations/", "/api/v1/ledger/transfers/"])
def test_a_json_body_over_2_5_mb_is_a_413(api, errors_logged, path):
    body = json.dumps({"username": "x" * (2_621_440 + 10), "password": "x"})

    error = assert_refused(post_raw(api, path, body, HTTP_IDEMPOTENCY_KEY="k1"), 413, errors_logged)

    assert error["code"] == "too_large"


@pytest.mark.parametrize("query", ["limit=" + "9" * 23, "offset=" + "9" * 23, "limit=-1", "limit=abc", "limit=0"])
def test_paging_out_of_range_on_a_public_list_is_a_400_naming_the_parameter(anonymous, errors_logged, query):
    response = anonymous.get(f"/api/v1/marketplace/models/?{query}")

    assert_refused(response, 400, errors_logged, field=query.split("=")[0])


def test_paging_in_range_still_pages(api, errors_logged):
    response = api.get("/api/v1/ledger/entries/?limit=1&offset=0")

    assert response.status_code == 200 and len(response.json()["results"]) == 1
    assert_refused(api.get("/api/v1/ledger/entries/?offset=" + "9" * 23), 400, errors_logged, field="offset")


@pytest.mark.parametrize("body", [
    '{"username": "\\ud800", "password": "x"}', '{"\\udfff": 1}', '{"username": ["a", {"b": "\\ud83d"}]}',
], ids=["value", "key", "nested"])
def test_a_lone_surrogate_is_a_400(anonymous, errors_logged, body):
    error = assert_refused(post_raw(anonymous, "/api/v1/auth/token/", body), 400, errors_logged)

    assert "surrogate" in error["message"]


def test_a_lone_surrogate_does_not_poison_the_idempotency_key(ada, api, errors_logged):
    user_create(username="bob", password="correct horse battery", email="bob@example.com")
    ledger_services.ledger_deposit_post(user=ada, amount=10**7, external_reference="hostile-test")
    key = str(uuid.uuid4())

    first = post_raw(api, "/api/v1/ledger/transfers/", '{"to": "bob", "amount": "1", "memo": "\\ud800"}',
                     HTTP_IDEMPOTENCY_KEY=key)
    retry = api.post("/api/v1/ledger/transfers/", {"to": "bob", "amount": "1", "memo": "thanks"}, format="json",
                     HTTP_IDEMPOTENCY_KEY=key)

    assert_refused(first, 400, errors_logged)
    assert retry.status_code == 201, retry.content
    again = api.post("/api/v1/ledger/transfers/", {"to": "bob", "amount": "1", "memo": "thanks"}, format="json",
                     HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("body", ['{"a": NaN}', '{"a": Infinity}', '{"a": 1e400}', '{"a": ' + "9" * 5000 + "}",
                                  '{"a": ' + "1" * 100 + "}", b'{"a": "\xff"}', "", "{", "[1,]"])
def test_json_the_parser_cannot_take_is_a_400(anonymous, errors_logged, body):
    assert_refused(post_raw(anonymous, "/api/v1/auth/token/", body), 400, errors_logged)


@pytest.mark.parametrize("path", ["/api/v1/datasets/", "/api/v1/teachers/"])
def test_multipart_without_a_boundary_is_a_400_in_the_error_shape(api, errors_logged, path):
    error = assert_refused(post_raw(api, path, b"--x\r\n", "multipart/form-data"), 400, errors_logged)

    assert "boundary" in error["message"].lower()


def test_a_post_with_a_token_to_an_api_route_that_does_not_exist_is_a_json_404(api, errors_logged):
    error = assert_refused(api.post("/api/v1/no-such-route/", {"a": 1}, format="json"), 404, errors_logged)

    assert error["code"] == "not_found"


def test_a_post_with_a_session_to_an_api_route_that_does_not_exist_is_a_json_404(ada, errors_logged):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(ada)

    assert_refused(client.post("/api/v1/no-such-route/", {"a": 1}), 404, errors_logged)


# --- item 6: `make up`'s defaults serve no debug page

_DEFAULTS_PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
client = Client(raise_request_exception=False)
answers = {"debug": settings.DEBUG}
for name, path, host in [("bad_host", "/", "evil.example"), ("bad_host_api", "/api/v1/distillations/", "evil.example"),
                         ("unknown_page", "/no-such-page/", "127.0.0.1"), ("unknown_api", "/api/nothing/", "127.0.0.1"),
                         ("static", "/static/css/site.css", "127.0.0.1")]:
    response = client.get(path, HTTP_HOST=host)
    body = b"".join(response) if response.streaming else response.content
    answers[name] = [response.status_code, response["Content-Type"], body.decode(errors="replace")[:20000]]
print(json.dumps(answers))
"""


def test_the_default_settings_serve_no_debug_page_and_still_serve_static_files():
    env = {name: value for name, value in os.environ.items() if name not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = "prsm_site.settings.base"  # what `make up` runs (Procfile, asgi.py)
    result = subprocess.run([sys.executable, "-c", _DEFAULTS_PROBE], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])

    assert answers["debug"] is False
    for name in ("bad_host", "bad_host_api", "unknown_page", "unknown_api"):
        status, _, body = answers[name]
        assert status in (400, 404), (name, status)
        for leak in ("Traceback", "DATABASE_URL", "BROKER_URL", "SECRET_KEY", "URLconf", "DEBUG = True"):
            assert leak not in body, (name, leak)
    assert answers["bad_host_api"][1] == "application/json" and "error" in json.loads(answers["bad_host_api"][2])
    assert answers["static"][0] == 200 and answers["static"][1].startswith("text/css")
    assert "DisallowedHost" in result.stderr  # logged as the client's doing: one warning line
    assert "Traceback" not in result.stderr and " ERROR " not in result.stderr, result.stderr
