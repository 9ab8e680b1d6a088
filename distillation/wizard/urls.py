from django.urls import path

from . import views

app_name = "wizard"

# /distill/ itself is the top-level URL name "distill" (prsm_site/urls.py), the navigation's link.
urlpatterns = [
    path("estimate/", views.estimate, name="estimate"),
    path("preview/", views.preview, name="preview"),
    path("teacher/card/<uuid:teacher_id>/", views.teacher_card, name="teacher-card"),
    path("submit/", views.submit, name="submit"),
    path("upload/<slug:kind>/", views.upload, name="upload"),
    path("<slug:slug>/", views.step, name="step"),
]
