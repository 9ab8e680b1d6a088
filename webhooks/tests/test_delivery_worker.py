"""Through real parts: Redis as the broker, a dramatiq worker process, a receiver on 127.0.0.1. An event
committed here is signed and delivered by the worker and recorded with the receiver's answer; a 500 is
retried after the configured delays until a 2xx; a re-send by hand goes out with the same id; an
endpoint whose deliveries keep failing is disabled and its owner told."""

import pytest
from django.db import transaction

from accounts.models import Notification
from tests.fixtures import wait_for
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

HOOKS = "/api/v1/webhooks/"


def _emit(user, job_id="j-1") -> WebhookDelivery:
    with transaction.atomic():  # queued on the real broker when this commits
        [delivery] = services.event_emit(user=user, type="job.completed", data={"job_id": job_id, "status": "completed"})
    return delivery


def _delivery(delivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=delivery.pk)


def test_an_event_is_delivered_signed_by_a_worker_and_resent_by_hand(make_user, api_for, receiver, start_worker):
    ada = make_user("ada")
    api = api_for(ada)
    created = api.post(HOOKS, {"url": receiver.url, "events": ["job.completed"]}, format="json").json()
    start_worker()

    delivery = _emit(ada)
    wait_for(lambda: _delivery(delivery).status == "succeeded", 30, "the worker to deliver the event")

    [seen] = receiver.verified(created["secret"])
    assert seen["headers"]["PRSM-Webhook-Id"] == str(delivery.delivery_id) and seen["path"] == "/hook"
    assert seen["json"]["type"] == "job.completed" and seen["json"]["data"]["job_id"] == "j-1"
    listed = api.get(f"{HOOKS}{created['id']}/deliveries/").json()["results"]
    assert [(d["status"], d["response_status"], d["response_excerpt"], d["attempt_count"]) for d in listed] == [
        ("succeeded", 200, '{"received": true}', 1)]
    assert listed[0]["duration_ms"] > 0 and listed[0]["error"] == ""

    resent = api.post(f"{HOOKS}{created['id']}/deliveries/{delivery.delivery_id}/resend/", format="json")
    assert resent.status_code == 202
    wait_for(lambda: _delivery(delivery).attempt_count == 2, 30, "the worker to send it again")

    assert [a.manual for a in _delivery(delivery).attempts.all()] == [False, True]
    first, second = receiver.verified(created["secret"])
    assert first["body"] == second["body"]
    assert first["headers"]["PRSM-Webhook-Id"] == second["headers"]["PRSM-Webhook-Id"] == str(delivery.delivery_id)


def test_a_500_is_retried_with_backoff_until_it_succeeds_and_failures_disable_the_endpoint(
        make_user, receiver, start_worker, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = [1.0, 2.0]  # this process sets final_attempt; the worker the delays
    start_worker(WEBHOOK_RETRY_DELAYS_S="1,2", WEBHOOK_DISABLE_AFTER_FAILURES="1")
    ada = make_user("ada")
    endpoint, secret = services.webhook_endpoint_create(user=ada, url=receiver.url, events=["job.completed"])
    receiver.answers = [(500, b"busy", 0), (500, b"busy", 0)]

    delivery = _emit(ada)
    wait_for(lambda: _delivery(delivery).status == "succeeded", 40, "two retries, then a success")

    attempts = list(_delivery(delivery).attempts.all())
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 500, False), (3, 200, True)]
    tries = receiver.verified(secret)
    assert len(tries) == 3 and len({t["headers"]["PRSM-Webhook-Id"] for t in tries}) == 1
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(tries, tries[1:])]
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps  # the delays grow
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active

    receiver.default = (500, b"still down", 0)
    failing = _emit(ada, job_id="j-2")
    wait_for(lambda: _delivery(failing).status == "failed", 40, "the retries to run out")

    endpoint.refresh_from_db()
    assert _delivery(failing).attempt_count == 3 and not endpoint.is_active
    wait_for(lambda: Notification.objects.filter(user=ada, kind="webhook_disabled").exists(), 5, "the notification")
    assert services.event_emit(user=ada, type="job.completed", data={}) == []
