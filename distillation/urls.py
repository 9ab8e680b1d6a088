from django.urls import path

from . import views

app_name = "distillation"

urlpatterns = [
    path("", views.job_list_page, name="jobs"),
    path("<uuid:job_id>/", views.job_page, name="job"),
    path("<uuid:job_id>/cancel/", views.job_cancel_page, name="job-cancel"),
    path("<uuid:job_id>/metrics.json", views.job_metrics, name="job-metrics"),
    path("<uuid:job_id>/search.json", views.job_search_chart, name="job-search"),
    path("<uuid:job_id>/comparison.json", views.job_comparison, name="job-comparison"),
    path("<uuid:job_id>/comparison/<slug:name>.json", views.job_comparison_chart, name="job-comparison-chart"),
]
