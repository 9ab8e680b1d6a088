"""A deployed model is listed by its owner, or at deploy when the request asked; never while its breaker is tripped."""

from safety import services as safety
from safety.models import SafetyReport

from .conftest import check


def test_the_owner_lists_a_deployed_model_with_prices_in_ftns(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner)
    api = api_for(owner)
    model_id = api.post(f"/api/v1/distillations/{job.job_id}/deploy/").json()["model_id"]
    response = api.post("/api/v1/marketplace/models/", {"model_id": model_id, "title": "Digits, small",
                                                        "price_buy": "12.5", "price_rent": "1"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["price_buy_units"], body["price_rent_units"], body["status"]) == (12_500_000, 1_000_000, "active")
    assert body["lineage"]["data_sha256"] == "d" * 64 and body["lineage"]["teachers"] == ["catalog:digits-mlp"]
    assert body["benchmarks"]["speedup"] == 3.5 and body["exports"] == ["onnx"]
    again = api.post("/api/v1/marketplace/models/", {"model_id": model_id, "price_buy": "1"}, format="json")
    assert again.status_code == 409


def test_someone_else_cannot_list_your_model(make_user, api_for, completed_job):
    job = completed_job(make_user("ada"))
    model_id = api_for(job.owner).post(f"/api/v1/distillations/{job.job_id}/deploy/").json()["model_id"]
    response = api_for(make_user("eve")).post("/api/v1/marketplace/models/", {"model_id": model_id, "price_buy": "1"},
                                              format="json")
    assert response.status_code == 404


def test_marketplace_listing_in_the_request_lists_the_model_at_deploy(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner, request={"marketplace_listing": True})
    deployed = api_for(owner).post(f"/api/v1/distillations/{job.job_id}/deploy/").json()
    listing = api_for(make_user("bob")).get(f"/api/v1/marketplace/models/{deployed['listing_id']}/")
    assert listing.status_code == 200 and listing.json()["model_id"] == deployed["model_id"]


def test_listing_is_409_while_the_breaker_is_tripped_and_allowed_once_a_moderator_approves(make_user, api_for,
                                                                                           completed_job):
    from distillation.models import DeployedModel
    from marketplace import services

    owner, moderator = make_user("ada"), make_user("mo", moderator=True)
    job = completed_job(owner, checks={"calibration": check(True)})
    deployment = DeployedModel.objects.create(job=job, artifact=job.artifacts.get())
    # the breaker trips after deploy (e.g. a check re-run): listing must wait for a moderator
    SafetyReport.objects.filter(job=job).update(breaker_state="tripped", failed_checks=["calibration"],
                                                     reason="calibration: ECE 0.3")
    refused = api_for(owner).post("/api/v1/marketplace/models/", {"model_id": str(deployment.model_id), "price_buy": "5"},
                       format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict" and "moderator" in refused.json()["error"]["message"]

    safety.safety_report_decide(report=job.safety_report, moderator=moderator, approve=True, reason="looked fine")
    assert services.listing_create(owner=owner, deployment=deployment, price_buy=5).status == "active"


def test_a_tripped_job_with_marketplace_listing_is_neither_deployed_nor_listed(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner, request={"marketplace_listing": True}, checks={"fairness": check(False)})
    response = api_for(owner).post(f"/api/v1/distillations/{job.job_id}/deploy/")
    assert response.status_code == 409
    from marketplace.models import Listing

    assert not Listing.objects.exists()


def test_the_list_form_shows_the_category_and_recommended_price_before_listing(client, make_user, completed_job):
    from marketplace import services

    owner = make_user("ada")
    job = completed_job(owner)
    client.force_login(owner)
    body = client.get(f"/jobs/{job.job_id}/").content.decode()
    advice = services.listing_price_advice(job=job, category="image/digits")
    assert 'id="list-advice" data-category="image/digits"' in body and f'data-recommended-buy="{advice.buy}"' in body
    assert "Image · handwritten digits" in body and "comparable listings" in body
