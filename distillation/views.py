import re

import markdown
import nh3
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.views import domain_errors_shown
from ledger import selectors as ledger_selectors
from ledger.amounts import display_ftns
from safety import selectors as safety_selectors

from . import selectors, services
from .formatting import duration_text
from .models import DistillationJob

JOBS_PER_PAGE = 20
# No images, image maps or page structure in a card: an image would fetch from wherever its author chose.
CARD_TAGS = nh3.ALLOWED_TAGS - {"img", "map", "area", "header", "footer", "nav", "article", "aside"}
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)  # the card's YAML block is for the Hugging Face hub
# What each comparison chart is, for its caption and its description (selectors.job_comparison_charts).
COMPARISON_TEXT = {
    "accuracy": ("Accuracy: teacher and student", "Share of the held-out test split each model classified correctly."),
    "size": ("Size in parameters", "Parameters (weights) of each model; fewer load faster and take less memory."),
    "latency": ("Latency p50 and p95", "Milliseconds per example on this machine's CPU, batch 1, after warm-up."),
    "per_class": ("The student's accuracy per class", "Share of each class's test examples the student got right."),
    "confusion": ("The student's confusion matrix",
                  "Test examples by true class (rows) and the class the student predicted (columns)."),
    "reliability": ("Calibration: how sure against how right",
                    "For test examples grouped by the model's confidence, the share it got right; on the diagonal, "
                    "a model is exactly as sure as it is right. Below it, over-confident."),
}
BREAKER_MEANING = {
    "closed": "Every safety check passed: the model may be deployed and listed.",
    "tripped": ("A safety check failed, so the circuit breaker tripped: deploying and listing wait until a moderator "
                "approves the model."),
    "approved": "The breaker tripped, and a moderator then approved the model: it may be deployed and listed.",
    "rejected": "A moderator rejected the model: it cannot be deployed or listed.",
}
PHASES = {"before": 0, "during": 1, "after": 2}


class CancelForm(forms.Form):
    """No fields: the button, and a place for the refusal beside it."""


class DeployForm(forms.Form):
    export_format = forms.ChoiceField(label="Export to serve", required=False,
                                      help_text="Only exports that reloaded and matched the student are offered.")

    def __init__(self, *args, job: DistillationJob, **kwargs):
        super().__init__(*args, **kwargs)
        formats = job.artifacts.filter(verified=True).order_by("format").values_list("format", flat=True)
        self.fields["export_format"].choices = [(name, name) for name in formats]
        self.fields["export_format"].initial = "onnx" if "onnx" in formats else None


class ListingForm(forms.Form):
    """What the marketplace's listing takes (marketplace/views.py acts on it); prices in FTNS."""

    title = forms.CharField(max_length=200, required=False, help_text="Leave empty for one made from the domain.")
    description = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    price_buy = forms.DecimalField(label="Price to buy (FTNS)", required=False, min_value=0.000001, max_digits=18,
                                   decimal_places=6, initial=10, help_text="Empty: not for sale.")
    price_rent = forms.DecimalField(label="Price to rent (FTNS a period)", required=False, min_value=0.000001,
                                    max_digits=18, decimal_places=6, initial=2, help_text="Empty: not for rent.")
    rent_period_days = forms.IntegerField(label="Rent period (days)", min_value=1, max_value=3650, initial=30)
    price_per_1k_predictions = forms.DecimalField(
        label="Price per 1,000 predictions (FTNS)", required=False, min_value=0, max_digits=18, decimal_places=6,
        help_text="Charged to buyers and renters who call the served model; empty or 0: free.")

    def clean(self):
        data = super().clean()
        if data.get("price_buy") is None and data.get("price_rent") is None and not self.errors:
            self.add_error("price_buy", "Give a price to buy, to rent, or both.")
        return data


def visible_job_or_404(request, job_id):
    """The signed-in person's job (staff see any); a 404 for anyone else's, as for one that does not exist."""
    job = selectors.job_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


@login_required
def job_page(request, job_id):
    return job_page_response(request, visible_job_or_404(request, job_id))


def job_page_response(request, job, *, status: int = 200, **forms_shown):
    """The job page; a view that acted on one of its forms passes the bound form back (with its error)."""
    context = {"job": job, **_job_context(request, job)}
    context.update(cancel_form=CancelForm(), deploy_form=DeployForm(job=job), listing_form=ListingForm())
    context.update(forms_shown)
    return render(request, "distillation/job.html", context, status=status)


def _job_context(request, job) -> dict:
    position, eta = selectors.jobs_queue_figures(jobs=[job])[job.pk]
    context = {
        "queue_position": position, "eta": duration_text(eta), "duration_s": (job.estimate or {}).get("duration_s"),
        "hold": _hold_of(job),
        "timeline": selectors.job_stage_timeline(job), "log_lines": selectors.job_log_lines(job),
        "search": selectors.job_search(job),
        "rerun_url": f"/distill/?from={job.job_id}",
    }
    if job.status == DistillationJob.Status.COMPLETED:
        context.update(_result_context(request, job))
    return context


def _hold_of(job):
    """The job's budget hold: held, charged and released (what the API's ``costs`` shows)."""
    reference = services.job_hold_reference(job)
    return ledger_selectors.holds_by_reference(references=[reference]).get(reference)


def _result_context(request, job) -> dict:
    report = job.report or {}
    safety = safety_selectors.safety_report_visible_to(user=request.user, job_id=job.job_id)
    checks = report.get("checks") or {}
    charts = selectors.job_comparison_charts(job)
    return {
        "retention_percent": None if report.get("retention") is None else report["retention"] * 100,
        "baseline": report.get("baseline"),
        "comparison": [{"name": name, "title": COMPARISON_TEXT[name][0], "description": COMPARISON_TEXT[name][1]}
                       for name in charts],
        "safety": safety, "breaker_meaning": BREAKER_MEANING.get(safety.breaker_state) if safety else None,
        "safety_checks": sorted((safety.checks if safety else {}).items(), key=lambda item: PHASES.get(item[1].get("phase"), 3)),
        "quality_checks": [(name, check) for name, check in checks.items() if isinstance(check, dict) and not check.get("phase")],
        "artifacts": job.artifacts.order_by("format"),
        "model_card_html": model_card_html(selectors.job_model_card(job=job)),
        "deploy_blocker": selectors.job_deploy_blocker(job),
        "deployment": selectors.job_deployment(job),
    }


def model_card_html(text: str | None) -> str | None:
    """The engine's Markdown model card as HTML, sanitised (nh3), its headings under the page's."""
    if not text:
        return None
    html = nh3.clean(markdown.markdown(FRONT_MATTER.sub("", text, count=1), extensions=["tables", "fenced_code"]),
                     tags=CARD_TAGS)
    html = re.sub(r"<(/?)h([1-6])\b", lambda m: f"<{m[1]}h{min(int(m[2]) + 2, 6)}", html)
    # a wide table (the search's trials) scrolls inside its own box on a phone, not the page
    html = html.replace("<table>", '<div class="table-scroll"><table>').replace("</table>", "</table></div>")
    return mark_safe(html)  # nosec B308 B703  # nh3 cleaned it above


@login_required
@require_POST
def job_cancel_page(request, job_id):
    job = visible_job_or_404(request, job_id)
    form = CancelForm(request.POST)
    with domain_errors_shown(request, form=form) as shown:
        job = services.job_cancel(job=job)
    if shown.error is not None:
        return job_page_response(request, job, cancel_form=form, status=shown.error.status_code)
    if job.status == DistillationJob.Status.CANCELLED:
        hold = _hold_of(job)
        released = f" {display_ftns(hold.released)} FTNS went back to your wallet." if hold else ""
        messages.success(request, f"The job was cancelled.{released}")
    else:
        messages.success(request, "Cancel requested: the worker stops the run within seconds and charges only the time used.")
    return redirect("distillation:job", job_id=job.job_id)


@login_required
def job_metrics(request, job_id):
    return JsonResponse(selectors.job_metric_series(visible_job_or_404(request, job_id)))


@login_required
def job_search_chart(request, job_id):
    """The search's trials as chart series (the job page's search chart)."""
    return JsonResponse(selectors.job_search_series(visible_job_or_404(request, job_id)))


@login_required
def job_comparison(request, job_id):
    """Every comparison chart's series, by name (what the page's charts draw, one URL each below)."""
    return JsonResponse(selectors.job_comparison_charts(visible_job_or_404(request, job_id)))


@login_required
def job_comparison_chart(request, job_id, name):
    chart = selectors.job_comparison_charts(visible_job_or_404(request, job_id)).get(name)
    if chart is None:
        raise Http404("The report has no figures for this chart.")
    return JsonResponse(chart)


@login_required
def job_list_page(request):
    status = request.GET.get("status", "")
    if status not in DistillationJob.Status.values:
        status = ""
    jobs = selectors.jobs_of(user=request.user)
    if status:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    queue = selectors.jobs_queue_figures(jobs=list(page.object_list))
    rows = [{"job": job, "queue_position": queue[job.pk][0]} for job in page.object_list]
    return render(request, "distillation/jobs.html", {
        "page": page, "rows": rows, "status": status, "statuses": DistillationJob.Status.choices,
        "has_any": page.paginator.count > 0 or selectors.jobs_of(user=request.user).exists(),
    })
