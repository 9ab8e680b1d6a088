"""What an API token may do: its scopes (``ApiToken.scopes``), checked on every API view.

- ``read``: safe methods (GET, HEAD, OPTIONS);
- ``predict``: the views that declare ``required_scope = "predict"`` (``POST .../predict/``);
- ``manage``: every other write.

A view declares the scope of its writes with ``required_scope``; reads always need ``read``. Only a
named token (``accounts.models.ApiToken``, what ``accounts.auth`` puts in ``request.auth``) is limited:
a browser session and DRF's older one-per-user ``Token`` have every scope. The permission is in
settings' DEFAULT_PERMISSION_CLASSES; a view that sets ``permission_classes`` itself lists it too
(``accounts/tests/test_token_scopes.py`` walks the URLs to keep it so).
"""

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiToken

SCOPE_WORDS = {
    "read": "read",
    "predict": "call deployed models",
    "manage": "make changes",
}


def scope_required(request, view) -> str:
    """The scope this request needs: ``read`` for a safe method, else the view's ``required_scope``
    (``manage`` when it declares none)."""
    if request.method in SAFE_METHODS:
        return "read"
    return getattr(view, "required_scope", "manage")


class MissingScope(exceptions.PermissionDenied):
    default_code = "missing_scope"


class TokenScope(BasePermission):
    """Refuses (403, code ``missing_scope``, the scope named) a named token without the scope needed."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # a session or a DRF Token: every scope; anonymous: the other permissions decide
        needed = scope_required(request, view)
        if needed in token.scope_set:
            return True
        has = ", ".join(sorted(token.scope_set)) or "none"
        raise MissingScope(f"This API token lacks the “{needed}” scope (needed to {SCOPE_WORDS[needed]}); "
                           f"it has: {has}. Create a token with that scope on your account page.")
