from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """An operator can disable an endpoint here; its secret is stored encrypted and never shown."""

    list_display = ("url", "user", "events", "is_active", "consecutive_failures", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "user__username")
    fields = ("user", "url", "description", "events", "is_active", "secret_prefix", "consecutive_failures",
              "disabled_reason", "created_at")
    readonly_fields = ("user", "url", "events", "secret_prefix", "created_at")

    def has_add_permission(self, request):
        return False  # made by their owners, who see the secret once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event_type", "endpoint", "status", "attempt_count", "last_status_code", "created_at")
    list_filter = ("status", "event_type")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
