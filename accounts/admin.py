from django.contrib import admin

from .forms import ThrottledAdminAuthenticationForm

# /admin/login/ counts failures with the site's login and the API's token route (accounts.throttles);
# prsm_site/urls.py routes it through accounts.views.admin_login, which answers 429 when throttled.
admin.site.login_form = ThrottledAdminAuthenticationForm
