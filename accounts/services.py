"""Writes for accounts: sign-up, tokens, notifications and the moderators group (the throttles are
in throttles.py)."""

import hashlib
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.errors import DomainError
from ledger import services as ledger_services
from ledger.users import username_key, username_normalize

from .consumers import user_group
from .models import ApiToken, Notification

User = get_user_model()

# Permissions moderators get on the apps present; later apps add theirs through this list.
MODERATOR_PERMISSION_CODENAMES = ["view_user", "change_user"]


# What a new username may hold once NFKC-normalised: ASCII, so that "the same name without case"
# means the same on every database, and no letter from another script can pass for a Latin one.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._@+-]+")


def username_clean(*, username: str) -> str:
    """The name a new account gets (NFKC-normalised), or a ValidationError with code ``invalid`` or
    ``taken``: another account has the same name once both are normalised and compared without case."""
    name = username_normalize(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValidationError("Use letters A-Z, digits and . _ @ + - only.", code="invalid")
    if User.objects.filter(username__iexact=name).exists():
        raise ValidationError("A user with that username already exists.", code="taken")
    return name


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    """A new account with its signup grant; a ValidationError names the field it is about."""
    _username_lock(username)
    try:
        username = username_clean(username=username)
    except ValidationError as exc:
        raise ValidationError({"username": exc}) from None
    user = User(username=username, email=email, is_staff=is_staff)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc}) from None
    user.set_password(password)
    user.full_clean()
    user.save()
    ledger_services.wallet_signup_grant_post(user=user)
    return user


def _username_lock(username: str) -> None:
    """Two sign-ups of one name in different cases must not both pass the check: SQLite runs one
    writing transaction at a time; PostgreSQL takes a lock on the name until the commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"username:{username_key(username)}"])


def user_token_get_or_create(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def moderators_group_ensure() -> Group:
    group, _ = Group.objects.get_or_create(name=settings.MODERATORS_GROUP)
    permissions = Permission.objects.filter(codename__in=MODERATOR_PERMISSION_CODENAMES)
    group.permissions.add(*permissions)
    return group


@transaction.atomic
def moderator_add(*, user: User) -> None:
    """Moderators are staff (they use the admin console) and members of the moderators group."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(moderators_group_ensure())


@transaction.atomic
def user_update(*, user: User, email: str) -> User:
    user.email = email
    user.full_clean()
    user.save(update_fields=["email"])
    return user


# Named API keys (accounts.auth.ApiTokenAuthentication reads them). A key is this prefix and 32
# random bytes; DRF's older 40-hex keys never start with it, so one header serves both kinds.
API_KEY_PREFIX = "prsm_"
API_KEY_VISIBLE = len(API_KEY_PREFIX) + 6  # what the token list shows of a key
API_TOKEN_LIMIT = 20  # live tokens per user


class ApiTokenError(DomainError):
    code = "api_token"


def api_key_hash(key: str) -> str:
    """SHA-256 suffices (no slow hash): the keys are 256 random bits, so nothing can be guessed."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_scopes_clean(scopes) -> str:
    """The stored form of a token's scopes (``ApiToken.SCOPES`` order, comma-separated), or an
    ApiTokenError naming the field: none given, or one that does not exist."""
    chosen = set(scopes or ())
    unknown = sorted(chosen - set(ApiToken.SCOPES))
    if unknown:
        raise ApiTokenError(f"Unknown scope “{unknown[0]}”; the scopes are {', '.join(ApiToken.SCOPES)}.",
                            field="scopes", code="invalid", status_code=400)
    if not chosen:
        raise ApiTokenError("Give the token at least one scope.", field="scopes", code="invalid", status_code=400)
    return ",".join(scope for scope in ApiToken.SCOPES if scope in chosen)


@transaction.atomic
def api_token_create(*, user: User, name: str, scopes=ApiToken.SCOPES) -> tuple[ApiToken, str]:
    """A new live token and its key; the key exists only in the return value (the database keeps
    its hash). ``scopes``: what it may do (accounts/permissions.py), all three by default. Refused
    when the name is empty or taken by a live token, a scope is unknown or none is given, or at
    API_TOKEN_LIMIT."""
    name = " ".join((name or "").split())
    if not name:
        raise ApiTokenError("Give the token a name.", field="name", code="invalid", status_code=400)
    scopes = api_token_scopes_clean(scopes)
    User.objects.select_for_update().filter(pk=user.pk).first()  # two requests cannot both pass the limit
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if live.count() >= API_TOKEN_LIMIT:
        raise ApiTokenError(f"You already have {API_TOKEN_LIMIT} tokens, the most allowed. Revoke one you no "
                            "longer use first.", field="name", code="token_limit", status_code=409)
    if live.filter(name__iexact=name).exists():
        raise ApiTokenError(f"You already have a token named “{name}”. Choose another name.", field="name",
                            code="name_taken", status_code=409)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, key_hash=api_key_hash(key), prefix=key[:API_KEY_VISIBLE], scopes=scopes)
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens; from now on its key is refused (HTTP and websockets).
    Another user's token, or none, is a 404: the same answer, so ids reveal nothing."""
    token = ApiToken.objects.select_for_update().filter(user=user, pk=token_id).first()
    if token is None:
        raise ApiTokenError("No such token.", code="not_found", status_code=404)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def notification_payload(notification: Notification) -> dict:
    """What the notifications websocket sends; the account page renders the same fields."""
    return {"type": "notification", "id": notification.pk, "kind": notification.kind, "message": notification.message,
            "link": notification.link, "created_at": notification.created_at.isoformat()}


@transaction.atomic
def notification_send(*, user: User, kind: str, message: str, link: str = "") -> Notification:
    """Keep a notification for the user and push it to their open pages once the transaction commits
    (kinds in use: job_completed, job_failed, model_sold). ``link`` is a path on this site."""
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link):
        raise ValueError(f"a notification links to a path on this site, not {link!r}")
    notification = Notification(user=user, kind=kind, message=message[:500], link=link)
    notification.full_clean()
    notification.save()
    payload = notification_payload(notification)
    # robust: a channel layer that is down must not undo or fail what the caller committed
    transaction.on_commit(lambda: _notification_push(user.pk, payload), robust=True)
    return notification


def _notification_push(user_id: int, payload: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.notify", "payload": payload})


from . import secrets as sealed  # noqa: E402 - provider credentials (below), appended to this module
from .models import ProviderCredential  # noqa: E402


class ProviderCredentialError(DomainError):
    status_code = 400
    code = "invalid"


PROVIDER_KEY_MAX_CHARS = 500


@transaction.atomic
def provider_credential_save(*, user: User, base_url: str, key: str, name: str = "openai") -> ProviderCredential:
    """Save (or replace) the user's key for an OpenAI-compatible provider, encrypted; the plain key
    is kept nowhere else and never shown again (only its last four characters)."""
    from urllib.parse import urlsplit

    name = " ".join((name or "").split()) or "openai"
    key = (key or "").strip()
    if not key or len(key) > PROVIDER_KEY_MAX_CHARS or any(c.isspace() for c in key):
        raise ProviderCredentialError("Give the provider's API key (one word, at most 500 characters).", field="key")
    parts = urlsplit((base_url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ProviderCredentialError("Give the provider's base URL, such as https://api.openai.com/v1 (http or https, "
                                      "no user name or password in it).", field="base_url")
    credential = ProviderCredential.objects.select_for_update().filter(user=user, name=name).first() \
        or ProviderCredential(user=user, name=name)
    credential.base_url = base_url.strip().rstrip("/")
    credential.key_encrypted = sealed.seal(key)
    credential.key_last4 = key[-4:]
    try:
        credential.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ProviderCredentialError(messages[0], field=field) from None
    credential.save()
    return credential


@transaction.atomic
def provider_credential_delete(*, user: User, name: str) -> None:
    """Forget the user's key saved under ``name``; another user's, or none, is a 404."""
    deleted, _ = ProviderCredential.objects.filter(user=user, name=name).delete()
    if not deleted:
        raise ProviderCredentialError("No such provider credential.", code="not_found", status_code=404)
