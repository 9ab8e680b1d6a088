"""Reads for webhooks: a user's endpoints and an endpoint's deliveries (another user's is None: a 404)."""

from .models import WebhookDelivery, WebhookEndpoint


def endpoints_of(*, user):
    return WebhookEndpoint.objects.filter(user=user)


def endpoint_of(*, user, endpoint_id) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(user=user, endpoint_id=endpoint_id).first()


def deliveries_of(*, endpoint: WebhookEndpoint):
    """Newest first, each with its attempts."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempts")


def delivery_of(*, endpoint: WebhookEndpoint, delivery_id) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(endpoint=endpoint, delivery_id=delivery_id).first()
