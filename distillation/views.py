from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render

from . import selectors


def _visible_job(request, job_id):
    job = selectors.job_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


@login_required
def job_page(request, job_id):
    return render(request, "distillation/job.html", {"job": _visible_job(request, job_id)})


@login_required
def job_metrics(request, job_id):
    return JsonResponse(selectors.job_metric_series(_visible_job(request, job_id)))


@login_required
def job_list_page(request):
    return render(request, "distillation/jobs.html", {"jobs": selectors.jobs_of(user=request.user)[:100]})
