"""Submit through the API -> a real worker process trains (its search for the best student
included) -> the websocket sees ordered events -> artifacts download and match their checksums."""

import asyncio
import hashlib
import json

import pytest
import websockets
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from ledger.models import Hold

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def _collect_until_finished(ws_url: str, timeout: float = 240) -> list[dict]:
    events = []
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        await ws.send(json.dumps({"since": 0}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
            if not events or message["seq"] > events[-1]["seq"]:  # replay and live can overlap
                events.append(message)
            if message["type"] in ("completed", "failed", "cancelled"):
                return events


def test_a_job_submitted_through_the_api_completes_in_a_worker_and_streams_its_events(
    catalog_home, live_daphne, start_worker, client
):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    token = Token.objects.create(user=user).key
    start_worker()
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}

    created = client.post(
        "/api/v1/distillations/",
        {"teacher_model": "catalog:digits-mlp", "domain": "handwritten digits", "budget_ftns": 1000,
         "quality_threshold": 0.5, "epochs": 3, "export_formats": ["safetensors", "onnx"]},
        content_type="application/json", **headers,
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["job_id"]
    assert created.json()["backend"] == "pytorch"

    ws_url = live_daphne.replace("http://", "ws://") + f"/ws/distillations/{job_id}/?token={token}"
    events = asyncio.run(_collect_until_finished(ws_url))

    assert events[-1]["type"] == "completed", events[-1]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {"stage", "progress"} <= {e["type"] for e in events}
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress), [(e["type"], e.get("stage"), e["progress"]) for e in events]
    assert progress[-1] == 100

    job = client.get(f"/api/v1/distillations/{job_id}/", **headers).json()
    assert job["status"] == "completed"
    assert 0 < job["report"]["retention"]
    assert job["costs"]["state"] == Hold.State.SETTLED

    # the engine's search for the best student: one trial event per trial, then the report's account on the page
    search = job["report"]["search"]
    trials = [e for e in events if e["type"] == "trial"]
    assert [e["trial"]["number"] for e in trials] == [t["number"] for t in search["trials"]]
    assert all(e["current_stage"] == "search" for e in trials)
    client.force_login(user)
    page = client.get(f"/jobs/{job_id}/").content.decode()
    assert page.count("<tr data-trial=") == len(search["trials"]) and page.count("data-chosen>") == 1
    assert 'id="search-why"' in page

    artifacts = client.get(f"/api/v1/distillations/{job_id}/artifacts/", **headers).json()
    assert {a["format"] for a in artifacts} >= {"safetensors", "onnx"}
    for artifact in artifacts:
        download = client.get(artifact["download"].replace("http://testserver", ""), **headers)
        body = b"".join(download.streaming_content)
        assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
        assert download["X-Content-Type-Options"] == "nosniff"
