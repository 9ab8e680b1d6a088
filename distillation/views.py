from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from . import selectors


@login_required
def job_page(request, job_id):
    job = selectors.job_visible_to(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return render(request, "distillation/job.html", {"job": job})


@login_required
def job_list_page(request):
    return render(request, "distillation/jobs.html", {"jobs": selectors.jobs_of(user=request.user)[:100]})
