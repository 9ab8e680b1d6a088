from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import views as accounts_views
from distillation.wizard import views as wizard_views
from serving import pages as serving_pages

from . import errors, healthz, views

api_v1 = [
    path("", include("accounts.api_urls")),
    path("", include("ledger.api_urls")),
    path("", include("distillation.api_urls")),
    path("", include("safety.api_urls")),
    path("", include("marketplace.api_urls")),
    path("", include("serving.api_urls")),
    path("", include("webhooks.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", healthz.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("account/", accounts_views.account_page, name="account"),
    path("account/webhooks/", include("webhooks.urls")),
    path("ledger/", include("ledger.urls")),
    path("jobs/", include("distillation.urls")),
    path("models/", serving_pages.models_page, name="models"),
    path("models/", include("serving.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("moderation/", include("moderation.urls")),
    path("distill/", wizard_views.distill, name="distill"),
    path("distill/", include("distillation.wizard.urls")),
    path("admin/login/", accounts_views.admin_login),  # the admin's own login view, under the login throttle
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on.
    re_path(r"^api/", errors.api_not_found),
]

handler400 = errors.handler400
handler404 = errors.handler404
handler500 = errors.handler500
