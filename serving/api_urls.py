from django.urls import path

from . import api
from .endpoint import predict_endpoint, predict_images_endpoint

# the predict routes are served by async views; drf-spectacular documents them from PredictApi and PredictImagesApi

urlpatterns = [
    path("models/", api.ModelsApi.as_view(), name="api-models"),
    path("models/<uuid:model_id>/", api.ModelApi.as_view(), name="api-model"),
    path("models/<uuid:model_id>/predict/", predict_endpoint, name="api-model-predict"),
    path("models/<uuid:model_id>/predict/images/", predict_images_endpoint, name="api-model-predict-images"),
]
