"""The webhooks REST API: register, list, read, change, delete endpoints; rotate a secret; send a
test event; list deliveries and re-send one. Owners only (another user's endpoint is a 404); writes
need the ``manage`` scope. Refusals are DomainErrors, answered by the API's one exception handler."""

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInput

from . import selectors, services
from .models import EVENT_TYPES, WebhookEndpoint

TAGS = ["webhooks"]


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.UUIDField(source="endpoint_id")
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(source="event_list", child=serializers.ChoiceField(choices=EVENT_TYPES))
    is_active = serializers.BooleanField()
    secret_prefix = serializers.CharField(help_text="the start of the signing secret, to tell secrets apart")
    consecutive_failures = serializers.IntegerField(help_text="event deliveries in a row that used up their retries")
    disabled_reason = serializers.CharField(help_text="why the platform disabled it; empty otherwise")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookEndpointSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="the signing secret: shown this once, never again")


class WebhookAttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    manual = serializers.BooleanField(help_text="a re-send by hand")
    status_code = serializers.IntegerField(allow_null=True, help_text="the answer's HTTP status; null: no answer")
    response_excerpt = serializers.CharField(help_text="the start of the answer's body (about 2 KB at most)")
    duration_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(help_text="why it failed; empty on a 2xx")
    succeeded = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField(source="delivery_id", help_text="the PRSM-Webhook-Id header, the same on every attempt")
    event_id = serializers.UUIDField(help_text="the body's id")
    type = serializers.CharField(source="event_type", help_text="job.completed, job.failed, model.sold or ping")
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    attempt_count = serializers.IntegerField()
    response_status = serializers.IntegerField(source="last_status_code", allow_null=True,
                                               help_text="the last attempt's HTTP status")
    response_excerpt = serializers.SerializerMethodField(help_text="the start of the last answer's body")
    duration_ms = serializers.SerializerMethodField(help_text="the last attempt's duration")
    error = serializers.CharField(source="last_error", help_text="why the last attempt failed; empty otherwise")
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="when a pending delivery is tried next")
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = WebhookAttemptOutput(many=True)

    def get_response_excerpt(self, delivery) -> str:
        last = delivery.last_attempt
        return last.response_excerpt if last else ""

    def get_duration_ms(self, delivery) -> float | None:
        last = delivery.last_attempt
        return last.duration_ms if last else None


def _endpoint_or_404(request, endpoint_id) -> WebhookEndpoint:
    endpoint = selectors.endpoint_of(user=request.user, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


class WebhookEndpointCreateInput(StrictInput):
    url = serializers.CharField(max_length=500, help_text="http or https; a private or loopback address is refused "
                                "unless the operator allows it (WEBHOOK_HOSTS_ALLOW)")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookEndpointUpdateInput(StrictInput):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="true enables it again (and clears its failure count)")


class WebhookEndpointsApi(APIView):
    required_scope = "manage"

    @extend_schema(operation_id="webhooks_list", tags=TAGS, responses={200: WebhookEndpointOutput(many=True)})
    def get(self, request):
        return Response(WebhookEndpointOutput(selectors.endpoints_of(user=request.user), many=True).data)

    @extend_schema(operation_id="webhooks_create", tags=TAGS, request=WebhookEndpointCreateInput,
                   responses={201: WebhookEndpointSecretOutput,
                              409: OpenApiResponse(description="At the most endpoints a user may have "
                                                   "(WEBHOOK_MAX_ENDPOINTS).")},
                   description="Register an endpoint. The answer holds its signing secret, this once.",
                   examples=[OpenApiExample("Jobs that end", request_only=True, value={
                       "url": "https://example.com/prsm-hook", "events": ["job.completed", "job.failed"]})])
    def post(self, request):
        serializer = WebhookEndpointCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(user=request.user, **serializer.validated_data)
        endpoint.secret = secret
        return Response(WebhookEndpointSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointApi(APIView):
    required_scope = "manage"

    @extend_schema(operation_id="webhooks_retrieve", tags=TAGS, responses={200: WebhookEndpointOutput})
    def get(self, request, endpoint_id):
        return Response(WebhookEndpointOutput(_endpoint_or_404(request, endpoint_id)).data)

    @extend_schema(operation_id="webhooks_partial_update", tags=TAGS, request=WebhookEndpointUpdateInput,
                   responses={200: WebhookEndpointOutput})
    def patch(self, request, endpoint_id):
        endpoint = _endpoint_or_404(request, endpoint_id)
        serializer = WebhookEndpointUpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", tags=TAGS, responses={204: None})
    def delete(self, request, endpoint_id):
        services.webhook_endpoint_delete(endpoint=_endpoint_or_404(request, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotateApi(APIView):
    required_scope = "manage"

    @extend_schema(operation_id="webhooks_rotate_secret", tags=TAGS, request=None,
                   responses={200: WebhookEndpointSecretOutput},
                   description="A new signing secret at once (the old one stops signing); shown this once.")
    def post(self, request, endpoint_id):
        endpoint, secret = services.webhook_endpoint_secret_rotate(endpoint=_endpoint_or_404(request, endpoint_id))
        endpoint.secret = secret
        return Response(WebhookEndpointSecretOutput(endpoint).data)


class WebhookPingApi(APIView):
    required_scope = "manage"

    @extend_schema(operation_id="webhooks_ping", tags=TAGS, request=None, responses={202: WebhookDeliveryOutput},
                   description="Queue a `ping` test event to the endpoint (one attempt; it never counts towards "
                   "disabling the endpoint). Its outcome is in the deliveries.")
    def post(self, request, endpoint_id):
        delivery = services.webhook_ping(endpoint=_endpoint_or_404(request, endpoint_id))
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveriesApi(ListAPIView):
    serializer_class = WebhookDeliveryOutput

    @extend_schema(operation_id="webhooks_deliveries_list", tags=TAGS)
    def get(self, request, endpoint_id):
        page = self.paginate_queryset(selectors.deliveries_of(endpoint=_endpoint_or_404(request, endpoint_id)))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class WebhookDeliveryResendApi(APIView):
    required_scope = "manage"

    @extend_schema(operation_id="webhooks_deliveries_resend", tags=TAGS, request=None,
                   responses={202: WebhookDeliveryOutput},
                   description="Send the delivery again now, with the same id and body (one more attempt).")
    def post(self, request, endpoint_id, delivery_id):
        delivery = selectors.delivery_of(endpoint=_endpoint_or_404(request, endpoint_id), delivery_id=delivery_id)
        if delivery is None:
            raise Http404("No such delivery.")
        delivery = services.webhook_delivery_resend(delivery=delivery)
        return Response(WebhookDeliveryOutput(selectors.deliveries_of(endpoint=delivery.endpoint).get(pk=delivery.pk)).data,
                        status=status.HTTP_202_ACCEPTED)
