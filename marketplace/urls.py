from django.urls import path

from . import views

app_name = "marketplace"

urlpatterns = [
    path("jobs/<uuid:job_id>/deploy/", views.job_deploy_page, name="job-deploy"),
    path("jobs/<uuid:job_id>/list/", views.job_list_page, name="job-list"),
]
