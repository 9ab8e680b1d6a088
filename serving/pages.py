"""The serving pages: "try it" (a fragment the job page and the listing page load with htmx, and a page of
its own without JS) and my deployed models (/models/) with undeploy and deploy again. They call the
services and selectors the predict API calls."""

from __future__ import annotations

import json
import shlex
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.views import domain_errors_shown, show_domain_error
from marketplace import services as marketplace_services

from . import selectors, services
from .forms import TryForm, try_shape
from .models import Prediction

MODELS_PER_PAGE = 20
CHART_TOP = 10  # bars shown: the most likely labels


@require_http_methods(["GET", "POST"])
def try_it(request, model_id):
    """GET: the form for the model's kind; POST (signed in): its answer beside the form. htmx gets the
    fragment; a browser without JS gets a page of its own, posting to itself."""
    deployment = _visible_deployment_or_404(request, model_id)
    if request.method == "POST" and not request.user.is_authenticated:
        return _to_login(request)
    shape = try_shape(deployment)
    context = {"deployment": deployment, "shape": shape, "result": None, "status": 200}
    if request.method == "POST":
        form = TryForm(request.POST, request.FILES, shape=shape)
        context.update(_answer(request, deployment, form))
    else:
        form = TryForm(shape=shape)
    context.update(form=form, **_try_state(request, deployment))
    template = "serving/_try_it.html" if request.htmx else "serving/try_it.html"
    return render(request, template, context, status=200 if request.htmx else context["status"])  # htmx swaps only 2xx


def _answer(request, deployment, form) -> dict:
    if not form.is_valid():
        return {"status": 400}
    started = time.perf_counter()
    with domain_errors_shown(request, form=form) as shown:
        answer = services.model_predict(user=request.user, deployment=deployment, inputs=form.inputs(),
                                        source=Prediction.Source.TRY)
    if shown.error is not None:
        return {"status": shown.error.status_code, "error_code": shown.error.code}
    latency_ms = (time.perf_counter() - started) * 1000
    return {"result": _result(answer, latency_ms)}


def _result(answer: dict, latency_ms: float) -> dict:
    output = answer["outputs"][0]
    ranked = sorted(output["probabilities"].items(), key=lambda item: -item[1])
    shown = ranked[:CHART_TOP]
    chart = {"x_title": "Probability", "series": [{
        "key": "probability", "name": "Probability", "type": "bar", "orientation": "h",
        "x": [round(p, 6) for _, p in shown], "y": [label for label, _ in shown]}]}
    top = output["probabilities"].get(output["label"])
    return {"label": output["label"], "percent": None if top is None else top * 100,
            "rows": [{"label": label, "percent": p * 100} for label, p in shown], "classes": len(ranked),
            "chart_json": json.dumps(chart), "version": answer["version"], "latency_ms": latency_ms}


def _try_state(request, deployment) -> dict:
    """Who is trying: a visitor (sign in first), the owner, a buyer or renter, someone on the free daily
    quota (with what is left of it), or someone who may not call the model."""
    user = request.user
    access = selectors.predict_access(user=user, deployment=deployment, trial=True) if user.is_authenticated else None
    quota = settings.TRY_IT_FREE_PER_DAY
    left = max(0, quota - selectors.trials_today(user=user)) if access == "trial" else None
    here = request.htmx.current_url_abs_path if request.htmx and request.htmx.current_url_abs_path else request.path
    return {"access": access, "quota": quota, "tries_left": left, "login_url": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': here})}",
            "served": deployment.is_live and selectors.served_path(deployment) is not None,
            "is_owner": user.is_authenticated and deployment.job.owner_id == user.pk}


def _visible_deployment_or_404(request, model_id):
    deployment = selectors.deployment_for(model_id=model_id)
    if deployment is None or not selectors.deployment_visible_to(user=request.user, deployment=deployment):
        raise Http404("No such model.")
    return deployment


def _to_login(request):
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.htmx.current_url_abs_path or request.path})}"
        return response
    return redirect_to_login(request.get_full_path())


@login_required
def models_page(request):
    deployments = selectors.deployments_of(user=request.user).select_related("listing")
    page = Paginator(deployments, MODELS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [_model_row(request, deployment) for deployment in page.object_list]
    return render(request, "serving/models.html", {"page": page, "rows": rows})


def _model_row(request, deployment) -> dict:
    report = deployment.job.report or {}
    measured = deployment.measured or {}
    predict_url = request.build_absolute_uri(reverse("api-model-predict", args=[deployment.model_id]))
    return {"deployment": deployment, "retention_percent": _percent(report.get("retention")),
            "measured": measured, "memory_bytes": measured.get("memory_bytes"),
            "usage": selectors.usage_of(deployment=deployment), "predict_url": predict_url,
            "curl": _curl(predict_url, try_shape(deployment)), "served": selectors.served_path(deployment) is not None}


def _curl(url: str, shape: dict) -> str:
    task = shape["task"]
    if task == "text":
        inputs = ["What a wonderful film."]
    elif task == "image":
        inputs = ["BASE64_OF_A_PNG_OR_JPEG"]
    else:
        inputs = [[0] * (shape["features"] or 4)]
    body = json.dumps({"inputs": inputs}, separators=(",", ":"))
    return (f"curl -X POST {shlex.quote(url)} \\\n"
            "  -H 'Authorization: Token YOUR_API_TOKEN' -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(body)}")


def _percent(share):
    return None if share is None else share * 100


def _owned_deployment_or_404(request, model_id):
    deployment = selectors.deployment_for(model_id=model_id)
    if deployment is None or deployment.job.owner_id != request.user.pk:
        raise Http404("No such model.")
    return deployment


@login_required
@require_POST
def model_undeploy_page(request, model_id):
    """Undeploy after a confirmation: the first POST (from /models/) asks, the second (``confirmed``) acts."""
    deployment = _owned_deployment_or_404(request, model_id)
    if request.POST.get("confirmed") != "yes":
        return render(request, "serving/undeploy_confirm.html",
                      {"deployment": deployment, "usage": selectors.usage_of(deployment=deployment)})
    services.model_undeploy(deployment=deployment)
    messages.success(request, f"Model {deployment.model_id} is undeployed: it answers no predictions until you deploy it again.")
    return redirect("models")


@login_required
@require_POST
def model_redeploy_page(request, model_id):
    deployment = _owned_deployment_or_404(request, model_id)
    try:
        marketplace_services.job_deploy_and_list(job=deployment.job)
    except DomainError as error:
        show_domain_error(request, error, about=f"Deploying model {deployment.model_id} again")
    else:
        messages.success(request, f"Model {deployment.model_id} is deployed again.")
    return redirect("models")
