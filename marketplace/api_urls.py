from django.urls import path

from . import api

urlpatterns = [
    # deploy-then-list composes distillation's deploy with a listing, so it is served from here
    path("distillations/<uuid:job_id>/deploy/", api.JobDeployApi.as_view(), name="api-distillation-deploy"),
    path("marketplace/models/", api.ListingSearchApi.as_view(), name="api-marketplace-models"),
    path("marketplace/models/<uuid:listing_id>/", api.ListingDetailApi.as_view(), name="api-marketplace-model"),
    path("marketplace/models/<uuid:listing_id>/ratings/", api.ListingRatingsApi.as_view(),
         name="api-marketplace-model-ratings"),
    path("marketplace/models/<uuid:listing_id>/purchase/", api.ListingPurchaseApi.as_view(),
         name="api-marketplace-model-purchase"),
    path("marketplace/models/<uuid:listing_id>/download/", api.ListingDownloadApi.as_view(),
         name="api-marketplace-model-download"),
    path("marketplace/models/<uuid:listing_id>/report/", api.ListingReportApi.as_view(),
         name="api-marketplace-model-report"),
]
