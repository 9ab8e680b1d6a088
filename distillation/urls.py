from django.urls import path

from . import views

app_name = "distillation"

urlpatterns = [
    path("", views.job_list_page, name="jobs"),
    path("<uuid:job_id>/", views.job_page, name="job"),
    path("<uuid:job_id>/metrics.json", views.job_metrics, name="job-metrics"),
]
