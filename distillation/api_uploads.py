"""Uploaded teachers and data sets: list your own, upload one (multipart, field ``file``), read an analysis.
A refusal is raised (``UploadError``, a ``DomainError``) and answered by the API's exception handler."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError

from . import services
from .uploads import UploadError, UploadTooLarge, dataset_of, datasets_of, teacher_of, teachers_of

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and the other form fields


class SizeCapHandler(FileUploadHandler):
    """Stops reading an upload past the cap, so an oversized body is neither kept in memory nor on disk."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit, self.exceeded = limit, False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


class UploadApi(APIView):
    """Shared by both upload routes: the size cap is installed before the body is parsed."""

    parser_classes = [MultiPartParser]  # multipart only: the schema declares one body kind
    limit_setting = ""

    @property
    def limit(self) -> int:
        return getattr(settings, self.limit_setting)

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST":
            self.size_cap = SizeCapHandler(request, self.limit)
            request.upload_handlers = [self.size_cap, *request.upload_handlers]
        return super().initialize_request(request, *args, **kwargs)

    def refuse_if_too_large(self, request) -> None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit + MULTIPART_OVERHEAD or self._cap_hit(request):
            raise UploadTooLarge(self.limit)

    def _cap_hit(self, request) -> bool:
        request.data  # noqa: B018 - parse now, through the size cap
        return getattr(self, "size_cap", None) is not None and self.size_cap.exceeded


class DatasetOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    format = serializers.CharField()
    task = serializers.CharField()
    rows = serializers.IntegerField()
    classes = serializers.ListField(child=serializers.CharField())
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    status = serializers.CharField()
    status_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class TeacherOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    kind = serializers.CharField()
    task = serializers.CharField()
    classes = serializers.ListField(child=serializers.CharField())
    params = serializers.IntegerField(allow_null=True)
    dataset = serializers.UUIDField(source="dataset.public_id", allow_null=True, default=None)
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    status = serializers.ChoiceField(["uploaded", "ready", "rejected"],
                                     help_text="uploaded: a worker is loading it; ready: usable by id; rejected: see status_reason")
    status_reason = serializers.CharField()
    analysis_pending = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class TeacherAnalysisOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField()
    status_reason = serializers.CharField()
    analysis = serializers.JSONField(help_text="the engine's teacher analysis (as `prsm teacher analyze --json` prints), "
                                     "naming the teacher and its data set by their ids (`ref`), never by server paths")
    analysis_error = serializers.CharField()
    analyzed_at = serializers.DateTimeField(allow_null=True)


class DatasetUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or JSONL (text,label), tabular CSV, or a zip/tar of one folder per class")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)


class TeacherUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="an .onnx file, or a zip/tar of a Hugging Face directory or of a zoo folder")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    dataset = serializers.UUIDField(required=False, help_text="one of your data sets, to measure the teacher's accuracy")


REFUSED = {400: OpenApiResponse(description="refused, with the reason"), 413: OpenApiResponse(description="too large")}


class DatasetListCreateApi(UploadApi):
    limit_setting = "UPLOAD_MAX_DATASET_BYTES"

    @extend_schema(responses={200: DatasetOutput(many=True)})
    def get(self, request):
        return Response(DatasetOutput(datasets_of(user=request.user)[:100], many=True).data)

    @extend_schema(request={"multipart/form-data": DatasetUploadInput}, responses={201: DatasetOutput, **REFUSED})
    def post(self, request):
        self.refuse_if_too_large(request)
        serializer = DatasetUploadInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dataset = services.dataset_upload_create(owner=request.user, file=data["file"], name=data.get("name", ""))
        return Response(DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)


class TeacherListCreateApi(UploadApi):
    limit_setting = "UPLOAD_MAX_TEACHER_BYTES"

    @extend_schema(responses={200: TeacherOutput(many=True)})
    def get(self, request):
        return Response(TeacherOutput(teachers_of(user=request.user)[:100], many=True).data)

    @extend_schema(request={"multipart/form-data": TeacherUploadInput}, responses={201: TeacherOutput, **REFUSED})
    def post(self, request):
        self.refuse_if_too_large(request)
        serializer = TeacherUploadInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dataset = None
        if data.get("dataset"):
            dataset = dataset_of(user=request.user, public_id=data["dataset"])
            if dataset is None or dataset.status != dataset.Status.READY:
                raise UploadError("no ready data set of yours has that id", field="dataset")
        teacher = services.teacher_upload_create(owner=request.user, file=data["file"], name=data.get("name", ""),
                                                 dataset=dataset)
        return Response(TeacherOutput(teacher).data, status=status.HTTP_201_CREATED)


class TeacherAnalysisApi(APIView):
    @extend_schema(responses={200: TeacherAnalysisOutput,
                              409: OpenApiResponse(description="the analysis is still running; try again shortly")})
    def get(self, request, teacher_id):
        teacher = teacher_of(user=request.user, public_id=teacher_id)
        if teacher is None:
            raise Http404("No such teacher.")
        if teacher.analysis_pending:
            raise DomainError("The teacher is still being loaded and analysed; try again shortly.",
                              code="analysis_pending", status_code=status.HTTP_409_CONFLICT,
                              extra={"status": teacher.status})
        return Response(TeacherAnalysisOutput(teacher).data)
