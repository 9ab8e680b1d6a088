"""My models (/models/) and listing from the job page, through Django's test client."""

import pytest

from distillation.models import DeployedModel
from distillation.services import job_deploy
from ledger.amounts import UNITS_PER_FTNS
from marketplace.models import Listing

pytestmark = pytest.mark.django_db

LISTING = {"title": "Digits, small", "description": "A digits classifier.", "price_buy": "12.5", "price_rent": "",
           "rent_period_days": "30"}


def test_my_models_shows_each_deployed_model_with_its_figures_export_and_listing(client, make_user, completed_job, listed):
    ada = make_user("ada")
    unlisted = job_deploy(job=completed_job(ada, retention=0.9))
    listing = listed(ada, title="digits for sale", buy=10, rent=None)
    client.force_login(ada)

    body = client.get("/models/").content.decode()

    assert body.count("<tr data-model-id=") == 2
    assert body.index(str(listing.deployment.model_id)) < body.index(str(unlisted.model_id))  # newest first
    row = body.split(f'<tr data-model-id="{unlisted.model_id}">', 1)[1].split("</tr>", 1)[0]
    assert "90.0%" in row and "8.0×" in row and "3.5×" in row
    assert f'href="/api/v1/distillations/{unlisted.job.job_id}/artifacts/onnx/download/"' in row
    assert "not listed" in row and f'href="/jobs/{unlisted.job.job_id}/#list-form"' in row
    listed_row = body.split(f'<tr data-model-id="{listing.deployment.model_id}">', 1)[1].split("</tr>", 1)[0]
    assert ">active</span> digits for sale · 10.00 FTNS" in listed_row


def test_my_models_shows_only_my_own_and_points_a_newcomer_to_the_jobs(client, make_user, completed_job):
    job_deploy(job=completed_job(make_user("ada")))
    client.force_login(make_user("eve"))

    body = client.get("/models/").content.decode()

    assert "<tr data-model-id=" not in body and 'id="models-empty"' in body
    assert 'href="/jobs/?status=completed"' in body


def test_the_job_pages_listing_form_deploys_and_lists_at_the_given_price(client, make_user, completed_job):
    ada = make_user("ada")
    job = completed_job(ada)
    client.force_login(ada)

    response = client.post(f"/marketplace/jobs/{job.job_id}/list/", LISTING, follow=True)

    listing = Listing.objects.get(deployment__job=job)
    assert (listing.title, listing.price_buy, listing.price_rent) == ("Digits, small", 12_500_000, None)
    body = response.content.decode()
    assert "Listed on the marketplace as “Digits, small”." in body and 'id="listed"' in body
    assert 'id="list-form"' not in body
    assert ">active</span> Digits, small · 12.50 FTNS" in client.get("/models/").content.decode()


def test_a_listing_request_without_a_price_is_shown_beside_the_form_and_nothing_is_deployed(client, make_user, completed_job):
    ada = make_user("ada")
    job = completed_job(ada)
    client.force_login(ada)

    response = client.post(f"/marketplace/jobs/{job.job_id}/list/", {**LISTING, "price_buy": ""})

    assert response.status_code == 400
    assert "Give a price to buy, to rent, or both." in response.content.decode()
    assert not DeployedModel.objects.filter(job=job).exists()


def test_a_refused_listing_leaves_no_deployment_behind(client, make_user, completed_job):
    ada = make_user("ada")
    job = completed_job(ada, request={"revenue_sharing": 0.95})
    client.force_login(ada)

    response = client.post(f"/marketplace/jobs/{job.job_id}/list/", LISTING)

    assert response.status_code == 409
    assert "revenue_sharing 0.95 is over" in response.content.decode()
    assert not DeployedModel.objects.filter(job=job).exists() and not Listing.objects.exists()


def test_a_request_that_asked_for_a_listing_takes_the_forms_terms(client, make_user, completed_job):
    ada = make_user("ada")
    job = completed_job(ada, request={"marketplace_listing": True})
    client.force_login(ada)

    client.post(f"/marketplace/jobs/{job.job_id}/deploy/", {"export_format": "onnx"})
    listing = Listing.objects.get(deployment__job=job)  # listed at deploy, with the default prices
    client.post(f"/marketplace/jobs/{job.job_id}/list/", {**LISTING, "price_rent": "3"})

    listing.refresh_from_db()
    assert (listing.title, listing.price_buy, listing.price_rent) == ("Digits, small", 12_500_000, 3 * UNITS_PER_FTNS)


def test_visitors_are_sent_to_log_in_and_others_jobs_are_a_404(client, make_user, completed_job):
    job = completed_job(make_user("ada"))

    response = client.get("/models/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(f"/marketplace/jobs/{job.job_id}/list/", LISTING).status_code == 302

    client.force_login(make_user("eve"))
    assert client.post(f"/marketplace/jobs/{job.job_id}/list/", LISTING).status_code == 404
    assert not DeployedModel.objects.exists()
