from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from . import services
from .models import ApiToken
from .throttles import LoginClient


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = services.User
        fields = ("username", "email")

    def clean_username(self):
        return services.username_clean(username=self.cleaned_data.get("username") or "")


class LoginThrottleMixin:
    """Refuses to check the password at all once the account or the address has failed too often
    (accounts.throttles.LoginClient); the view remembers the browser after a login."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed logins. Try again in %(minutes)s minute(s).",
    }
    throttled = False
    login_client: LoginClient | None = None

    def clean(self):
        self.login_client = client = LoginClient.of(self.request, self.cleaned_data.get("username") or "")
        wait = client.retry_after()
        if wait:
            self.throttled = True
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": max(1, round(wait / 60))}
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if self.user_cache is None:  # a wrong password; not an inactive or non-staff account's refusal
                client.failed()
            raise
        if self.user_cache is not None:  # no password given checks nothing, and clears nothing
            client.succeeded()
        return cleaned


class ThrottledAuthenticationForm(LoginThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(LoginThrottleMixin, AdminAuthenticationForm):
    error_messages = {**AdminAuthenticationForm.error_messages, **LoginThrottleMixin.error_messages,
                      "invalid_login": AdminAuthenticationForm.error_messages["invalid_login"]}


SCOPE_CHOICES = [("read", "read: see jobs, models, balance and statement"),
                 ("predict", "predict: call deployed models"),
                 ("manage", "manage: everything else (create jobs, buy, transfer, deploy)")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=60, label="Token name",
        help_text="Say where it will be used, e.g. “laptop SDK” or “CI pipeline”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label="What it may do", choices=SCOPE_CHOICES, initial=list(ApiToken.SCOPES),
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Give the token at least one scope."},
        help_text="A token for an application that only calls your models needs “predict” alone.",
    )


class ProviderCredentialForm(forms.Form):
    """A key for an OpenAI-compatible provider (teachers such as gpt-4); saved encrypted, never shown again."""

    name = forms.CharField(max_length=60, initial="openai", help_text="A name to tell keys apart (openai by default).")
    base_url = forms.CharField(max_length=300, label="Base URL", help_text="e.g. https://api.openai.com/v1")
    key = forms.CharField(max_length=500, label="API key", widget=forms.PasswordInput(render_value=False),
                          help_text="Stored encrypted; only its last four characters are shown again.")
