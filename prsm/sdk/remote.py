"""Remote mode: the REST API for requests, the job's websocket for events."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from .inputs import wire_inputs
from .types import DeployedModel, Job, JobStatus, SdkError


def _refusal(exc: urllib.error.HTTPError) -> SdkError:
    """The API's ``{"error": {"code", "message", "field"?}}`` as an SdkError; a 429's Retry-After kept."""
    try:
        body = json.loads(exc.read())
        error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
    except (ValueError, KeyError, TypeError):
        body, error = {}, {}
    retry_after = body.get("retry_after") or error.get("retry_after") or (exc.headers.get("Retry-After") if exc.headers else None)
    try:
        retry_after = float(retry_after) if retry_after is not None else None
    except (ValueError, TypeError):
        retry_after = None
    return SdkError(error.get("message") or f"HTTP {exc.code}", status=exc.code, code=error.get("code"),
                    field=error.get("field"), retry_after=retry_after)


class RemoteBackend:
    def __init__(self, base_url: str, token: str | None):
        if not token:
            raise SdkError("a remote server needs a token: pass token= or set PRSM_TOKEN (POST /api/v1/auth/token/)")
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):  # urllib would also open file: and ftp:
            raise SdkError(f"the server address must start with http:// or https://, not {base_url!r}")
        self.base_url, self.token = base_url.rstrip("/"), token

    def _call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers={
            "Authorization": f"Token {self.token}", "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310  # http(s) only, checked in __init__
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _refusal(exc) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise SdkError(f"cannot reach {self.base_url}: {reason}", code="unreachable") from None

    def create(self, request) -> Job:
        body = request.model_dump(mode="json", exclude_defaults=True)
        created = self._call("POST", "/api/v1/distillations/", body)
        return Job(job_id=created["job_id"], backend=created["backend"], backend_reason=created["backend_reason"],
                   status=created["status"], estimate=created["estimate"])

    def status(self, job_id: str) -> JobStatus:
        job = self._call("GET", f"/api/v1/distillations/{job_id}/")
        return JobStatus(job["job_id"], job["status"], job["progress"], job["current_stage"], job["error"], job["report"])

    def cancel(self, job_id: str) -> JobStatus:
        self._call("POST", f"/api/v1/distillations/{job_id}/cancel/")
        return self.status(job_id)

    def deploy(self, job_id: str, export_format: str | None) -> DeployedModel:
        body = {"export_format": export_format} if export_format else {}
        deployed = self._call("POST", f"/api/v1/distillations/{job_id}/deploy/", body)
        location = f"{self.base_url}/api/v1/distillations/{job_id}/artifacts/{deployed['export_format']}/download/"
        model = DeployedModel(model_id=deployed["model_id"], export_format=deployed["export_format"], job_id=job_id,
                              location=location, served_format=deployed.get("served_format") or "")
        model._predict = lambda inputs: self.predict(model, inputs)
        return model

    def predict(self, model: DeployedModel, inputs: list) -> list[dict]:
        answer = self._call("POST", f"/api/v1/models/{model.model_id}/predict/", {"inputs": wire_inputs(inputs)})
        model.version = str(answer.get("version") or "")
        return answer["outputs"]

    def model(self, model_id: str) -> DeployedModel:
        model = DeployedModel(model_id=model_id, export_format="", job_id="")
        model._predict = lambda inputs: self.predict(model, inputs)
        return model

    def undeploy(self, model_id: str) -> None:
        self._call("DELETE", f"/api/v1/models/{model_id}/")

    def websocket_url(self, job_id: str) -> str:
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        return f"{scheme}://{self.base_url.split('://', 1)[1]}/ws/distillations/{job_id}/?token={self.token}"
