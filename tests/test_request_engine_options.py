"""How the student learns, asked for in the request (as the CLI's flags ask it): temperature, alpha,
a transfer set, text variants, a vocabulary cap and a student base reach the engine's config; the
engine's rules on combining them are refused naming the field; a server reads no local paths."""

import pytest
from pydantic import ValidationError

from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from prsm.planning import STUDENT_BASES, request_to_config
from prsm.request import DistillationRequest, request_errors


def _errors(**fields) -> list[dict]:
    with pytest.raises(ValidationError) as refused:
        DistillationRequest(teacher_model="catalog:sentiment-minilm", **fields)
    return request_errors(refused.value)


def test_the_options_reach_the_engine_config_and_defaults_stay_the_engines():
    request = DistillationRequest(teacher_model="catalog:sentiment-minilm", temperature=2, alpha=0.5,
                                  unlabelled_data="builtin:review-snippets", max_unlabelled_examples=500,
                                  text_variants=2, vocabulary_size=8000, student_base="builtin:all-minilm-l6-v2")
    config = request_to_config(request, teacher="catalog:sentiment-minilm", dataset="builtin:movie-reviews",
                               backend="transformers", epochs=1)
    assert {name: config[name] for name in request.engine_options()} == {
        "temperature": 2.0, "alpha": 0.5, "unlabelled_data": "builtin:review-snippets", "max_unlabelled_examples": 500,
        "text_variants": 2, "vocabulary_size": 8000, "student_base": "builtin:all-minilm-l6-v2"}

    plain = request_to_config(DistillationRequest(teacher_model="catalog:digits-mlp"), teacher="t", dataset="d",
                              backend="pytorch", epochs=1)
    assert (plain["temperature"], plain["alpha"], plain["unlabelled_data"]) == (None, None, None)  # the search's
    assert (plain["search"], plain["search_seconds"]) == ("quick", None)


def test_a_server_path_can_replace_the_transfer_set_reference():
    request = DistillationRequest(teacher_model="catalog:digits-mlp", unlabelled_data="a-dataset-id")
    config = request_to_config(request, teacher="t", dataset="d", backend="pytorch", epochs=1,
                               overrides={"unlabelled_data": "/media/uploads/datasets/x/data.csv"})
    assert config["unlabelled_data"] == "/media/uploads/datasets/x/data.csv"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"alpha": 0, "unlabelled_data": "builtin:review-snippets"}, "unlabelled_data", "alpha > 0"),
    ({"alpha": 0, "text_variants": 2}, "text_variants", "alpha > 0"),
    ({"student_base": "builtin:all-minilm-l6-v2", "augmentation_techniques": ["token_mask"]}, "student_base", "text_variants"),
    ({"temperature": 0}, "temperature", "greater than 0"),
    ({"alpha": 1.5}, "alpha", "less than or equal to 1"),
    ({"vocabulary_size": 1}, "vocabulary_size", "greater than or equal to 2"),
])
def test_what_the_engine_refuses_is_refused_naming_the_field(fields, field, words):
    errors = _errors(**fields)
    assert errors[0]["field"] == field and words in errors[0]["message"], errors


def test_the_servers_student_bases_are_the_packaged_ones():
    from prsm.engine.backends.transformers.bases import BUILTIN

    assert set(STUDENT_BASES) == set(BUILTIN)


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), [
    ({"unlabelled_data": "/etc/passwd"}, "unlabelled_data"),
    ({"unlabelled_data": "builtin:no-such-set"}, "unlabelled_data"),
    ({"student_base": "/home/someone/model"}, "student_base"),
])
def test_a_server_refuses_local_paths_and_unknown_sets(api_client, fields, field, catalog_home):  # noqa: F811
    from accounts.services import user_create

    api_client.force_authenticate(user_create(username="ada", password="correct horse battery", email="a@example.com"))
    response = api_client.post("/api/v1/distillations/estimate/", {"teacher_model": "catalog:digits-mlp", **fields},
                               format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["field"] == field
