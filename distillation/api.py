from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from pydantic import ValidationError as PydanticValidationError
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from ledger import selectors as ledger_selectors
from ledger.amounts import UNITS_PER_FTNS, display_ftns
from prsm.request import MAX_SEARCH_SECONDS, DistillationRequest, request_errors

from . import selectors, services
from .downloads import artifact_download_response
from .planning import plan

SEED_EXAMPLE = OpenApiExample(
    "The seed's request",
    value={"teacher_model": "catalog:sentiment-minilm", "domain": "sentiment", "target_size": "small",
           "optimization_target": "speed", "budget_ftns": 1000, "quality_threshold": 0.85},
    request_only=True,
)


class TeacherWeightSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="catalog:NAME or an uploaded-teacher id")
    weight = serializers.FloatField(min_value=0, max_value=1, help_text="its share; the weights sum to 1")
    domain = serializers.CharField(required=False, help_text="fusion_strategy domain_routing: rows whose 'domain' "
                                                              "column says this go to this teacher")


class DistillationRequestSerializer(serializers.Serializer):
    """Documents the body; validation itself is prsm.request.DistillationRequest's (every seed field)."""

    teacher_model = serializers.CharField(required=False, help_text="catalog:NAME")
    teacher_models = TeacherWeightSerializer(many=True, required=False, help_text=(
        "several teachers with weights (an ensemble, instead of teacher_model): their outputs are fused into the "
        "student's soft targets; the student is built from the one with the largest weight; one teacher fee each"))
    ensemble_teachers = serializers.ListField(child=serializers.CharField(), required=False, help_text=(
        "teachers fused with equal weights, after teacher_model when it is given; or true when teacher_models is "
        "the ensemble"))
    fusion_strategy = serializers.ChoiceField(["weighted_ensemble", "confidence", "domain_routing"], required=False,
                                              help_text="how an ensemble's outputs are fused (default weighted_ensemble)")
    training_strategy = serializers.ChoiceField(["basic", "progressive", "adversarial", "curriculum"], required=False,
                                                help_text=(
        "basic (default): logit distillation; progressive: a teacher assistant of intermediate size learns first and "
        "teaches the student; adversarial: robust distillation on PGD perturbations (pixels, features, text embeddings; the report "
        "measures accuracy under attack); curriculum: easy examples first, by the teacher's confidence. The seed's "
        "augmentation names adversarial and curriculum ask for these too; paraphrase is refused (no model offline)"))
    adversarial_epsilon = serializers.FloatField(required=False, min_value=0, max_value=1, help_text=(
        "adversarial: the perturbations' size (pixels on 0..1; tabular: feature standard deviations)"))
    augmentation_techniques = serializers.ListField(child=serializers.CharField(), required=False, help_text=(
        "shift, flip (images), noise (tabular), token_mask (text); adversarial and curriculum are training strategies"))
    base_model = serializers.CharField(required=False, help_text=(
        "an incremental update: the id of a finished job or a deployed model of yours; the student starts as a copy "
        "of its model (PyTorch or Transformers) and learns dataset (and teacher_model's outputs, when given)"))
    update_strategy = serializers.ChoiceField(["incremental"], required=False)
    preserve_existing_knowledge = serializers.BooleanField(required=False, help_text=(
        "with base_model: its own training data is replayed and the base model teaches it, so what it knew is kept; "
        "the report measures the forgetting"))
    new_knowledge_domains = serializers.ListField(child=serializers.CharField(), required=False)
    source_model = serializers.CharField(required=False, help_text=(
        "domain adaptation: a finished job or deployed model of yours, or catalog:NAME; it teaches on dataset (the "
        "domain's labelled rows) and domain_corpus, and the student starts from it"))
    target_domain = serializers.CharField(required=False)
    domain_corpus = serializers.CharField(required=False, help_text="the domain's unlabelled rows: an uploaded-dataset id or builtin:NAME")
    adaptation_strategy = serializers.ChoiceField(["domain_transfer"], required=False)
    specialty_requirements = serializers.ListField(child=serializers.DictField(), required=False, help_text=(
        "named checks of the finished student: [{name, minimum, data?, class_name?}] with name one of accuracy, "
        "per_class_accuracy, macro_f1, agreement (or {NAME: MINIMUM}); a missed one stops a deploy"))
    knowledge_alignment = serializers.BooleanField(required=False, help_text=(
        "match an ensemble's label sets by name (another order, extra labels) and fit each teacher's temperature on "
        "the validation split before fusing"))
    dataset = serializers.CharField(required=False, help_text="builtin:NAME; a catalog teacher defaults to its own data")
    domain = serializers.CharField(required=False)
    target_size = serializers.ChoiceField(["small", "medium", "large"], required=False)
    optimization_target = serializers.ChoiceField(["speed", "accuracy", "efficiency"], required=False)
    budget_ftns = serializers.IntegerField(required=False, min_value=1)
    quality_threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
    export_formats = serializers.ListField(child=serializers.CharField(), required=False)
    backend = serializers.ChoiceField(["auto", "pytorch", "transformers", "tensorflow"], required=False, help_text=(
        "auto (default): tensorflow for a keras, savedmodel or tflite export or a mobile target, transformers for "
        "text, pytorch otherwise; a named backend that cannot serve the request is a 400 naming backend"))
    target_hardware = serializers.ListField(child=serializers.ChoiceField(["cpu", "mobile", "gpu"]), required=False,
                                            help_text="where the student runs (default ['cpu']); mobile: the latency and "
                                                      "memory limits hold for the int8 TFLite file on one thread, which "
                                                      "is always exported; gpu: refused where no CUDA device is present")
    epochs = serializers.IntegerField(required=False, min_value=1)
    seed = serializers.IntegerField(required=False)
    temperature = serializers.FloatField(required=False, help_text="softmax temperature of the soft targets "
                                         "(default: chosen by the search; 4 with search off)")
    alpha = serializers.FloatField(required=False, min_value=0, max_value=1,
                                   help_text="weight of the teacher's soft targets against the labels "
                                             "(default: chosen by the search; 0.7 with search off)")
    search = serializers.ChoiceField(["off", "quick", "thorough"], required=False, help_text=(
        "short trials choose the student's design, temperature, alpha and learning rate on the validation split, "
        "then the winner trains fully; adds time (in the estimate's search_s). Default quick; thorough tries more "
        "and longer; off uses the design rule with temperature 4 and alpha 0.7"))
    search_seconds = serializers.FloatField(required=False, min_value=0, max_value=MAX_SEARCH_SECONDS,
                                            help_text="start no new search trial after this many seconds (more than 0)")
    unlabelled_data = serializers.CharField(required=False, help_text="a transfer set: builtin:NAME or an uploaded-dataset id")
    max_unlabelled_examples = serializers.IntegerField(required=False, min_value=1)
    text_variants = serializers.IntegerField(required=False, min_value=0, max_value=50)
    vocabulary_size = serializers.IntegerField(required=False, min_value=2)
    student_base = serializers.CharField(required=False, help_text="text: builtin:all-minilm-l6-v2")


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
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_costs(self, job) -> dict:
        hold = self.context["holds"].get(services.job_hold_reference(job))
        if hold is None:
            return {}
        return {"held_ftns": display_ftns(hold.amount), "state": hold.state,
                "charged_ftns": display_ftns(hold.charged), "released_ftns": display_ftns(hold.released)}

    def get_queue_position(self, job) -> int | None:
        return self.context["queue"][job.pk][0]

    def get_eta_s(self, job) -> float | None:
        return self.context["queue"][job.pk][1]


class EstimateOutput(serializers.Serializer):
    """The planner's estimate (``distillation.planning.Plan.estimate``); more fields may come, never fewer."""

    cost_ftns = serializers.CharField(help_text="the cost in FTNS, as text with its decimals")
    cost_units = serializers.IntegerField(help_text="the cost in the smallest unit")
    within_budget = serializers.BooleanField(help_text="cost_units <= the request's budget_ftns")
    breakdown_units = serializers.DictField(help_text="teacher fees, compute, validation, search, ... in units")
    compute_hours = serializers.FloatField()
    duration_s = serializers.FloatField(help_text="the expected wall time of the run, seconds")
    backend = serializers.CharField()
    backend_reason = serializers.CharField()
    teacher = serializers.CharField()
    task = serializers.CharField()
    dataset = serializers.CharField(allow_null=True)
    epochs = serializers.IntegerField()
    teacher_speed = serializers.JSONField(help_text="what the teacher's speed rests on (measured or guessed)")
    teacher_owner_id = serializers.IntegerField(allow_null=True)
    teacher_build_s = serializers.FloatField(help_text="a catalog teacher's first build, seconds (0 when built)")
    search = serializers.JSONField(help_text="the search's trial schedule, or null when it is off")
    search_s = serializers.FloatField()
    expected = serializers.JSONField(help_text="the expected student; see the description")
    teachers = serializers.ListField(child=serializers.DictField(), help_text="ref, weight, kind, params of each")
    teacher_owner_ids = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    starts_from = serializers.DictField(required=False, help_text="an update's or adaptation's model: ref, kind, job_id")
    teacher_http = serializers.DictField(required=False, help_text="a teacher over HTTP: provider and token pricing")


class ArtifactOutput(serializers.Serializer):
    format = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    verified = serializers.BooleanField()
    max_abs_diff = serializers.FloatField(allow_null=True, help_text="the export's largest difference from the student")
    download = serializers.URLField()


JOB_REFUSED = {
    400: OpenApiResponse(description="The request is invalid: `error.field` names the field and the message says why."),
    409: OpenApiResponse(description="`insufficient_funds` for the hold, or a teacher, data set or model that is not "
                                     "ready to use."),
    422: OpenApiResponse(description="`over_budget`: the estimate is over `budget_ftns` (the body holds the estimate)."),
}


def _job_output(jobs, *, many: bool = False) -> dict | list:
    """Jobs as JobOutput, with their holds and queue figures read once for all of them."""
    listed = list(jobs) if many else [jobs]
    holds = ledger_selectors.holds_by_reference(references=[services.job_hold_reference(job) for job in listed])
    context = {"holds": holds, "queue": selectors.jobs_queue_figures(jobs=listed)}
    return JobOutput(listed if many else jobs, many=many, context=context).data


def _parse(data) -> DistillationRequest:
    try:
        return DistillationRequest.model_validate(data)
    except PydanticValidationError as exc:
        first = request_errors(exc)[0]
        raise DomainError(first["message"], field=first["field"], code="invalid", status_code=400) from None


def _job_or_404(request, job_id):
    job = selectors.job_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


class JobListCreateApi(APIView):
    @extend_schema(responses={200: JobOutput(many=True)})
    def get(self, request):
        return Response(_job_output(selectors.jobs_of(user=request.user)[:100], many=True))

    @extend_schema(request=DistillationRequestSerializer, responses={201: JobOutput, **JOB_REFUSED},
                   examples=[SEED_EXAMPLE])
    def post(self, request):
        job = services.distillation_job_create(owner=request.user, request=_parse(request.data))
        return Response(_job_output(job), status=status.HTTP_201_CREATED)


ESTIMATE_DESCRIPTION = (
    "Cost, duration and backend for a request, without creating a job. `expected` predicts the student: "
    "`source` is `past_runs` (the latest completed jobs on this server, anyone's, with the same teacher and "
    "target_size, else with any teacher of the same task; figures only) or `design_rule` (none yet); `runs` "
    "counts the jobs; `params`, `compression`, `latency_ms_p50` and `retention` are [min, max] ranges, null "
    "where unknown (a design rule's params are [null, the size budget] and its compression [the target's ratio, "
    "null]; both null when the teacher's size is not known before the run); `basis` says in words what the figures "
    "rest on.")


class EstimateApi(APIView):
    @extend_schema(operation_id="distillations_estimate", request=DistillationRequestSerializer,
                   responses={200: EstimateOutput, 400: JOB_REFUSED[400], 409: JOB_REFUSED[409]},
                   examples=[SEED_EXAMPLE], description=ESTIMATE_DESCRIPTION)
    def post(self, request):
        parsed = _parse(request.data)
        estimate = plan(request=parsed, owner=request.user).estimate()
        return Response({**estimate, "within_budget": estimate["cost_units"] <= parsed.budget_ftns * UNITS_PER_FTNS})


class JobDetailApi(APIView):
    @extend_schema(responses={200: JobOutput})
    def get(self, request, job_id):
        return Response(_job_output(_job_or_404(request, job_id)))


class JobCancelApi(APIView):
    @extend_schema(operation_id="distillations_cancel", request=None,
                   responses={200: JobOutput, 409: OpenApiResponse(description="The job has already ended.")})
    def post(self, request, job_id):
        job = services.job_cancel(job=_job_or_404(request, job_id))
        return Response(_job_output(job))


class JobArtifactsApi(APIView):
    @extend_schema(operation_id="distillations_artifacts", responses={200: ArtifactOutput(many=True)})
    def get(self, request, job_id):
        job = _job_or_404(request, job_id)
        return Response([
            {"format": a.format, "sha256": a.sha256, "size_bytes": a.size_bytes, "verified": a.verified,
             "max_abs_diff": a.max_abs_diff,
             "download": request.build_absolute_uri(f"/api/v1/distillations/{job.job_id}/artifacts/{a.format}/download/")}
            for a in job.artifacts.order_by("format")
        ])


class ArtifactDownloadApi(APIView):
    @extend_schema(operation_id="distillations_artifact_download", responses={(200, "application/octet-stream"): bytes})
    def get(self, request, job_id, export_format):
        job = _job_or_404(request, job_id)
        return artifact_download_response(job.artifacts.filter(format=export_format).first())
