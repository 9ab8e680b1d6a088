from django.urls import path

from . import api

urlpatterns = [
    path("safety/reports/<uuid:job_id>/", api.SafetyReportApi.as_view(), name="api-safety-report"),
]
