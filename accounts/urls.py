from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="token-revoke"),
    path("providers/", views.provider_save, name="provider-save"),
    path("providers/<str:name>/delete/", views.provider_delete, name="provider-delete"),
]
