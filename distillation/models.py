import uuid

from django.conf import settings
from django.db import models


class DistillationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    job_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="distillation_jobs")
    request = models.JSONField(help_text="the validated DistillationRequest")
    engine_config = models.JSONField(help_text="the engine's DistillConfig derived from the request")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0)
    current_stage = models.CharField(max_length=40, default="queued")
    backend = models.CharField(max_length=20)
    backend_reason = models.CharField(max_length=300)
    estimate = models.JSONField(default=dict)
    cost_estimate_ftns = models.PositiveIntegerField()
    priority = models.SmallIntegerField(default=0)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    lease_token = models.PositiveIntegerField(default=0, help_text="fencing token: bumped by every worker that takes the job")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=100), name="job_progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class JobEvent(models.Model):
    """Append-only: what the job's websocket streamed, replayable from any ``seq``."""

    job = models.ForeignKey(DistillationJob, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=16)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="job_event_seq_unique")]


class Artifact(models.Model):
    job = models.ForeignKey(DistillationJob, on_delete=models.CASCADE, related_name="artifacts")
    format = models.CharField(max_length=40)
    path = models.CharField(max_length=500, help_text="relative to MEDIA_ROOT")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    verified = models.BooleanField(default=False)
    max_abs_diff = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "format"], name="artifact_format_unique")]


class DeployedModel(models.Model):
    model_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.OneToOneField(DistillationJob, on_delete=models.PROTECT, related_name="deployment")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    # What answers predictions: an ONNX export of the job (the int8 one when it verified and the request
    # asked for speed), measured on the serving path at deploy (serving.measure: p50/p95 latency for one
    # input, resident memory of the loaded model). Null for a deployment made before serving existed.
    serving_artifact = models.ForeignKey(Artifact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    measured = models.JSONField(default=dict, blank=True)
    undeployed_at = models.DateTimeField(null=True, blank=True, help_text="set by undeploy; a redeploy clears it")

    @property
    def export_format(self) -> str:
        return self.artifact.format

    @property
    def is_live(self) -> bool:
        return self.undeployed_at is None


class Upload(models.Model):
    """What teachers and data sets share: an untrusted file stored under MEDIA_ROOT by id, never by its name."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded"
        READY = "ready"
        REJECTED = "rejected"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text="shown to people only; never a path")
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(help_text="bytes uploaded")
    path = models.CharField(max_length=500, help_text="relative to MEDIA_ROOT")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    status_reason = models.TextField(blank=True, help_text="why it was rejected")
    task = models.CharField(max_length=16, blank=True, help_text="text, tabular or image, once known")
    classes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id}, {self.status})"


class Dataset(Upload):
    class Format(models.TextChoices):
        CSV = "csv"
        JSONL = "jsonl"
        IMAGES = "images", "image folders"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    format = models.CharField(max_length=16, choices=Format.choices)
    rows = models.PositiveIntegerField(default=0)

    class Meta(Upload.Meta):
        constraints = [models.CheckConstraint(condition=models.Q(size_bytes__gt=0), name="dataset_size_positive")]


class Teacher(Upload):
    class Kind(models.TextChoices):
        ONNX = "onnx"
        HUGGINGFACE = "huggingface", "Hugging Face"
        ZOO = "zoo"
        KERAS = "keras", "Keras"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="teachers")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    dataset = models.ForeignKey(Dataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="teachers",
                                help_text="the owner's data set the analysis measures accuracy on")
    params = models.BigIntegerField(null=True, blank=True)
    analysis = models.JSONField(null=True, blank=True)
    analysis_error = models.TextField(blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)

    class Meta(Upload.Meta):
        constraints = [models.CheckConstraint(condition=models.Q(size_bytes__gt=0), name="teacher_size_positive")]

    @property
    def analysis_pending(self) -> bool:
        return self.status == self.Status.UPLOADED or (self.status == self.Status.READY and self.analyzed_at is None)
