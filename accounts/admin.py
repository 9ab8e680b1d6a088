from django.contrib import admin

from .forms import ThrottledAdminAuthenticationForm
from .models import ApiToken

# /admin/login/ counts failures with the site's login and the API's token route (accounts.throttles);
# prsm_site/urls.py routes it through accounts.views.admin_login, which answers 429 when throttled.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """A leaked key can be revoked here; the key itself is never stored, only its hash and prefix."""

    list_display = ("name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "name", "prefix", "scopes", "created_at", "last_used_at")
    fields = ("user", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request):
        return False  # a key is made by its owner, on the account page, and shown once
