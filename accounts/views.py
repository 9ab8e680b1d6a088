from django.contrib import admin
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import services, throttles
from .forms import SignupForm, ThrottledAuthenticationForm

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
