from django.urls import path

from . import api

urlpatterns = [
    path("webhooks/", api.WebhookEndpointsApi.as_view(), name="api-webhooks"),
    path("webhooks/<uuid:endpoint_id>/", api.WebhookEndpointApi.as_view(), name="api-webhook"),
    path("webhooks/<uuid:endpoint_id>/rotate-secret/", api.WebhookSecretRotateApi.as_view(),
         name="api-webhook-rotate-secret"),
    path("webhooks/<uuid:endpoint_id>/ping/", api.WebhookPingApi.as_view(), name="api-webhook-ping"),
    path("webhooks/<uuid:endpoint_id>/deliveries/", api.WebhookDeliveriesApi.as_view(), name="api-webhook-deliveries"),
    path("webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/resend/", api.WebhookDeliveryResendApi.as_view(),
         name="api-webhook-delivery-resend"),
]
