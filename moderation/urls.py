from django.urls import path

from . import operations_views, views

app_name = "moderation"

urlpatterns = [
    path("", views.console_page, name="console"),
    path("audit/", views.audit_page, name="audit"),
    path("audit.csv", views.audit_csv, name="audit-csv"),
    path("users/", views.users_page, name="users"),
    path("users/<int:pk>/suspend/", views.user_suspension_page, {"action": "suspend"}, name="user-suspend"),
    path("users/<int:pk>/reinstate/", views.user_suspension_page, {"action": "reinstate"}, name="user-reinstate"),
    path("listings/", views.listings_page, name="listings"),
    path("listings/<uuid:listing_id>/suspend/", views.listing_suspension_page, {"action": "suspend"},
         name="listing-suspend"),
    path("listings/<uuid:listing_id>/reinstate/", views.listing_suspension_page, {"action": "reinstate"},
         name="listing-reinstate"),
    path("operations/", operations_views.operations_page, name="operations"),
    path("operations/<slug:chart>.json", operations_views.operations_series_json, name="operations-series"),
    path("<slug:queue>/", views.queue_page, name="queue"),
    path("<slug:queue>/<int:pk>/decide/", views.decide_page, name="decide"),
]
