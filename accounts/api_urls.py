from django.urls import path

from . import api

urlpatterns = [
    path("auth/register/", api.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("tokens/", api.ApiTokensApi.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", api.ApiTokenApi.as_view(), name="api-token-revoke"),
    path("auth/providers/", api.ProviderCredentialsApi.as_view(), name="api-providers"),
]
