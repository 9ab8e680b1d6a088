"""The webhooks pages (/account/webhooks/): the endpoints and a form to add one; an endpoint's page with its
settings, actions and deliveries. Thin: the same services and selectors as the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.views import domain_errors_shown

from . import selectors, services
from .forms import WebhookEndpointForm

# A new secret waits here between the POST that made it and the one page that shows it.
NEW_SECRET_SESSION = "webhooks.new_secret"  # nosec B105  # a session key's name, no secret
RECENT_DELIVERIES = 50


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.endpoint_of(user=request.user, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _detail(endpoint, anchor: str = "") -> str:
    return reverse("webhooks:endpoint", args=[endpoint.endpoint_id]) + anchor


def _secret_keep(request, endpoint, secret: str) -> None:
    request.session[NEW_SECRET_SESSION] = {"endpoint_id": str(endpoint.endpoint_id), "secret": secret}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request):
    """The user's endpoints; a POST registers one and leads to its page, which shows the secret once."""
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with domain_errors_shown(request, form=form) as shown:
            endpoint, secret = services.webhook_endpoint_create(user=request.user, **form.cleaned_data)
        if shown.error is None:
            _secret_keep(request, endpoint, secret)
            return redirect(_detail(endpoint, "#new-secret"))
    return render(request, "webhooks/webhooks.html", {
        "endpoints": list(selectors.endpoints_of(user=request.user)), "form": form,
    }, status=400 if form.is_bound else 200)


@never_cache  # the page may show a new secret: no copy of it in any cache
@login_required
@require_http_methods(["GET", "POST"])
def endpoint_page(request, endpoint_id):
    """One endpoint: its settings (a POST changes them), actions, and recent deliveries with their attempts."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    initial = {"url": endpoint.url, "events": endpoint.event_list, "description": endpoint.description}
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with domain_errors_shown(request, form=form) as shown:
            services.webhook_endpoint_update(endpoint=endpoint, **form.cleaned_data)
        if shown.error is None:
            messages.success(request, "Endpoint saved.")
            return redirect(_detail(endpoint))
    new = request.session.pop(NEW_SECRET_SESSION, None)  # shown once, then gone
    return render(request, "webhooks/endpoint.html", {
        "endpoint": endpoint, "form": form,
        "new_secret": new["secret"] if new and new["endpoint_id"] == str(endpoint.endpoint_id) else None,
        "deliveries": list(selectors.deliveries_of(endpoint=endpoint)[:RECENT_DELIVERIES]),
    }, status=400 if form.is_bound else 200)


@login_required
@require_POST
def endpoint_toggle(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    endpoint = services.webhook_endpoint_update(endpoint=endpoint, is_active=not endpoint.is_active)
    messages.success(request, "Endpoint enabled: events are sent to it again." if endpoint.is_active
                     else "Endpoint disabled: no events are sent to it until you enable it.")
    return redirect(_detail(endpoint))


@login_required
@require_POST
def endpoint_rotate(request, endpoint_id):
    endpoint, secret = services.webhook_endpoint_secret_rotate(endpoint=_endpoint_or_404(request, endpoint_id))
    _secret_keep(request, endpoint, secret)
    return redirect(_detail(endpoint, "#new-secret"))


@login_required
@require_POST
def endpoint_ping(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_ping(endpoint=endpoint)
    messages.success(request, "Test event queued: reload this page in a moment to see how it went.")
    return redirect(_detail(endpoint, "#deliveries"))


@login_required
@require_POST
def endpoint_delete(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:list")


@login_required
@require_POST
def delivery_resend(request, endpoint_id, delivery_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    delivery = selectors.delivery_of(endpoint=endpoint, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    services.webhook_delivery_resend(delivery=delivery)
    messages.success(request, f"The {delivery.event_type} delivery is queued again: reload in a moment to see how it went.")
    return redirect(_detail(endpoint, "#deliveries"))
