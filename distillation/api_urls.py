from django.urls import path

from . import api, api_uploads

# POST distillations/<job_id>/deploy/ deploys and, when the request asked, lists the model: it is the
# marketplace's route (marketplace/api_urls.py), which builds on these.
urlpatterns = [
    path("distillations/", api.JobListCreateApi.as_view(), name="api-distillations"),
    path("distillations/estimate/", api.EstimateApi.as_view(), name="api-distillation-estimate"),
    path("distillations/<uuid:job_id>/", api.JobDetailApi.as_view(), name="api-distillation"),
    path("distillations/<uuid:job_id>/cancel/", api.JobCancelApi.as_view(), name="api-distillation-cancel"),
    path("distillations/<uuid:job_id>/artifacts/", api.JobArtifactsApi.as_view(), name="api-distillation-artifacts"),
    path("distillations/<uuid:job_id>/artifacts/<str:export_format>/download/", api.ArtifactDownloadApi.as_view(),
         name="api-distillation-artifact-download"),
    path("teachers/", api_uploads.TeacherListCreateApi.as_view(), name="api-teachers"),
    path("teachers/<uuid:teacher_id>/analysis/", api_uploads.TeacherAnalysisApi.as_view(), name="api-teacher-analysis"),
    path("datasets/", api_uploads.DatasetListCreateApi.as_view(), name="api-datasets"),
]
