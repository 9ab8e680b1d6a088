from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from pydantic import ValidationError as PydanticValidationError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from django.conf import settings
from ledger.amounts import display_ftns
from ledger.errors import LedgerError
from ledger.models import Hold
from prsm.request import DistillationRequest, request_errors
from prsm_site.errors import error_body

from . import selectors, services
from .planning import PlanningError, plan

SEED_EXAMPLE = OpenApiExample(
    "The seed's request",
    value={"teacher_model": "catalog:sentiment-minilm", "domain": "sentiment", "target_size": "small",
           "optimization_target": "speed", "budget_ftns": 1000, "quality_threshold": 0.85},
    request_only=True,
)


class DistillationRequestSerializer(serializers.Serializer):
    """Documents the body; validation itself is prsm.request.DistillationRequest's (every seed field)."""

    teacher_model = serializers.CharField(required=False, help_text="catalog:NAME")
    dataset = serializers.CharField(required=False, help_text="builtin:NAME; a catalog teacher defaults to its own data")
    domain = serializers.CharField(required=False)
    target_size = serializers.ChoiceField(["small", "medium", "large"], required=False)
    optimization_target = serializers.ChoiceField(["speed", "accuracy", "efficiency"], required=False)
    budget_ftns = serializers.IntegerField(required=False, min_value=1)
    quality_threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
    export_formats = serializers.ListField(child=serializers.CharField(), required=False)
    epochs = serializers.IntegerField(required=False, min_value=1)
    seed = serializers.IntegerField(required=False)


class JobOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    current_stage = serializers.CharField()
    backend = serializers.CharField()
    backend_reason = serializers.CharField()
    estimate = serializers.JSONField()
    cost_estimate_ftns = serializers.IntegerField()
    costs = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    eta_s = serializers.SerializerMethodField()
    request = serializers.JSONField()
    report = serializers.JSONField()
    error = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()

    def get_costs(self, job) -> dict:
        hold = Hold.objects.filter(reference=services.job_hold_reference(job)).first()
        if hold is None:
            return {}
        return {"held_ftns": display_ftns(hold.amount), "state": hold.state,
                "charged_ftns": display_ftns(hold.charged), "released_ftns": display_ftns(hold.released)}

    def get_queue_position(self, job) -> int | None:
        return selectors.job_queue_position(job=job)

    def get_eta_s(self, job) -> float | None:
        return selectors.job_eta_seconds(job=job)


def _parse(data) -> DistillationRequest | Response:
    try:
        return DistillationRequest.model_validate(data)
    except PydanticValidationError as exc:
        first = request_errors(exc)[0]
        return Response(error_body("invalid", first["message"], first["field"]), status=status.HTTP_400_BAD_REQUEST)


def _refusal(exc) -> Response:
    """A JobError or LedgerError (both carry code, message, field, status_code) in the API's error shape."""
    return Response(error_body(exc.code, exc.message, exc.field), status=exc.status_code)


def _job_or_404(request, job_id):
    job = selectors.job_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


class JobListCreateApi(APIView):
    @extend_schema(responses={200: JobOutput(many=True)})
    def get(self, request):
        return Response(JobOutput(selectors.jobs_of(user=request.user)[:100], many=True).data)

    @extend_schema(request=DistillationRequestSerializer, responses={201: JobOutput}, examples=[SEED_EXAMPLE])
    def post(self, request):
        parsed = _parse(request.data)
        if isinstance(parsed, Response):
            return parsed
        try:
            job = services.distillation_job_create(owner=request.user, request=parsed)
        except PlanningError as exc:
            return Response(error_body("invalid", str(exc), exc.field), status=400)
        except services.JobError as exc:
            return Response({**error_body(exc.code, exc.message, exc.field), **exc.extra}, status=exc.status_code)
        except LedgerError as exc:
            return _refusal(exc)
        return Response(JobOutput(job).data, status=status.HTTP_201_CREATED)


class EstimateApi(APIView):
    @extend_schema(request=DistillationRequestSerializer, responses={200: dict}, examples=[SEED_EXAMPLE])
    def post(self, request):
        parsed = _parse(request.data)
        if isinstance(parsed, Response):
            return parsed
        try:
            estimate = plan(request=parsed, owner=request.user).estimate()
        except PlanningError as exc:
            return Response(error_body("invalid", str(exc), exc.field), status=400)
        return Response({**estimate, "within_budget": estimate["cost_units"] <= parsed.budget_ftns * 1_000_000})


class JobDetailApi(APIView):
    @extend_schema(responses={200: JobOutput})
    def get(self, request, job_id):
        return Response(JobOutput(_job_or_404(request, job_id)).data)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses={200: JobOutput})
    def post(self, request, job_id):
        job = _job_or_404(request, job_id)
        try:
            job = services.job_cancel(job=job)
        except services.JobError as exc:
            return _refusal(exc)
        return Response(JobOutput(job).data)


class DeployInput(serializers.Serializer):
    export_format = serializers.CharField(required=False)


class JobDeployApi(APIView):
    @extend_schema(request=DeployInput, responses={201: dict})
    def post(self, request, job_id):
        job = _job_or_404(request, job_id)
        serializer = DeployInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            deployed = services.job_deploy(job=job, export_format=serializer.validated_data.get("export_format"))
        except services.JobError as exc:
            return _refusal(exc)
        body = {"model_id": str(deployed.model_id), "export_format": deployed.export_format}
        if listing := getattr(deployed, "listing", None):  # the request's marketplace_listing
            body["listing_id"] = str(listing.listing_id)
        return Response(body, status=201)


class JobArtifactsApi(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, job_id):
        job = _job_or_404(request, job_id)
        return Response([
            {"format": a.format, "sha256": a.sha256, "size_bytes": a.size_bytes, "verified": a.verified,
             "max_abs_diff": a.max_abs_diff,
             "download": request.build_absolute_uri(f"/api/v1/distillations/{job.job_id}/artifacts/{a.format}/download/")}
            for a in job.artifacts.order_by("format")
        ])


class ArtifactDownloadApi(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, job_id, export_format):
        job = _job_or_404(request, job_id)
        return artifact_download_response(job.artifacts.filter(format=export_format).first())


def artifact_download_response(artifact) -> FileResponse:
    """An export's file as an attachment (never rendered: nosniff), with its checksum; 404 when the
    export or its file is missing, or its path would leave MEDIA_ROOT."""
    if artifact is None:
        raise Http404("No such export.")
    path = (settings.MEDIA_ROOT / artifact.path).resolve()
    if not path.is_file() or settings.MEDIA_ROOT.resolve() not in path.parents:
        raise Http404("The export's file is missing.")
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=path.name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Checksum-SHA256"] = artifact.sha256
    return response
