"""Hostile websocket frames and paths (issue 13, item 9): a frame this service cannot read is answered
with an error message and closed with 4400, a wrong but well-formed request is answered and the
socket stays open, an unknown path is refused with 4404; never a 1011, a traceback or an HTTP 500."""

import asyncio
import json
import logging
import time

import pytest
import websockets
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from core.websockets import BAD_FRAME, NOT_FOUND
from distillation.models import DistillationJob
from distillation.services import job_event_append
from prsm_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

BAD_FRAMES = {
    "not-json": {"text": "hello"},
    "empty-text": {"text": ""},
    "whitespace": {"text": "  \n"},
    "binary": {"bytes": b"\x00\x01\x02"},
    "empty-binary": {"bytes": b""},
    "nested-past-recursion-limit": {"text": "[" * 100_000 + "]" * 100_000},
    "nested-100-levels": {"text": '{"since":' * 100 + "1" + "}" * 100},
    "5000-digit-number": {"text": '{"since": ' + "9" * 5000 + "}"},
    "infinite-number": {"text": '{"since": 1e999}'},
    "nan": {"text": '{"since": NaN}'},
    "lone-surrogate": {"text": '{"since": "\\ud800"}'},
    "too-long": {"text": '{"since": 1, "pad": "' + "x" * 70_000 + '"}'},
}


@pytest.fixture
def errors_logged(caplog):
    caplog.set_level(logging.INFO)
    return lambda: [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def ada():
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    return user, Token.objects.create(user=user).key


@pytest.fixture
def job_path(ada):
    owner, token = ada
    job = DistillationJob.objects.create(owner=owner, request={}, engine_config={}, backend="pytorch",
                                         backend_reason="test", cost_estimate_ftns=1)
    job_event_append(job=job, type="log", payload={"message": "line"}, token=None)
    return f"/ws/distillations/{job.job_id}/?token={token}"


@pytest.fixture
def notifications_path(ada):
    return f"/ws/notifications/?token={ada[1]}"


async def _exchange(path: str, frames: list[dict]) -> tuple[list[dict], int | None]:
    """Connect, send the frames, and collect what comes back: the JSON messages and the close code."""
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    messages, close_code = [], None
    for frame in frames:
        await communicator.send_input({"type": "websocket.receive", **frame})
    while not await communicator.receive_nothing(timeout=0.3):
        output = await communicator.receive_output(timeout=1)
        if output["type"] == "websocket.close":
            close_code = output.get("code")
            break
        messages.append(json.loads(output["text"]))
    await communicator.disconnect()
    return messages, close_code


@pytest.mark.parametrize("stream", ["job", "notifications"])
@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_a_frame_that_is_not_json_text_is_answered_and_closed_with_4400(request, errors_logged, stream, name):
    path = request.getfixturevalue(f"{stream}_path")

    messages, close_code = async_to_sync(_exchange)(path, [BAD_FRAMES[name]])

    assert close_code == BAD_FRAME
    assert [m["type"] for m in messages] == ["error"] and messages[0]["message"]
    assert errors_logged() == []


@pytest.mark.parametrize("since", [-1, 10**40, True, "3", None, 1.5])
def test_a_wrong_since_is_answered_and_the_job_socket_stays_open(job_path, errors_logged, since):
    messages, close_code = async_to_sync(_exchange)(job_path, [{"text": json.dumps({"since": since})},
                                                               {"text": '{"since": 0}'}])

    assert close_code is None
    assert messages[0]["type"] == "error" and "since" in messages[0]["message"]
    assert [m["seq"] for m in messages[1:]] == [1]  # the same socket still replays
    assert errors_logged() == []


@pytest.mark.parametrize("path", ["/ws/nothing/", "/ws/distillations/not-a-uuid/", "/", "/api/v1/distillations/"])
def test_an_unknown_websocket_path_is_refused_cleanly(errors_logged, path):
    async def connect():
        communicator = WebsocketCommunicator(application, path)
        try:
            return await communicator.connect(timeout=5)
        finally:
            await communicator.disconnect()

    connected, close_code = async_to_sync(connect)()

    assert (connected, close_code) == (False, NOT_FOUND)
    assert errors_logged() == []


def test_on_the_real_server_an_idle_socket_stays_open_and_hostile_frames_leave_no_traceback(live_daphne, tmp_path, ada):
    base = live_daphne.replace("http://", "ws://")

    async def session():
        async with websockets.connect(f"{base}/ws/notifications/?token={ada[1]}") as ws:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):  # idle past redis-py's 5-second default read timeout
                await asyncio.wait_for(ws.recv(), timeout=8)
            assert time.monotonic() - started >= 8
            await ws.send("[" * 100_000 + "]" * 100_000)
            assert json.loads(await ws.recv())["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == BAD_FRAME
        for path in ("/ws/nothing/", "/ws/notifications/"):  # unknown; not signed in
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{base}{path}"):
                    pass
            assert refused.value.response.status_code == 403

    asyncio.run(session())
    time.sleep(6)  # a failing channel read would surface about 5 seconds after the last socket

    log = (tmp_path / "daphne.log").read_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
