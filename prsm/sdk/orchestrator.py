"""``DistillationOrchestrator``: the seed's async API, in-process by default or remote.

    orchestrator = DistillationOrchestrator()                      # runs the engine in this process
    orchestrator = DistillationOrchestrator(base_url=URL, token=KEY)  # or PRSM_URL / PRSM_TOKEN
    job = await orchestrator.create_distillation(request)
    status = await orchestrator.get_status(job.job_id)
    async for event in orchestrator.stream(job.job_id): ...
    model = await orchestrator.deploy_model(job.job_id)
    outputs = await model.predict(["a great film"])               # [{"label", "probabilities"}]
    model = await orchestrator.get_model(model_id)                 # a model deployed before
    await orchestrator.undeploy_model(model.model_id)
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

from pydantic import ValidationError

from ..request import DistillationRequest, request_errors
from .local import LocalBackend
from .remote import RemoteBackend
from .types import FINISHED, DeployedModel, Job, JobStatus, SdkError

POLL_S = 0.2


class DistillationOrchestrator:
    def __init__(self, base_url: str | None = None, token: str | None = None, *, work_dir: str | None = None):
        base_url = base_url or os.environ.get("PRSM_URL")
        token = token or os.environ.get("PRSM_TOKEN")
        self.mode = "remote" if base_url else "in-process"
        self._backend = RemoteBackend(base_url, token) if base_url else LocalBackend(work_dir)

    async def create_distillation(self, request: DistillationRequest | dict) -> Job:
        if not isinstance(request, DistillationRequest):
            try:
                request = DistillationRequest.model_validate(request)
            except ValidationError as exc:
                first = request_errors(exc)[0]
                raise SdkError(f"{first['field']}: {first['message']}", status=400, field=first["field"]) from None
        return await asyncio.to_thread(self._backend.create, request)

    async def get_status(self, job_id: str) -> JobStatus:
        return await asyncio.to_thread(self._backend.status, job_id)

    async def cancel(self, job_id: str) -> JobStatus:
        return await asyncio.to_thread(self._backend.cancel, job_id)

    async def deploy_model(self, job_id: str, export_format: str | None = None) -> DeployedModel:
        return await asyncio.to_thread(self._backend.deploy, job_id, export_format)

    async def get_model(self, model_id: str) -> DeployedModel:
        """A deployed model by id, to ``predict`` with: on the server, or deployed earlier in this process."""
        return await asyncio.to_thread(self._backend.model, model_id)

    async def undeploy_model(self, model_id: str) -> None:
        """Stop serving the model; its job and exports stay (deploy the job again to serve it again)."""
        await asyncio.to_thread(self._backend.undeploy, model_id)

    async def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Return the status once the job has ended (completed, failed or cancelled)."""
        async def until_finished():
            async for _ in self.stream(job_id):
                pass
            return await self.get_status(job_id)

        return await asyncio.wait_for(until_finished(), timeout)

    async def stream(self, job_id: str, since: int = 0) -> AsyncIterator[dict]:
        """The job's events in ``seq`` order, from ``since`` until it ends; reconnects where it left off."""
        if self.mode == "in-process":
            async for event in self._stream_local(job_id, since):
                yield event
            return
        async for event in self._stream_remote(job_id, since):
            yield event

    async def _stream_local(self, job_id: str, since: int) -> AsyncIterator[dict]:
        while True:
            for event in self._backend.events_since(job_id, since):
                since = event["seq"]
                yield event
                if event["type"] in FINISHED:
                    return
            await asyncio.sleep(POLL_S)

    async def _stream_remote(self, job_id: str, since: int) -> AsyncIterator[dict]:
        import websockets

        while True:
            try:
                async with websockets.connect(self._backend.websocket_url(job_id), open_timeout=10) as ws:
                    await ws.send(json.dumps({"since": since}))
                    async for raw in ws:
                        event = json.loads(raw)
                        if event.get("seq", 0) <= since:
                            continue  # replayed and live copies of one event overlap
                        since = event["seq"]
                        yield event
                        if event["type"] in FINISHED:
                            return
            except (OSError, websockets.exceptions.ConnectionClosedError):
                status = await self.get_status(job_id)
                if status.finished:
                    return
                await asyncio.sleep(1)
