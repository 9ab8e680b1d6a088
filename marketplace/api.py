"""The marketplace's REST API: deploy (and list), search, a listing's page, list, purchase, rate,
download, report. Refusals are DomainErrors, answered by the API's one exception handler."""

from django.db.models import prefetch_related_objects
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInput
from distillation import selectors as distillation_selectors
from distillation.downloads import artifact_download_response
from distillation.models import DeployedModel
from ledger.amounts import format_ftns
from ledger.api import FtnsAmountField
from ledger.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent

from . import selectors, services
from .catalogue import export_formats_list
from .categories import CHOICES as CATEGORY_CHOICES
from .categories import TASKS, category_label
from .models import Listing, Purchase

ERROR_SHAPE = 'The body is {"error": {"code", "message", "field"?}}.'


def _ftns(units):
    return None if units is None else format_ftns(units)


class ListingOutput(serializers.Serializer):
    id = serializers.UUIDField(source="listing_id")
    model_id = serializers.UUIDField(source="deployment.model_id")
    owner = serializers.CharField(source="owner.username")
    title = serializers.CharField()
    description = serializers.CharField()
    domain = serializers.CharField()
    status = serializers.CharField(help_text="active | suspended | withdrawn (only owners and current buyers see the last two)")
    price_buy = serializers.SerializerMethodField(help_text="FTNS; null: not for sale")
    price_buy_units = serializers.IntegerField(source="price_buy", allow_null=True)
    price_rent = serializers.SerializerMethodField(help_text="FTNS per rent period; null: not for rent")
    price_rent_units = serializers.IntegerField(source="price_rent", allow_null=True)
    rent_period_days = serializers.IntegerField()
    price_per_1k_predictions = serializers.SerializerMethodField(help_text="FTNS per 1,000 predictions for buyers and renters")
    price_per_1k_predictions_units = serializers.IntegerField(source="price_per_1k_predictions")
    retention = serializers.FloatField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    rating = serializers.SerializerMethodField()
    category = serializers.CharField(help_text="a slug of the taxonomy (docs/MARKETPLACE.md), e.g. text/sentiment")
    category_label = serializers.SerializerMethodField()
    task = serializers.CharField(help_text="text, image or tabular")
    compression = serializers.FloatField(allow_null=True, help_text="teacher parameters / student parameters")
    size_bytes = serializers.IntegerField(allow_null=True, help_text="the listed export's size")
    export_formats = serializers.SerializerMethodField(help_text="the verified exports")
    family_id = serializers.UUIDField(source="family.family_id", allow_null=True, default=None)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    def get_category_label(self, listing) -> str:
        return category_label(listing.category)

    def get_export_formats(self, listing) -> list[str]:
        return export_formats_list(listing.export_formats)

    def get_price_buy(self, listing) -> str | None:
        return _ftns(listing.price_buy)

    def get_price_rent(self, listing) -> str | None:
        return _ftns(listing.price_rent)

    def get_price_per_1k_predictions(self, listing) -> str:
        return format_ftns(listing.price_per_1k_predictions)

    def get_rating(self, listing) -> dict:
        average = getattr(listing, "rating_avg", None)
        return {"average": None if average is None else round(average, 2), "count": getattr(listing, "rating_count", 0)}


class ListingDetailOutput(ListingOutput):
    model_card = serializers.CharField(source="page.model_card", help_text="Markdown")
    benchmarks = serializers.DictField(source="page.benchmarks",
                                       help_text="retention, compression_ratio, speedup, latency_ms_p50/p95, accuracy...")
    lineage = serializers.DictField(source="page.lineage", help_text="job_id, teachers, data_sha256, backend, task")
    exports = serializers.ListField(source="page.exports", child=serializers.CharField())
    purchased = serializers.SerializerMethodField(help_text="the caller may download it (owner, buyer, current rent)")

    def to_representation(self, listing):
        listing.page = selectors.listing_page(listing=listing)
        return super().to_representation(listing)

    def get_purchased(self, listing) -> bool:
        user = self.context["request"].user
        return user.is_authenticated and selectors.listing_download_allowed(listing=listing, user=user)


def _listing_or_404(request, listing_id) -> Listing:
    listing = selectors.listing_visible_to(user=request.user, listing_id=listing_id)
    if listing is None:
        raise Http404("No such listing.")
    return listing


class DeployInput(StrictInput):
    export_format = serializers.CharField(required=False)


class DeployOutput(serializers.Serializer):
    model_id = serializers.UUIDField()
    export_format = serializers.CharField()
    served_format = serializers.CharField(allow_null=True, help_text="the export the serving pool runs")
    measured = serializers.JSONField(help_text="latency_ms_p50, latency_ms_p95, memory_bytes on the serving path")
    predict_url = serializers.CharField(help_text="POST {\"inputs\": [...]} here")
    listing_id = serializers.UUIDField(required=False, help_text="with the request's marketplace_listing")


class JobDeployApi(APIView):
    @extend_schema(operation_id="distillations_deploy", request=DeployInput,
                   responses={201: DeployOutput,
                              409: OpenApiResponse(description="Not completed, its safety breaker tripped or rejected, "
                                                               "a measured limit missed (the figures in the message), "
                                                               "or no such export. " + ERROR_SHAPE)},
                   description="Deploy a completed job; with the request's marketplace_listing, also list it "
                   "(listing_id). 409 while its safety breaker is tripped or rejected.")
    def post(self, request, job_id):
        job = distillation_selectors.job_visible_to(user=request.user, job_id=job_id)
        if job is None:
            raise Http404("No such job.")
        serializer = DeployInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        deployed = services.job_deploy_and_list(job=job, export_format=serializer.validated_data.get("export_format"))
        body = {"model_id": str(deployed.model_id), "export_format": deployed.export_format,
                "served_format": deployed.serving_artifact.format if deployed.serving_artifact_id else None,
                "measured": deployed.measured, "predict_url": f"/api/v1/models/{deployed.model_id}/predict/"}
        if listing := getattr(deployed, "listing", None):  # the request's marketplace_listing
            body["listing_id"] = str(listing.listing_id)
        return Response(body, status=status.HTTP_201_CREATED)


class ListingCreateInput(StrictInput):
    model_id = serializers.UUIDField(help_text="the deployed model (POST /distillations/{job_id}/deploy/ gives it)")
    title = serializers.CharField(max_length=200, required=False, default="")
    description = serializers.CharField(max_length=20_000, required=False, default="", allow_blank=True)
    price_buy = FtnsAmountField(required=False, allow_null=True, help_text="FTNS; omit or null: not for sale")
    price_rent = FtnsAmountField(required=False, allow_null=True, help_text="FTNS per period; omit or null: not for rent")
    rent_period_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, default=30)
    price_per_1k_predictions = FtnsAmountField(required=False, help_text="FTNS per 1,000 predictions of the served "
                                               "model, charged to buyers and renters; 0 or omitted: free")
    category = serializers.CharField(max_length=60, required=False, default="", allow_blank=True,
                                     help_text="a slug of the taxonomy its task allows; omit: assigned from the job")

    def validate(self, data):
        if data.get("price_buy") is None and data.get("price_rent") is None:
            raise serializers.ValidationError({"price_buy": ["Give a price to buy, to rent, or both."]})
        return data


class ListingSearchApi(APIView):
    pagination_class = LimitOffsetPagination

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class SearchFilters(serializers.Serializer):
        q = serializers.CharField(required=False, default="", max_length=200, allow_blank=True,
                                  help_text="words of the title, description, category, domain or model card")
        domain = serializers.CharField(required=False, default="", max_length=100, allow_blank=True)
        category = serializers.ChoiceField(choices=[*TASKS, *(slug for slug, _ in CATEGORY_CHOICES)], required=False,
                                           default="", allow_blank=True, help_text="a category, or a task for all of its")
        task = serializers.ChoiceField(choices=TASKS, required=False, default="", allow_blank=True)
        min_retention = serializers.FloatField(required=False, min_value=0)
        max_latency_ms = serializers.FloatField(required=False, min_value=0)
        max_size_bytes = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1,
                                                  help_text="the listed export's size")
        max_price = FtnsAmountField(required=False, help_text="FTNS; a buy or rent price at most this")
        export_format = serializers.RegexField(r"^[a-z0-9_-]{0,40}$", required=False, default="", allow_blank=True,
                                               help_text="a verified export, e.g. onnx")
        min_rating = serializers.FloatField(required=False, min_value=1, max_value=5)
        ordering = serializers.ChoiceField(choices=list(selectors.ORDERINGS), required=False, default="",
                                           allow_blank=True, help_text="default: relevance with q, else newest")

    @extend_schema(operation_id="marketplace_models_list", parameters=[SearchFilters],
                   responses={200: ListingOutput(many=True)})
    def get(self, request):
        filters = self.SearchFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.listing_search(**filters.validated_data), request, view=self)
        prefetch_related_objects(page, "deployment", "family")  # model_id and family_id, for this page only
        return paginator.get_paginated_response(ListingOutput(page, many=True).data)

    @extend_schema(operation_id="marketplace_models_create", request=ListingCreateInput,
                   description="List a deployed model you own. 409 while its job's safety breaker is tripped or "
                   "rejected, or when it is already listed.",
                   responses={201: ListingDetailOutput, 404: OpenApiResponse(description="No such deployed model of yours."),
                              409: OpenApiResponse(description=ERROR_SHAPE)})
    def post(self, request):
        serializer = ListingCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        deployment = DeployedModel.objects.filter(model_id=data.pop("model_id"), job__owner=request.user).first()
        if deployment is None:
            raise Http404("No such deployed model of yours.")
        data.setdefault("price_buy", None)
        data.setdefault("price_rent", None)
        listing = services.listing_create(owner=request.user, deployment=deployment, **data)
        listing = selectors.listing_visible_to(user=request.user, listing_id=listing.listing_id)
        return Response(ListingDetailOutput(listing, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ListingUpdateInput(StrictInput):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    price_buy = FtnsAmountField(required=False, allow_null=True)
    price_rent = FtnsAmountField(required=False, allow_null=True)
    rent_period_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    price_per_1k_predictions = FtnsAmountField(required=False, help_text="FTNS per 1,000 predictions of the served "
                                               "model, charged to buyers and renters; 0 or omitted: free")
    category = serializers.CharField(max_length=60, required=False,
                                     help_text="a slug of the taxonomy its task allows; 400 otherwise")
    status = serializers.ChoiceField(choices=[Listing.Status.ACTIVE, Listing.Status.WITHDRAWN], required=False)


class ListingDetailApi(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(operation_id="marketplace_models_retrieve", responses={200: ListingDetailOutput})
    def get(self, request, listing_id):
        return Response(ListingDetailOutput(_listing_or_404(request, listing_id), context={"request": request}).data)

    @extend_schema(operation_id="marketplace_models_partial_update", request=ListingUpdateInput,
                   description="The owner changes the text or prices, withdraws (status=withdrawn) or relists.",
                   responses={200: ListingDetailOutput, 403: OpenApiResponse(description=ERROR_SHAPE),
                              409: OpenApiResponse(description=ERROR_SHAPE)})
    def patch(self, request, listing_id):
        listing = _listing_or_404(request, listing_id)
        serializer = ListingUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.listing_update(listing=listing, user=request.user, **serializer.validated_data)
        listing = selectors.listing_visible_to(user=request.user, listing_id=listing_id)
        return Response(ListingDetailOutput(listing, context={"request": request}).data)


class PurchaseInput(StrictInput):
    kind = serializers.ChoiceField(choices=Purchase.Kind.choices, default=Purchase.Kind.BUY)
    expected_price = FtnsAmountField(help_text="the price you accept, in FTNS: the listing's price_buy (or price_rent "
                                     "for a rent) as you read it; 409 `price_changed` when it is not the price now")
    rent_period_days = serializers.IntegerField(min_value=1, max_value=3650, required=False,
                                                help_text="a rent only, and required for one: the period you accept; "
                                                "409 `price_changed` when it is not the period now")

    def validate(self, data):
        renting = data["kind"] == Purchase.Kind.RENT
        if renting and "rent_period_days" not in data:
            raise serializers.ValidationError({"rent_period_days": ["Give the rent period you accept."]}, code="required")
        if not renting and "rent_period_days" in data:
            raise serializers.ValidationError({"rent_period_days": ["Only a rent has a period."]})
        return data


class PurchaseOutput(serializers.Serializer):
    purchase_id = serializers.IntegerField(source="pk")
    listing_id = serializers.UUIDField(source="listing.listing_id")
    kind = serializers.CharField()
    price = serializers.SerializerMethodField()
    price_units = serializers.IntegerField(source="price")
    transaction_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_price(self, purchase) -> str:
        return format_ftns(purchase.price)


class ListingPurchaseApi(APIView):
    @extend_schema(operation_id="marketplace_models_purchase", request=PurchaseInput, parameters=[IDEMPOTENCY_KEY_PARAMETER],
                   description="Buy (download for good) or rent (until the rent period ends) at the price you state "
                   "(`expected_price`, and for a rent `rent_period_days`): when the listing's price or period is no "
                   "longer that, the answer is 409 `price_changed` and nothing is charged. The price is split by the "
                   "ledger's sale: 70% creator, 20% teachers' owners (or the job's revenue_sharing), 10% platform.",
                   responses={201: PurchaseOutput,
                              400: OpenApiResponse(description="A missing or malformed field (`expected_price`, "
                                                   f"`rent_period_days`), an unknown one, or no Idempotency-Key. {ERROR_SHAPE}"),
                              404: OpenApiResponse(description="No such listing."),
                              409: OpenApiResponse(description="`price_changed`, `insufficient_funds`, already owned, "
                                                   f"not on sale (suspended), or `idempotency_key_reused`. {ERROR_SHAPE}")})
    @idempotent
    def post(self, request, listing_id):
        # a suspended or withdrawn listing is a 409 here (not on sale), not a 404
        listing = selectors.listing_by_id(listing_id=listing_id)
        if listing is None:
            raise Http404("No such listing.")
        serializer = PurchaseInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        purchase = services.listing_purchase(listing=listing, buyer=request.user, kind=data["kind"],
                                             expected_price=data["expected_price"],
                                             expected_period_days=data.get("rent_period_days"))
        return Response(PurchaseOutput(purchase).data, status=status.HTTP_201_CREATED)


class RatingInput(StrictInput):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    review = serializers.CharField(max_length=5000, required=False, default="", allow_blank=True)


class RatingOutput(serializers.Serializer):
    rater = serializers.CharField(source="rater.username")
    stars = serializers.IntegerField()
    review = serializers.CharField()
    created_at = serializers.DateTimeField()


class ListingRatingsApi(APIView):
    @extend_schema(operation_id="marketplace_models_ratings_create", request=RatingInput,
                   responses={201: RatingOutput, 403: OpenApiResponse(description=f"Buyers only. {ERROR_SHAPE}"),
                              409: OpenApiResponse(description=f"Already rated. {ERROR_SHAPE}")})
    def post(self, request, listing_id):
        listing = _listing_or_404(request, listing_id)
        serializer = RatingInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        rating = services.listing_rate(listing=listing, rater=request.user, **serializer.validated_data)
        return Response(RatingOutput(rating).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="marketplace_models_ratings_update", request=RatingInput,
                   description="Change your own rating of the model (stars and review).",
                   responses={200: RatingOutput, 403: OpenApiResponse(description=f"Buyers only. {ERROR_SHAPE}"),
                              404: OpenApiResponse(description=f"Not rated yet. {ERROR_SHAPE}")})
    def patch(self, request, listing_id):
        listing = _listing_or_404(request, listing_id)
        serializer = RatingInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        rating = services.listing_rating_update(listing=listing, rater=request.user, **serializer.validated_data)
        return Response(RatingOutput(rating).data)


class ReportInput(StrictInput):
    reason = serializers.CharField(max_length=2000)


class ListingReportApi(APIView):
    @extend_schema(operation_id="marketplace_models_report", request=ReportInput,
                   description="Report a listing to the moderators (one open report per user and listing).",
                   responses={201: dict, 409: OpenApiResponse(description=f"Already reported. {ERROR_SHAPE}")})
    def post(self, request, listing_id):
        listing = _listing_or_404(request, listing_id)
        serializer = ReportInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.listing_report_create(listing=listing, reporter=request.user,
                                                reason=serializer.validated_data["reason"])
        return Response({"report_id": report.pk, "status": report.status, "created_at": report.created_at},
                        status=status.HTTP_201_CREATED)


class FormatIsAnExport(DefaultContentNegotiation):
    """``?format=onnx`` names the export here, not DRF's renderer override (which would answer 404)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ListingDownloadApi(APIView):
    content_negotiation_class = FormatIsAnExport

    class DownloadQuery(serializers.Serializer):
        format = serializers.CharField(required=False, max_length=40, help_text="an export format; the deployed one by default")

    @extend_schema(operation_id="marketplace_models_download", parameters=[DownloadQuery],
                   responses={(200, "application/octet-stream"): bytes,
                              403: OpenApiResponse(description="Owners and buyers only (a rent not expired); a buyer keeps "
                                                   "a withdrawn listing, not one a moderator suspended. "
                                                   f"{ERROR_SHAPE}")})
    def get(self, request, listing_id):
        listing = _listing_or_404(request, listing_id)
        if not selectors.listing_download_allowed(listing=listing, user=request.user):
            if listing.status == Listing.Status.SUSPENDED:
                raise exceptions.PermissionDenied("A moderator suspended this listing; it downloads again if reinstated.")
            raise exceptions.PermissionDenied("Only the owner and buyers (a rent not expired) can download this model.")
        query = self.DownloadQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data.get("format") or listing.deployment.export_format
        response = artifact_download_response(listing.job.artifacts.filter(format=wanted, verified=True).first())
        services.listing_download_record(listing=listing, user=request.user, export_format=wanted)
        return response
