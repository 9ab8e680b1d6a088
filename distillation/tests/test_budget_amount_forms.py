"""budget_ftns takes the ledger's one form of an amount (a JSON number or ASCII digits), in whole FTNS."""

import pytest

from distillation.models import DistillationJob

from .test_uploads_fixtures import api_for

GOOD = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "epochs": 2}


@pytest.fixture
def ada(catalog_home, db):
    return api_for("ada")


@pytest.mark.parametrize("budget", ["٣", "１", "1_000", "1e3", " 1000", "+1000", True])
def test_a_budget_in_another_form_is_a_400_naming_it_and_creates_nothing(ada, budget):
    api, _ = ada
    for route in ("/api/v1/distillations/estimate/", "/api/v1/distillations/"):
        response = api.post(route, {**GOOD, "budget_ftns": budget}, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["field"] == "budget_ftns"
    assert not DistillationJob.objects.exists()


@pytest.mark.parametrize("budget", [1000, 1000.0, "1000", "1000.0"])
def test_a_budget_as_a_json_number_or_ascii_digits_is_read(ada, budget):
    api, _ = ada
    response = api.post("/api/v1/distillations/estimate/", {**GOOD, "budget_ftns": budget}, format="json")
    assert response.status_code == 200, response.content
