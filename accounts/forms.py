from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from . import services
from .selectors import client_ip


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = services.User
        fields = ("username", "email")


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses to check the password at all once an account or address has failed too often."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed logins. Try again in %(minutes)s minute(s).",
    }
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        wait = services.login_retry_after(username=username, ip=ip)
        if wait:
            self.throttled = True
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": max(1, round(wait / 60))}
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            services.login_failure_record(username=username, ip=ip)
            raise
        services.login_failures_clear(username=username)
        return cleaned
