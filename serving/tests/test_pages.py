"""The serving pages through Django's test client: "try it" (the fragment htmx loads on the job page and a
listing, and its own page without JS) for each kind of model and each kind of caller, and My models
(/models/) with its serving figures, undeploy and deploy again. The model is a real distilled digits
export, run in this process by the serving library's own ``ServedModel`` (the pool's processes are what the
browser test and the predict API tests start)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import ClassVar

import pytest

from core import clock
from distillation.models import DistillationJob
from ledger.amounts import UNITS_PER_FTNS
from marketplace import services as marketplace
from marketplace.models import Purchase
from prsm.serving.model import ServedModel
from serving import services
from serving.models import Prediction

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class InProcessClient:
    """The pool's client interface, answered by ``ServedModel`` in this process; records what it was sent."""

    sent: ClassVar[list] = []

    def __init__(self, *args, **kwargs):
        pass

    def predict(self, key, path, inputs, version=""):
        InProcessClient.sent.append(inputs)
        return ServedModel.load(path).predict(inputs)

    def unload(self, key):
        return None


@pytest.fixture(autouse=True)
def in_process_serving(monkeypatch):
    InProcessClient.sent = []
    monkeypatch.setattr(services, "serving_client", InProcessClient)
    return InProcessClient


@pytest.fixture
def deployed(served_job):
    def make(owner, *, listed=False, **request):
        job = served_job(owner, **request)
        deployment = marketplace.job_deploy_and_list(job=job)
        if listed:
            marketplace.listing_create(owner=owner, deployment=deployment, title="Digits", description="Handwritten digits.",
                                       price_buy=5 * UNITS_PER_FTNS, price_rent=None)
        deployment.refresh_from_db()
        return deployment

    return make


def _row(index=0) -> str:
    from prsm.engine.data.builtin import load_builtin

    return ",".join(f"{value:g}" for value in load_builtin("digits").features[index])


def _try(client, deployment, data, **extra):
    return client.post(f"/models/{deployment.model_id}/try/", data, **{**HTMX, **extra})


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_owner_fills_a_feature_row_and_sees_the_label_its_probabilities_and_the_version(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)

    form = client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    assert "<html" not in form and 'id="try-it-form"' in form
    assert form.count("data-feature=") == 64 and 'name="csv_row"' in form
    assert "free tries" not in form  # the owner's own model has no quota

    response = _try(client, deployment, {"csv_row": _row(0)})

    body = _text(response)
    assert response.status_code == 200, body
    label = re.search(r'id="try-it-label">([^<]+)<', body)[1]
    assert InProcessClient.sent[-1] == [[float(v) for v in _row(0).split(",")]]
    chart = json.loads(re.search(r'data-series="([^"]+)"', response.content.decode())[1].replace("&quot;", '"'))
    bars = chart["series"][0]
    assert bars["orientation"] == "h" and len(bars["y"]) == 10 and bars["y"][0] == label
    assert abs(sum(bars["x"]) - 1) < 1e-3 and bars["x"] == sorted(bars["x"], reverse=True)
    assert body.count("<tr><th scope=\"row\">") == 10  # the same figures as a table
    assert f"<code>{deployment.serving_artifact.format}:{deployment.serving_artifact.sha256[:12]}</code>" in body
    assert re.search(r'id="try-it-latency">\d+</span> ms', body)
    prediction = Prediction.objects.get()
    assert (prediction.caller, prediction.source, prediction.access, prediction.inputs) == (ada, "try", "owner", 1)


def test_typed_feature_values_work_as_a_pasted_row_does(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)
    values = [float(v) for v in _row(3).split(",")]

    response = _try(client, deployment, {f"feature_{i}": value for i, value in enumerate(values)})

    assert 'id="try-it-label"' in response.content.decode()
    assert InProcessClient.sent[-1] == [values]


def test_a_bad_row_is_named_beside_the_form_and_nothing_is_metered(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)

    short = _text(_try(client, deployment, {"csv_row": "1,2,3"}))
    words = _text(_try(client, deployment, {"csv_row": "1,two,3"}))
    empty = _text(_try(client, deployment, {"feature_0": "1"}))

    assert "The row has 3 values; the model takes 64." in short
    assert "Value 2 (&#x27;two&#x27;) is not a number." in words
    assert "Give a value for every feature (63 empty: feature 2, feature 3, feature 4…), or paste a CSV row." in empty
    assert 'id="try-it-label"' not in short + words + empty and not Prediction.objects.exists()


def test_a_refusal_of_the_service_is_shown_in_its_own_words(client, make_user, deployed, monkeypatch):
    from serving.errors import ServingDown

    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)

    def down(**kwargs):
        raise ServingDown("The serving pool is not answering: no worker socket")

    monkeypatch.setattr(services, "model_predict", down)
    response = _try(client, deployment, {"csv_row": _row(0)})

    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert re.search(r'role="alert" id="try-it-error">.*The serving pool is not answering: no worker socket', _text(response))


def test_a_text_model_takes_a_textarea_and_an_image_model_a_picture(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)
    job = deployment.job

    DistillationJob.objects.filter(pk=job.pk).update(report={**job.report, "task": "text"})
    text_form = client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    assert "<textarea" in text_form and 'name="text"' in text_form and "data-feature" not in text_form

    image_report = {**job.report, "task": "image"}
    image_report["student"] = {**job.report["student"], "architecture": {
        "kind": "cnn", "config": {"image_size": [28, 28], "in_channels": 1}}}
    DistillationJob.objects.filter(pk=job.pk).update(report=image_report)
    image_form = client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    assert 'type="file" name="image"' in image_form and 'accept="image/png,image/jpeg"' in image_form
    assert 'enctype="multipart/form-data"' in image_form and "greyscale pictures of 28×28 pixels" in image_form

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = _try(client, deployment, {"image": SimpleUploadedFile("seven.png", b"\x89PNG not really", "image/png")})
    assert InProcessClient.sent[-1] == [b"\x89PNG not really"]  # the file's bytes go to the model as they came
    assert 'role="alert"' in response.content.decode()  # the digits model itself refuses a picture


def test_visitors_are_asked_to_sign_in_and_cannot_post(client, make_user, deployed):
    deployment = deployed(make_user("ada"), listed=True)
    listing_path = f"/marketplace/{deployment.listing.listing_id}/"

    body = client.get(f"/models/{deployment.model_id}/try/", HTTP_HX_CURRENT_URL=f"http://testserver{listing_path}",
                      **HTMX).content.decode()
    assert 'id="try-it-form"' not in body
    assert f'href="/accounts/login/?next=%2Fmarketplace%2F{deployment.listing.listing_id}%2F">sign in to try it</a>' in body

    response = client.post(f"/models/{deployment.model_id}/try/", {"csv_row": _row(0)})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    htmx = _try(client, deployment, {"csv_row": _row(0)}, HTTP_HX_CURRENT_URL=f"http://testserver{listing_path}")
    assert htmx["HX-Redirect"] == f"/accounts/login/?next=%2Fmarketplace%2F{deployment.listing.listing_id}%2F"
    assert not Prediction.objects.exists()


def test_an_unlisted_model_is_a_404_to_others_and_an_undeployed_one_answers_nothing(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(make_user("eve"))
    assert client.get(f"/models/{deployment.model_id}/try/", **HTMX).status_code == 404
    assert _try(client, deployment, {"csv_row": _row(0)}).status_code == 404

    services.model_undeploy(deployment=deployment)
    client.force_login(ada)
    body = client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    assert "This model is not deployed at the moment" in body and 'href="/models/">Deploy it again</a>' in body
    refused = _text(_try(client, deployment, {"csv_row": _row(0)}))
    assert "This model is not deployed at the moment" in refused and not Prediction.objects.exists()


def test_a_non_buyer_tries_within_the_daily_quota_until_it_is_spent(client, make_user, deployed, settings):
    settings.TRY_IT_FREE_PER_DAY = 2
    deployment = deployed(make_user("ada"), listed=True)
    eve = make_user("eve")
    client.force_login(eve)

    assert "2 of 2</strong> free tries left today" in client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    first = _text(_try(client, deployment, {"csv_row": _row(0)}))
    assert "1 of 2</strong> free tries left today" in first and 'id="try-it-label"' in first
    second = _text(_try(client, deployment, {"csv_row": _row(1)}))
    assert "used today's 2 free tries" in second and '<fieldset disabled aria-describedby="try-it-quota">' in second

    third = _text(_try(client, deployment, {"csv_row": _row(2)}))  # a post past the disabled form
    assert "You have used today&#x27;s 2 free tries of models you do not own" in third and 'id="try-it-label"' not in third
    assert [p.access for p in Prediction.objects.order_by("id")] == ["trial", "trial"]

    clock.clock_advance(seconds=timedelta(days=1).total_seconds())  # a new day, a new quota
    try:
        assert "2 of 2</strong> free tries left today" in client.get(f"/models/{deployment.model_id}/try/", **HTMX).content.decode()
    finally:
        clock.clock_reset()


def test_a_buyer_tries_without_a_quota(client, make_user, deployed, settings):
    settings.TRY_IT_FREE_PER_DAY = 1
    deployment = deployed(make_user("ada"), listed=True)
    bob = make_user("bob")
    listing = deployment.listing
    marketplace.listing_purchase(listing=listing, buyer=bob, kind=Purchase.Kind.BUY, expected_price=listing.price_buy)
    client.force_login(bob)

    for index in range(3):
        body = _text(_try(client, deployment, {"csv_row": _row(index)}))
        assert 'id="try-it-label"' in body and "free tries" not in body
    assert set(Prediction.objects.values_list("access", flat=True)) == {"buyer"}


def test_without_js_the_form_posts_to_a_page_of_its_own(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)

    page = client.get(f"/models/{deployment.model_id}/try/").content.decode()
    assert "<html" in page and f'action="/models/{deployment.model_id}/try/"' in page and "csrfmiddlewaretoken" in page

    answer = client.post(f"/models/{deployment.model_id}/try/", {"csv_row": _row(0)})
    assert answer.status_code == 200 and "<html" in answer.content.decode() and 'id="try-it-label"' in answer.content.decode()
    refused = client.post(f"/models/{deployment.model_id}/try/", {"csv_row": "1,2"})
    assert refused.status_code == 400 and "The row has 2 values; the model takes 64." in refused.content.decode()


def test_the_job_page_and_the_listing_load_try_it_while_the_model_is_live(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada, listed=True)
    client.force_login(ada)
    slot = f'hx-get="/models/{deployment.model_id}/try/"'

    assert slot in client.get(f"/jobs/{deployment.job.job_id}/").content.decode()
    assert slot in client.get(f"/marketplace/{deployment.listing.listing_id}/").content.decode()

    services.model_undeploy(deployment=deployment)
    assert slot not in client.get(f"/jobs/{deployment.job.job_id}/").content.decode()
    assert slot not in client.get(f"/marketplace/{deployment.listing.listing_id}/").content.decode()


def test_my_models_shows_whether_each_answers_how_fast_how_much_and_how_to_call_it(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    type(deployment).objects.filter(pk=deployment.pk).update(
        measured={"latency_ms_p50": 0.41, "latency_ms_p95": 0.93, "memory_bytes": 3 * 1024 * 1024})
    client.force_login(ada)
    for index in range(2):
        _try(client, deployment, {"csv_row": _row(index)})

    body = client.get("/models/").content.decode()

    row = body.split(f'<tr data-model-id="{deployment.model_id}">', 1)[1].split("</tbody>", 1)[0]  # with its "call it" row
    flat = re.sub(r"\s+", " ", row)
    assert '<span class="badge badge-live" data-live="true">live</span>' in row
    assert f"{deployment.serving_artifact.format} <br>" in flat.replace("\n", "")
    assert "p50 0.41 ms · p95 0.93 ms" in flat and "3.0 MB in memory" in flat
    assert '<span class="predictions-count">2</span>' in row and "in 2 calls, 1 caller" in flat
    assert f"http://testserver/api/v1/models/{deployment.model_id}/predict/" in row
    assert "curl -X POST" in row and "Authorization: Token YOUR_API_TOKEN" in row and 'data-copy="curl-' in row
    assert f'href="/models/{deployment.model_id}/try/"' in row
    assert f'action="/models/{deployment.model_id}/undeploy/"' in row and "Deploy again" not in row


def test_the_owner_undeploys_after_confirming_and_deploys_again(client, make_user, deployed):
    ada = make_user("ada")
    deployment = deployed(ada)
    client.force_login(ada)

    confirm = client.post(f"/models/{deployment.model_id}/undeploy/")
    deployment.refresh_from_db()
    assert deployment.is_live and 'name="confirmed" value="yes"' in confirm.content.decode()

    done = client.post(f"/models/{deployment.model_id}/undeploy/", {"confirmed": "yes"}, follow=True)
    deployment.refresh_from_db()
    assert not deployment.is_live
    body = done.content.decode()
    assert "is undeployed: it answers no predictions" in body and '<span class="badge badge-undeployed" data-live="false">undeployed</span>' in body
    assert f'action="/models/{deployment.model_id}/deploy/"' in body

    again = client.post(f"/models/{deployment.model_id}/deploy/", follow=True)
    deployment.refresh_from_db()
    assert deployment.is_live and "is deployed again." in again.content.decode()


def test_only_the_owner_may_undeploy_or_deploy_again_and_only_by_post(client, make_user, deployed):
    deployment = deployed(make_user("ada"), listed=True)
    client.force_login(make_user("eve"))

    assert client.post(f"/models/{deployment.model_id}/undeploy/", {"confirmed": "yes"}).status_code == 404
    assert client.post(f"/models/{deployment.model_id}/deploy/").status_code == 404
    client.force_login(deployment.job.owner)
    assert client.get(f"/models/{deployment.model_id}/undeploy/").status_code == 405
    deployment.refresh_from_db()
    assert deployment.is_live
