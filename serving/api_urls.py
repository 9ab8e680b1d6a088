from django.urls import path

from . import api
from .endpoint import predict_endpoint

# the predict route is served by an async view; drf-spectacular documents it from PredictApi
predict_endpoint.cls, predict_endpoint.initkwargs = api.PredictApi, {}

urlpatterns = [
    path("models/", api.ModelsApi.as_view(), name="api-models"),
    path("models/<uuid:model_id>/", api.ModelApi.as_view(), name="api-model"),
    path("models/<uuid:model_id>/predict/", predict_endpoint, name="api-model-predict"),
]
