"""/ws/distillations/{job_id}/: owner or staff only; replay from any seq."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.services import job_event_append
from prsm_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _user(name: str, **extra):
    user = user_create(username=name, password="correct horse battery", email=f"{name}@example.com", **extra)
    return user, Token.objects.create(user=user).key


def _job(owner) -> DistillationJob:
    job = DistillationJob.objects.create(owner=owner, request={}, engine_config={}, backend="pytorch",
                                         backend_reason="test", cost_estimate_ftns=1)
    for n in range(3):
        job_event_append(job=job, type="log", payload={"message": f"line {n}"}, token=None)
    return job


async def _replay(path: str, since: int) -> tuple[bool, list[dict]]:
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    messages = []
    if connected:
        await communicator.send_json_to({"since": since})
        while not await communicator.receive_nothing(timeout=0.5):
            messages.append(await communicator.receive_json_from())
    await communicator.disconnect()
    return connected, messages


def test_the_owner_replays_what_was_missed_in_order():
    owner, token = _user("ada")
    job = _job(owner)

    connected, messages = async_to_sync(_replay)(f"/ws/distillations/{job.job_id}/?token={token}", since=1)

    assert connected
    assert [m["seq"] for m in messages] == [2, 3]
    assert all(m["job_id"] == str(job.job_id) and "progress" in m and "current_stage" in m for m in messages)


def test_staff_may_watch_any_job():
    owner, _ = _user("ada")
    _, staff_token = _user("mod", is_staff=True)
    job = _job(owner)

    connected, messages = async_to_sync(_replay)(f"/ws/distillations/{job.job_id}/?token={staff_token}", since=0)

    assert connected and len(messages) == 3


def test_another_user_cannot_watch_the_job():
    owner, _ = _user("ada")
    _, eve_token = _user("eve")
    job = _job(owner)

    connected, messages = async_to_sync(_replay)(f"/ws/distillations/{job.job_id}/?token={eve_token}", since=0)

    assert not connected and messages == []
