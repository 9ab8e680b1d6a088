"""The operations page (/moderation/operations/): staff only, moderators included (every moderator is
staff). Thin: the figures and series come from ``operations``."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import operations

CHARTS = [
    ("jobs", "Jobs submitted an hour", "The seed sets no target for this; the chart of jobs running at once carries "
     "the 50+ concurrent target."),
    ("success", "Success rate", "Completed jobs as a share of those that completed or failed in each bucket "
     "(a job its owner cancelled counts as neither). Target: over 95%."),
    ("wait", "Queue wait, p50 and p95", "From submitted to started, for the jobs that started in each bucket. "
     "Target: under an hour."),
    ("concurrency", "Jobs running at once", "The mean number of jobs running during each bucket, from each job's "
     "start and end: the platform's busy time. Target: 50 or more at once."),
    ("workers", "Workers alive and busy", "Worker processes with a live heartbeat, and those holding a message, "
     "from a sample every five minutes. A gap: no worker or no scheduler was running to take one."),
    ("utilisation", "Worker utilisation", "The share of live worker processes busy, over the bucket's samples. "
     "The seed sets no target for it; near 100% for long means jobs wait for a worker."),
]


def staff_required(view):
    @login_required
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("The operations page is for staff.")
        return view(request, *args, **kwargs)

    return guarded


def _window(request) -> operations.Window:
    return operations.WINDOWS.get(request.GET.get("window", "day"), operations.WINDOWS["day"])


@staff_required
@require_GET
def operations_page(request):
    window = _window(request)
    broker, workers = operations.broker_now(), operations.workers_now()
    return render(request, "moderation/operations.html", {
        "window": window, "windows": operations.WINDOWS.values(), "charts": CHARTS,
        "jobs_now": operations.jobs_by_state(), "broker": broker, "workers": workers,
        "busy_share": operations.busy_worker_share(broker, workers),
        "running_note": f"jobs running now (target: {operations.TARGET_CONCURRENT_JOBS}+ at once)",
        "targets": {"concurrent": operations.TARGET_CONCURRENT_JOBS, "wait": operations.TARGET_WAIT_MINUTES,
                    "success": operations.TARGET_SUCCESS_RATE}})


@staff_required
@require_GET
def operations_series_json(request, chart):
    if chart not in operations.CHARTS:
        raise Http404("No such chart.")
    return JsonResponse(operations.chart_series(chart, _window(request)))
