"""The search for the best student, asked for in the request: ``search`` and ``search_seconds``
reach the engine's config only when given (the engine's own default, quick, otherwise); bad values
are refused naming the field, by the request and by the REST API; the schema documents both."""

import pytest
from pydantic import ValidationError

from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from prsm.planning import request_to_config
from prsm.request import MAX_SEARCH_SECONDS, DistillationRequest, request_errors

TEACHER = "catalog:digits-mlp"


def _config(**fields) -> dict:
    request = DistillationRequest(teacher_model=TEACHER, **fields)
    return request_to_config(request, teacher=TEACHER, dataset="builtin:digits", backend="pytorch", epochs=2)


def test_search_and_its_time_limit_reach_the_engine_config():
    assert DistillationRequest(teacher_model=TEACHER, search="thorough", search_seconds=90).engine_options() == {
        "search": "thorough", "search_seconds": 90.0}
    config = _config(search="thorough", search_seconds=90)
    assert (config["search"], config["search_seconds"]) == ("thorough", 90.0)
    assert _config(search="off", temperature=2, alpha=0.5)["search"] == "off"


def test_left_out_the_engine_chooses_quick_and_the_settings_are_the_searchs():
    assert DistillationRequest(teacher_model=TEACHER).engine_options() == {}
    config = _config()
    assert (config["search"], config["search_seconds"], config["temperature"], config["alpha"]) == ("quick", None, None, None)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"search": "fast"}, "search", "'off', 'quick' or 'thorough'"),
    ({"search": 1}, "search", "'off', 'quick' or 'thorough'"),
    ({"search_seconds": 0}, "search_seconds", "greater than 0"),
    ({"search_seconds": -5}, "search_seconds", "greater than 0"),
    ({"search_seconds": MAX_SEARCH_SECONDS * 2}, "search_seconds", "less than or equal to 86400"),
    ({"search_seconds": "nan"}, "search_seconds", "finite number"),
    ({"search_seconds": "a minute"}, "search_seconds", "valid number"),
    ({"search": "off", "search_seconds": 60}, "search_seconds", "no search to limit"),
])
def test_bad_search_values_are_refused_naming_the_field(fields, field, words):
    with pytest.raises(ValidationError) as refused:
        DistillationRequest(teacher_model=TEACHER, **fields)
    error = request_errors(refused.value)[0]
    assert error["field"] == field and words in error["message"], error


@pytest.fixture
def api(api_client, catalog_home):  # noqa: F811
    from accounts.services import user_create

    api_client.force_authenticate(user_create(username="ada", password="correct horse battery", email="a@example.com"))
    return api_client


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), [
    ({"search": "exhaustive"}, "search"),
    ({"search_seconds": 0}, "search_seconds"),
    ({"search_seconds": "1e9"}, "search_seconds"),
    ({"search": "off", "search_seconds": 30}, "search_seconds"),
])
def test_the_api_refuses_bad_search_values_naming_the_field(api, fields, field):
    for route in ("/api/v1/distillations/estimate/", "/api/v1/distillations/"):
        response = api.post(route, {"teacher_model": TEACHER, **fields}, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["error"]["field"] == field


@pytest.mark.django_db
def test_a_job_asked_to_search_thoroughly_has_it_in_its_engine_config(api):
    from distillation.models import DistillationJob

    response = api.post("/api/v1/distillations/", {"teacher_model": TEACHER, "epochs": 2, "search": "thorough",
                                                   "search_seconds": 45}, format="json")

    assert response.status_code == 201, response.json()
    job = DistillationJob.objects.get(job_id=response.json()["job_id"])
    assert (job.engine_config["search"], job.engine_config["search_seconds"]) == ("thorough", 45.0)
    assert response.json()["estimate"]["search"] == "thorough"


@pytest.mark.django_db
def test_the_schema_documents_search_and_its_time_limit(api):
    schemas = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    body = schemas["DistillationRequest"]["properties"]
    levels = schemas[body["search"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]

    assert levels["enum"] == ["off", "quick", "thorough"] and "adds time" in body["search"]["description"]
    assert body["search_seconds"]["maximum"] == MAX_SEARCH_SECONDS and "trial" in body["search_seconds"]["description"]
    assert "chosen by the search" in body["temperature"]["description"]
