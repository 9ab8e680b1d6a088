"""Jobs whose teacher is reached over HTTP (``gpt-4``, ``openai:MODEL``, ``endpoint:URL``): refused
with what to configure, accepted with a user's saved provider key (which never reaches the job's
config, estimate or logs), the address allow-list at creation, the token price in the estimate and
the charge, and the provider-credential API."""

import json
import logging

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import ProviderCredential
from accounts.services import user_create
from distillation import services
from distillation.http_teachers import run_secrets
from distillation.models import DistillationJob
from ledger import pricing

pytestmark = pytest.mark.django_db

KEY = "sk-test-0123456789-wxyz"
JOB = {"teacher_model": "gpt-4", "dataset": "builtin:movie-reviews", "domain": "sentiment", "budget_ftns": 1000,
       "epochs": 2}


@pytest.fixture
def ada(settings):
    settings.PRSM_OPENAI_BASE_URL, settings.PRSM_OPENAI_API_KEY = "", ""
    settings.PRSM_TEACHER_HOSTS_ALLOW = []
    settings.PRSM_TEACHER_PRICE_PER_1K_TOKENS_UNITS = 1000
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api, user


def test_gpt_4_without_a_provider_is_refused_naming_what_to_configure(ada):
    api, _ = ada
    answer = api.post("/api/v1/distillations/", JOB, format="json")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["field"] == "teacher_model"
    assert "PRSM_OPENAI_BASE_URL" in error["message"] and "PRSM_OPENAI_API_KEY" in error["message"]
    assert "/api/v1/auth/providers/" in error["message"] and "openai:gpt-4" in error["message"]
    assert not DistillationJob.objects.exists()


def test_with_a_saved_key_the_job_is_accepted_and_the_key_is_kept_out_of_it(ada, settings, caplog):
    api, user = ada
    settings.PRSM_TEACHER_HOSTS_ALLOW = ["127.0.0.1"]
    caplog.set_level(logging.DEBUG)
    saved = api.post("/api/v1/auth/providers/", {"base_url": "http://127.0.0.1:9/v1", "key": KEY}, format="json")
    assert saved.status_code == 201, saved.content
    answer = api.post("/api/v1/distillations/", JOB, format="json")
    assert answer.status_code == 201, answer.content
    job = DistillationJob.objects.get()
    assert job.engine_config["teacher"] == "openai:gpt-4" and job.backend == "transformers"
    assert job.engine_config["teacher_http"]["base_url"] == "http://127.0.0.1:9/v1"
    assert job.engine_config["student_base"] == "builtin:all-minilm-l6-v2"
    stored = json.dumps([job.engine_config, job.request, job.estimate, answer.json()])
    assert KEY not in stored and KEY[-4:] not in stored
    assert KEY not in caplog.text
    assert KEY not in ProviderCredential.objects.get().key_encrypted
    # the worker gets the key in memory, at run time
    assert run_secrets(config=job.engine_config, owner=user) == {"api_key": KEY}


def test_the_estimate_and_the_charge_include_the_teachers_tokens(ada, settings):
    api, user = ada
    settings.PRSM_TEACHER_HOSTS_ALLOW = ["127.0.0.0/8"]
    api.post("/api/v1/auth/providers/", {"base_url": "http://127.0.0.1:9/v1", "key": KEY}, format="json")
    estimate = api.post("/api/v1/distillations/estimate/", JOB, format="json").json()
    tokens = estimate["teacher_http"]["token_units_estimated"]
    assert tokens > 0 and estimate["teacher_http"]["provider"] == "user"
    assert estimate["breakdown_units"]["teacher_fees"] == [pricing.TEACHER_ACCESS_FEE + tokens]
    charged = services._measured_cost({"stages": {"train": {"seconds": 36}},
                                       "teacher": {"usage": {"cost_units": 1234}}})
    assert charged.teacher_fees == (pricing.TEACHER_ACCESS_FEE + 1234,)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9/v1", "http://10.0.0.5/v1", "http://169.254.169.254/v1"])
def test_a_private_provider_address_is_refused_at_creation(ada, base_url):
    api, _ = ada
    api.post("/api/v1/auth/providers/", {"base_url": base_url, "key": KEY}, format="json")
    answer = api.post("/api/v1/distillations/", JOB, format="json")
    assert answer.status_code == 400, answer.content
    assert "PRSM_TEACHER_HOSTS_ALLOW" in answer.json()["error"]["message"]
    assert not DistillationJob.objects.exists()


def test_an_endpoint_teacher_on_a_loopback_address_is_refused_unless_allowed(ada, settings):
    api, _ = ada
    job = {**JOB, "teacher_model": "endpoint:http://localhost:8000/api/v1/models/abc/predict/"}
    refused = api.post("/api/v1/distillations/", job, format="json")
    assert refused.status_code == 400 and "loopback" in refused.json()["error"]["message"]
    settings.PRSM_TEACHER_HOSTS_ALLOW = ["localhost"]
    accepted = api.post("/api/v1/distillations/", job, format="json")
    assert accepted.status_code == 201, accepted.content
    assert DistillationJob.objects.get().engine_config["teacher"] == job["teacher_model"]


def test_the_operators_provider_serves_users_without_a_key(ada, settings):
    api, user = ada
    settings.PRSM_OPENAI_BASE_URL, settings.PRSM_OPENAI_API_KEY = "http://127.0.0.1:9/v1", "sk-operator-key"
    settings.PRSM_TEACHER_HOSTS_ALLOW = ["127.0.0.1"]
    answer = api.post("/api/v1/distillations/", {**JOB, "teacher_model": "openai:gpt-4o-mini"}, format="json")
    assert answer.status_code == 201, answer.content
    job = DistillationJob.objects.get()
    assert "sk-operator-key" not in json.dumps([job.engine_config, job.estimate])
    assert run_secrets(config=job.engine_config, owner=user) == {"api_key": "sk-operator-key"}


def test_the_provider_api_never_shows_a_key_again(ada):
    api, _ = ada
    made = api.post("/api/v1/auth/providers/", {"name": "openai", "base_url": "https://api.openai.com/v1", "key": KEY},
                    format="json")
    assert made.status_code == 201 and KEY not in made.content.decode()
    assert made.json()["key_last4"] == "wxyz"
    listed = api.get("/api/v1/auth/providers/")
    assert listed.status_code == 200 and KEY not in listed.content.decode()
    assert [c["name"] for c in listed.json()] == ["openai"] and "key" not in listed.json()[0]
    bad = api.post("/api/v1/auth/providers/", {"base_url": "ftp://x.example", "key": KEY}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "base_url"
    assert api.delete("/api/v1/auth/providers/?name=openai").status_code == 204
    assert api.get("/api/v1/auth/providers/").json() == []
    assert api.delete("/api/v1/auth/providers/?name=openai").status_code == 404
    for hostile in ("a%00b", "x" * 61):  # found by schemathesis on PostgreSQL: a NUL was a 500 there
        refused = api.delete(f"/api/v1/auth/providers/?name={hostile}")
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "name", refused.content


def test_another_users_key_is_never_used(ada, settings):
    api, _ = ada
    settings.PRSM_TEACHER_HOSTS_ALLOW = ["127.0.0.1"]
    api.post("/api/v1/auth/providers/", {"base_url": "http://127.0.0.1:9/v1", "key": KEY}, format="json")
    bob = user_create(username="bob", password="correct horse battery", email="bob@example.com")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    assert other.get("/api/v1/auth/providers/").json() == []
    assert other.post("/api/v1/distillations/", JOB, format="json").status_code == 400


def test_the_account_page_saves_and_removes_a_provider_key_without_showing_it(client):
    from django.urls import reverse

    user = user_create(username="cy", password="correct horse battery", email="cy@example.com")
    client.force_login(user)
    saved = client.post(reverse("accounts:provider-save"), {"name": "openai", "base_url": "https://api.openai.com/v1",
                                                            "key": KEY})
    assert saved.status_code == 302
    page = client.get(reverse("account")).content.decode()
    assert "Teacher providers" in page and "…wxyz" in page and KEY not in page
    refused = client.post(reverse("accounts:provider-save"), {"name": "x", "base_url": "nope", "key": KEY})
    assert refused.status_code == 400 and KEY not in refused.content.decode()
    assert client.post(reverse("accounts:provider-delete", args=["openai"])).status_code == 302
    assert not ProviderCredential.objects.filter(user=user).exists()
