"""The serving REST API: call a deployed model, list one's deployed models, undeploy one.

    POST   /api/v1/models/{model_id}/predict/          {"inputs": [...]} (JSON; images as base64)
    POST   /api/v1/models/{model_id}/predict/images/   multipart image files in "inputs"
    GET    /api/v1/models/                      own deployed models, with the serving path's figures
    DELETE /api/v1/models/{model_id}/           undeploy (POST /distillations/{job_id}/deploy/ serves it again)
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import TokenScope

from . import selectors, services
from .throttles import PredictRateThrottle

ERROR_SHAPE = 'The body is {"error": {"code", "message", "field"?}}.'
# what both predict routes may refuse beyond their own 400 and 409
PREDICT_REFUSED = {
    402: OpenApiResponse(description="The caller's last usage bill could not be paid."),
    403: OpenApiResponse(description="Not the owner, a buyer or a current renter."),
    413: OpenApiResponse(description="The body is over PREDICT_MAX_BODY_BYTES."),
    429: OpenApiResponse(description="Too many requests in flight or per minute; Retry-After says when."),
    503: OpenApiResponse(description="The serving pool is down."),
}


class PredictInput(serializers.Serializer):
    inputs = serializers.ListField(child=serializers.JSONField(), allow_empty=False,
                                   help_text="texts; feature rows as lists or objects keyed by column; images as base64 "
                                             'text or {"b64": ...} (image files go to .../predict/images/)')


class PredictImagesInput(serializers.Serializer):
    """Image files, one per input (``POST .../predict/images/``)."""

    inputs = serializers.ListField(child=serializers.FileField(), allow_empty=False,
                                   help_text="image files (PNG, JPEG, ...), each one input, in the field \"inputs\"")


class PredictOutput(serializers.Serializer):
    class Output(serializers.Serializer):
        label = serializers.CharField()
        probabilities = serializers.DictField(child=serializers.FloatField(), help_text="label -> probability")

    model_id = serializers.UUIDField()
    version = serializers.CharField(help_text="the served export: format and the start of its sha256")
    outputs = Output(many=True)


class DeployedModelOutput(serializers.Serializer):
    model_id = serializers.UUIDField()
    job_id = serializers.UUIDField(source="job.job_id")
    export_format = serializers.CharField()
    served_format = serializers.CharField(source="serving_artifact.format", allow_null=True, default=None)
    task = serializers.SerializerMethodField()
    live = serializers.BooleanField(source="is_live")
    measured = serializers.JSONField(help_text="latency_ms_p50, latency_ms_p95, memory_bytes on the serving path")
    created_at = serializers.DateTimeField()
    undeployed_at = serializers.DateTimeField(allow_null=True)
    predict_url = serializers.SerializerMethodField()

    def get_task(self, deployment) -> str:
        return selectors.served_task(deployment)

    def get_predict_url(self, deployment) -> str:
        return f"/api/v1/models/{deployment.model_id}/predict/"


def deployment_or_404(request, model_id, *, light: bool = False):
    deployment = selectors.deployment_for(model_id=model_id, light=light)
    if deployment is None or not selectors.deployment_visible_to(user=request.user, deployment=deployment):
        raise Http404("No such deployed model.")
    return deployment


class PredictApi(APIView):
    permission_classes = [IsAuthenticated, TokenScope]
    throttle_classes = [PredictRateThrottle]  # PREDICT_RATE_PER_MINUTE per API token (serving/throttles.py)
    parser_classes = [JSONParser]  # image files have their own route, PredictImagesApi
    required_scope = "predict"

    @extend_schema(operation_id="models_predict", request=PredictInput,
                   responses={200: PredictOutput, **PREDICT_REFUSED,
                              400: OpenApiResponse(description="Bad inputs: the message names the input and the problem. " + ERROR_SHAPE),
                              409: OpenApiResponse(description="Undeployed, or no ONNX export to serve.")},
                   description="One {label, probabilities} per input, in order, from the deployed model (ONNX Runtime, "
                               "batched with concurrent calls). Metered; a priced listing bills buyers and renters.")
    def post(self, request, model_id):
        """Never routed: ``serving/endpoint.py`` serves this route (async) with this class's settings; the
        method is here for the schema alone."""
        raise exceptions.MethodNotAllowed("POST")

    def inputs_of(self, request):
        serializer = PredictInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["inputs"]


class PredictImagesApi(PredictApi):
    """Predict on image files sent as multipart (curl's ``-F inputs=@shirt.png``); the same checks, pool
    and metering as the JSON route, which takes images as base64."""

    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="models_predict_images", request=PredictImagesInput,
                   responses={200: PredictOutput, **PREDICT_REFUSED,
                              400: OpenApiResponse(description="No files, or a file that is not an image the model "
                                                               "takes; the message names the input. " + ERROR_SHAPE),
                              409: OpenApiResponse(description="Undeployed, not an image model, or no export to serve.")},
                   description="As predict, for image files: one {label, probabilities} per file, in order.")
    def post(self, request, model_id):
        """Never routed, as PredictApi.post."""
        raise exceptions.MethodNotAllowed("POST")

    def inputs_of(self, request):
        files = request.FILES.getlist("inputs")
        if not files:
            raise exceptions.ValidationError({"inputs": 'Send image files in the multipart field "inputs".'})
        return [upload.read() for upload in files]


class ModelsApi(APIView):
    permission_classes = [IsAuthenticated, TokenScope]

    @extend_schema(operation_id="models_list", responses={200: DeployedModelOutput(many=True)},
                   description="Your deployed models, live ones first.")
    def get(self, request):
        return Response(DeployedModelOutput(selectors.deployments_of(user=request.user), many=True).data)


class ModelApi(APIView):
    permission_classes = [IsAuthenticated, TokenScope]

    @extend_schema(operation_id="models_undeploy", request=None,
                   responses={200: DeployedModelOutput, 404: OpenApiResponse(description="No such deployed model of yours.")},
                   description="Undeploy: the model stops answering predictions; its exports and listing stay. "
                               "POST /api/v1/distillations/{job_id}/deploy/ serves it again.")
    def delete(self, request, model_id):
        deployment = selectors.deployment_for(model_id=model_id)
        if deployment is None or deployment.job.owner_id != request.user.pk:
            raise Http404("No such deployed model of yours.")
        return Response(DeployedModelOutput(services.model_undeploy(deployment=deployment)).data)
