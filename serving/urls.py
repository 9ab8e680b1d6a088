"""The serving pages under /models/ (the list itself keeps the URL name ``models``, named in prsm_site.urls)."""

from django.urls import path

from . import pages

app_name = "serving"

urlpatterns = [
    path("<uuid:model_id>/try/", pages.try_it, name="try"),
    path("<uuid:model_id>/undeploy/", pages.model_undeploy_page, name="undeploy"),
    path("<uuid:model_id>/deploy/", pages.model_redeploy_page, name="redeploy"),
]
