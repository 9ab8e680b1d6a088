"""One attempt at a time, in this process, against a real HTTP receiver on 127.0.0.1: what is sent and
signed, what is recorded, when the next attempt is due, when a delivery fails for good, and when the
endpoint is disabled (the worker runs the same service: test_delivery_worker.py)."""

import json
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(make_user):
    return make_user("ada")


@pytest.fixture
def hook(ada, receiver):
    endpoint, secret = services.webhook_endpoint_create(user=ada, url=receiver.url, events=["job.completed", "job.failed"])
    endpoint.secret = secret
    return endpoint


def _emit(user, type="job.completed", data=None, callbacks=None):
    return services.event_emit(user=user, type=type, data=data or {"job_id": "j-1", "status": "completed"})


def _attempt(delivery, number=None):
    delivery.refresh_from_db()
    return services.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id),
                                             attempt=number or delivery.attempt_count + 1)


def test_a_delivery_is_signed_sent_and_recorded(ada, hook, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        [delivery] = _emit(ada, data={"job_id": "j-1", "status": "completed", "results": {"retention": 0.97}})
    assert len(queued) == 1  # the attempt is queued once the event's transaction commits

    attempt = _attempt(delivery)

    [seen] = receiver.verified(hook.secret)
    assert seen["headers"]["PRSM-Webhook-Id"] == str(delivery.delivery_id)
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["PRSM-Signature"].startswith(f"t={seen['headers']['PRSM-Webhook-Timestamp']},v1=")
    assert seen["json"]["id"] == str(delivery.event_id) and seen["json"]["type"] == "job.completed"
    assert abs(seen["json"]["created"] - time.time()) < 60
    assert seen["json"]["data"] == {"job_id": "j-1", "status": "completed", "results": {"retention": 0.97}}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code, delivery.last_error) == (
        "succeeded", 1, 200, "")
    assert attempt.succeeded and attempt.response_excerpt == '{"received": true}' and attempt.duration_ms > 0


def test_only_active_endpoints_subscribed_to_the_event_get_it(ada, hook, receiver):
    services.webhook_endpoint_create(user=ada, url=receiver.url, events=["model.sold"])
    off, _ = services.webhook_endpoint_create(user=ada, url=receiver.url, events=["job.completed"])
    services.webhook_endpoint_update(endpoint=off, is_active=False)

    deliveries = _emit(ada)

    assert [d.endpoint_id for d in deliveries] == [hook.pk]
    assert services.event_emit(user=ada, type="model.sold", data={})[0].endpoint.event_list == ["model.sold"]


def test_an_event_that_cannot_be_recorded_never_undoes_its_cause(ada, hook, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "_deliveries_create", broken)
    with transaction.atomic():
        Notification.objects.create(user=ada, kind="job_completed", message="done")
        assert _emit(ada) == []

    assert Notification.objects.filter(user=ada).count() == 1 and not WebhookDelivery.objects.exists()


def test_a_failed_attempt_is_tried_again_later_and_then_given_up(ada, hook, receiver, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_DELAYS_S = [30.0, 90.0]
    receiver.answers = [(500, b"down for maintenance", 0)] * 3
    [delivery] = _emit(ada)

    with django_capture_on_commit_callbacks() as queued:
        first = _attempt(delivery)
    delivery.refresh_from_db()
    assert (first.succeeded, first.status_code, first.error, first.response_excerpt) == (
        False, 500, "HTTP 500", "down for maintenance")
    assert delivery.status == "pending" and len(queued) == 1
    assert timedelta(seconds=30) <= delivery.next_attempt_at - timezone.now() <= timedelta(seconds=34)

    _attempt(delivery)
    delivery.refresh_from_db()
    assert timedelta(seconds=89) <= delivery.next_attempt_at - timezone.now() <= timedelta(seconds=100)
    _attempt(delivery)
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == ("failed", 3, None)
    assert [a.number for a in delivery.attempts.all()] == [1, 2, 3]
    assert len({r["headers"]["PRSM-Webhook-Id"] for r in receiver.verified(hook.secret)}) == 1  # one id, 3 tries
    assert WebhookEndpoint.objects.get(pk=hook.pk).consecutive_failures == 1


def test_a_message_delivered_twice_makes_its_attempt_once(ada, hook, receiver):
    [delivery] = _emit(ada)

    assert _attempt(delivery, 1) is not None
    assert services.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id), attempt=1) is None
    assert delivery.attempts.count() == 1 and len(receiver.requests) == 1


def test_an_endpoint_deleted_while_its_attempt_runs_records_nothing(ada, hook, monkeypatch):
    [delivery] = _emit(ada)

    def post_then_delete(endpoint, delivery):
        services.webhook_endpoint_delete(endpoint=endpoint)
        return services.Outcome(status_code=200)

    monkeypatch.setattr(services, "_post", post_then_delete)

    assert _attempt(delivery) is None and not WebhookDelivery.objects.exists()


def test_a_long_answer_is_kept_as_a_capped_excerpt(ada, hook, receiver):
    receiver.default = (200, b"x" * 100_000, 0)
    [delivery] = _emit(ada)

    attempt = _attempt(delivery)

    assert attempt.succeeded and attempt.response_excerpt == "x" * 2048 + "…"


@pytest.mark.parametrize(("answer", "error"), [((302, b"", 0), "redirects are not followed"), ((404, b"no", 0), "HTTP 404"),
                                               ((200, b"slow", 3), "No answer within 1 s")])
def test_anything_but_a_prompt_2xx_is_a_failure(ada, hook, receiver, settings, answer, error):
    settings.WEBHOOK_TIMEOUT_S, settings.WEBHOOK_RETRY_DELAYS_S = 1, []
    receiver.answers = [answer]
    [delivery] = _emit(ada)

    attempt = _attempt(delivery)

    assert not attempt.succeeded and error in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == "failed" and error in delivery.last_error


def test_a_refused_connection_is_a_failure_with_the_reason(ada, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = []
    receiver.close()
    services.webhook_endpoint_create(user=ada, url=receiver.url, events=["job.completed"])
    [delivery] = _emit(ada)

    attempt = _attempt(delivery)

    assert attempt.status_code is None and "Connection failed (ConnectionRefusedError" in attempt.error


def test_the_address_is_checked_again_before_each_attempt(ada, hook, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = []
    [delivery] = _emit(ada)
    settings.WEBHOOK_HOSTS_ALLOW = []  # as if the name now resolved to a private address

    attempt = _attempt(delivery)

    assert receiver.requests == [] and attempt.status_code is None
    assert "loopback" in attempt.error and "WEBHOOK_HOSTS_ALLOW" in attempt.error


def test_the_endpoint_is_disabled_after_repeated_failed_deliveries_and_its_owner_told(ada, hook, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S, settings.WEBHOOK_DISABLE_AFTER_FAILURES = [], 3
    receiver.default = (503, b"", 0)

    for _ in range(2):
        _attempt(_emit(ada)[0])
    receiver.default = (200, b"", 0)
    _attempt(_emit(ada)[0])  # a success: the count starts again
    receiver.default = (503, b"", 0)
    for _ in range(2):
        _attempt(_emit(ada)[0])
    hook.refresh_from_db()
    assert hook.is_active and hook.consecutive_failures == 2 and not Notification.objects.filter(user=ada).exists()

    _attempt(_emit(ada)[0])

    hook.refresh_from_db()
    assert not hook.is_active and hook.consecutive_failures == 3 and "HTTP 503" in hook.disabled_reason
    notice = Notification.objects.get(user=ada)
    assert notice.kind == "webhook_disabled" and hook.url in notice.message
    assert notice.link == f"/account/webhooks/{hook.endpoint_id}/"
    assert _emit(ada) == []  # a disabled endpoint gets no new events


def test_pings_neither_count_towards_disabling_nor_reset_the_count(ada, hook, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 1
    receiver.default = (500, b"", 0)
    WebhookEndpoint.objects.filter(pk=hook.pk).update(consecutive_failures=0)

    ping = services.webhook_ping(endpoint=hook)
    _attempt(ping)

    ping.refresh_from_db()
    hook.refresh_from_db()
    assert ping.status == "failed" and ping.final_attempt == 1 and hook.is_active and hook.consecutive_failures == 0
    assert json.loads(ping.body)["type"] == "ping"


def test_a_pending_delivery_of_a_disabled_endpoint_is_not_sent(ada, hook, receiver):
    [delivery] = _emit(ada)
    services.webhook_endpoint_update(endpoint=hook, is_active=False)

    assert _attempt(delivery) is None

    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error == "The endpoint is disabled." and receiver.requests == []


def test_a_resend_by_hand_makes_one_more_attempt_with_the_same_id_and_body(ada, hook, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = []
    receiver.answers = [(500, b"", 0)]
    [delivery] = _emit(ada)
    _attempt(delivery)

    services.webhook_delivery_resend(delivery=delivery)
    resent = services.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id), attempt=2, manual=True)

    delivery.refresh_from_db()
    assert resent.manual and resent.succeeded and delivery.status == "succeeded" and delivery.attempt_count == 2
    first, second = receiver.verified(hook.secret)
    assert first["body"] == second["body"] and first["headers"]["PRSM-Webhook-Id"] == second["headers"]["PRSM-Webhook-Id"]


def test_the_sweep_queues_again_what_was_left_pending(ada, hook, monkeypatch, settings):
    queued = []
    monkeypatch.setattr(services, "_enqueue", lambda delivery_id, attempt, **options: queued.append((delivery_id, attempt)))
    settings.WEBHOOK_SWEEP_AFTER_S = 600
    [late] = _emit(ada)  # as if the broker had been down at the commit
    [recent] = _emit(ada)
    WebhookDelivery.objects.filter(pk=late.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=11))

    assert services.webhook_deliveries_sweep() == 1
    assert services.webhook_deliveries_sweep() == 0  # not again until it is late once more

    assert queued == [(str(late.delivery_id), 1)]
    assert recent.pk != late.pk
