from django.contrib import admin, messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.views import domain_errors_shown
from ledger import selectors as ledger_selectors
from ledger.statements import statement_rows

from . import selectors, services, throttles
from .forms import ApiTokenForm, ProviderCredentialForm, SignupForm, ThrottledAuthenticationForm

# A new key waits here between the POST that made it and the one page that shows it.
NEW_KEY_SESSION = "accounts.new_api_key"
RECENT_ENTRIES = 10

# The form's names for the fields the sign-up service's errors name.
SIGNUP_FIELDS = {"username": "username", "email": "email", "password": "password1"}  # nosec B105  # field names, no secret


def signup(request):
    if request.method != "POST":
        return render(request, "accounts/signup.html", {"form": SignupForm()})
    try:
        throttles.signup_slot_take(request)
    except throttles.SignupThrottled as exc:
        initial = {name: request.POST.get(name, "") for name in ("username", "email")}
        response = render(request, "accounts/signup.html", {"form": SignupForm(initial=initial), "refusal": exc.message},
                          status=429)
        response["Retry-After"] = str(exc.wait)
        return response
    form = SignupForm(request.POST)
    user = _signup(form)
    if user is None:
        throttles.signup_slot_return(request)
        return render(request, "accounts/signup.html", {"form": form}, status=400)
    login(request, user, backend="accounts.backends.UsernameBackend")
    return redirect("home")


def _signup(form: SignupForm):
    """The new user, or None with the reasons on the form."""
    if not form.is_valid():
        return None
    try:
        return services.user_create(
            username=form.cleaned_data["username"], password=form.cleaned_data["password1"], email=form.cleaned_data["email"]
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(SIGNUP_FIELDS.get(field), errors)
        return None


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        form.login_client.remember_device(self.request, response)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 429 if form.throttled else 400
        return response


def admin_login(request):
    """Django admin's login page, under the site's login throttle (its form: accounts/admin.py)."""
    response = admin.site.login(request)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "throttled", False):
        response.status_code = 429
    elif request.method == "POST" and response.status_code == 302 and request.user.is_authenticated:
        throttles.LoginClient.of(request, request.user.get_username()).remember_device(request, response)
    return response


@require_POST
def logout_view(request):
    logout(request)
    return redirect("home")


@never_cache  # the page may show a new key: no copy of it in any cache
@login_required
@require_http_methods(["GET", "POST"])
def account_page(request):
    """Balance and recent entries, API tokens (a POST makes one), and notifications."""
    if request.method != "POST":
        return _account(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        with domain_errors_shown(request, form=form) as shown:
            token, key = services.api_token_create(user=request.user, name=form.cleaned_data["name"],
                                                      scopes=form.cleaned_data["scopes"])
        if shown.error is None:
            request.session[NEW_KEY_SESSION] = {"id": token.pk, "key": key}
            return redirect(reverse("account") + "#new-key")
    return _account(request, form, status=400)


def _account(request, form, status=200, provider_form=None):
    user = request.user
    entries = ledger_selectors.wallet_entries(user=user)[:RECENT_ENTRIES]
    tokens = list(selectors.api_tokens_of(user=user))
    for token in tokens:
        token.scope_list = [scope for scope in token.SCOPES if scope in token.scope_set]
    new_key = request.session.pop(NEW_KEY_SESSION, None)  # shown once, then gone
    new_token = next((token for token in tokens if new_key and token.pk == new_key["id"]), None)
    return render(request, "accounts/account.html", {
        "balance": ledger_selectors.wallet_balance(user=user),
        "held": ledger_selectors.wallet_held(user=user),
        "promo_credit": ledger_selectors.wallet_promo_credit(user=user),
        "rows": list(statement_rows(entries)),
        "tokens": tokens,
        "token_limit": services.API_TOKEN_LIMIT,
        "new_key": new_key["key"] if new_token else None,
        "new_token": new_token,
        "form": form,
        "notifications": selectors.notifications_of(user=user),
        "providers": list(user.provider_credentials.all()),
        "provider_form": provider_form or ProviderCredentialForm(),
    }, status=status)


@login_required
@require_POST
def provider_save(request):
    """Save a provider key (teachers over HTTP); the key is never shown again."""
    form = ProviderCredentialForm(request.POST)
    if form.is_valid():
        with domain_errors_shown(request, form=form) as shown:
            services.provider_credential_save(user=request.user, **form.cleaned_data)
        if shown.error is None:
            messages.success(request, f"Provider key “{form.cleaned_data['name']}” saved.")
            return redirect(reverse("account") + "#providers")
    form.data = form.data.copy()
    form.data["key"] = ""  # never echoed back into the page
    return _account(request, ApiTokenForm(), status=400, provider_form=form)


@login_required
@require_POST
def provider_delete(request, name: str):
    try:
        services.provider_credential_delete(user=request.user, name=name)
    except services.ProviderCredentialError as error:
        raise Http404(error.message) from None
    messages.success(request, f"Provider key “{name}” removed.")
    return redirect(reverse("account") + "#providers")


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    try:
        token = services.api_token_revoke(user=request.user, token_id=token_id)
    except services.ApiTokenError as error:
        if error.status_code == 404:
            raise Http404(error.message) from None
        raise
    messages.success(request, f"Token “{token.name}” revoked: its key no longer works.")
    return redirect("account")
