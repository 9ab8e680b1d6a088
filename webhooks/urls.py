from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("", views.webhooks_page, name="list"),
    path("<uuid:endpoint_id>/", views.endpoint_page, name="endpoint"),
    path("<uuid:endpoint_id>/toggle/", views.endpoint_toggle, name="toggle"),
    path("<uuid:endpoint_id>/rotate/", views.endpoint_rotate, name="rotate"),
    path("<uuid:endpoint_id>/ping/", views.endpoint_ping, name="ping"),
    path("<uuid:endpoint_id>/delete/", views.endpoint_delete, name="delete"),
    path("<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/resend/", views.delivery_resend, name="resend"),
]
