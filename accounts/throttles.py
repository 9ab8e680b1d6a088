"""Counters in the cache (Redis in production) that slow down mass sign-ups and password guessing.

The client is ``selectors.client_ip``: REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies are
configured, so a client that rewrites X-Forwarded-For is still the same client.

Sign-ups: at most SIGNUP_RATE_PER_HOUR accounts per client address and hour, one counter for the
browser page and the API. A sign-up takes a slot before the account is made and gives it back
when no account is made, so what is counted is accounts made, and concurrent requests cannot
overshoot.

Logins: failures count per (account, address), per address (4x: an office shares one) and per
account from everywhere (4x: many addresses guessing one password). Past a limit the password is
not even checked until LOGIN_FAILURE_WINDOW has passed since the first counted failure. The
per-account limit would let anyone lock an account out, so it does not apply to a client the
account logged in from before: a browser with the signed cookie this module sets after a login,
or the same address.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.signing import BadSignature

from core.errors import DomainError
from ledger.users import username_key

from .selectors import client_ip

SIGNUP_WINDOW = 60 * 60
FACTOR = 4  # the per-address and per-account limits, in multiples of LOGIN_FAILURE_LIMIT
KNOWN_COOKIE = "prsm_known_logins"
KNOWN_COOKIE_SALT = "accounts.known-logins"
KNOWN_MAX_AGE = 180 * 24 * 60 * 60  # how long a browser and an address stay known to an account
KNOWN_COOKIE_ACCOUNTS = 10  # the accounts one browser remembers


class SignupThrottled(DomainError):
    code = "throttled"
    status_code = 429

    def __init__(self, wait: int):
        super().__init__(f"Too many sign-ups from this address. Try again in {max(1, round(wait / 60))} minute(s).")
        self.wait = wait


def signup_slot_take(request) -> None:
    """Take one of the client's sign-ups for this hour; SignupThrottled when none is left."""
    key = _signup_key(request)
    now = time.time()
    if cache.add(key, 1, timeout=SIGNUP_WINDOW):
        cache.set(f"{key}:since", now, timeout=SIGNUP_WINDOW)
        count = 1
    else:
        try:
            count = cache.incr(key)  # atomic in Redis: concurrent sign-ups cannot overshoot
        except ValueError:  # expired since the add
            cache.set(key, 1, timeout=SIGNUP_WINDOW)
            cache.set(f"{key}:since", now, timeout=SIGNUP_WINDOW)
            count = 1
    if count > settings.SIGNUP_RATE_PER_HOUR:
        since = cache.get(f"{key}:since") or now
        raise SignupThrottled(max(1, int(since + SIGNUP_WINDOW - now)))


def signup_slot_return(request) -> None:
    """Give back the slot of a sign-up that made no account (a taken name, a weak password)."""
    try:
        cache.decr(_signup_key(request))
    except ValueError:  # the window ended meanwhile
        pass


def _signup_key(request) -> str:
    return f"signup:ip:{client_ip(request)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LoginClient:
    """Who tries a password: the account named (a digest of its NFKC, case-folded name), the client
    address, and whether this browser logged into that account before (the signed cookie says so)."""

    account: str
    ip: str
    known_by_device: bool

    @classmethod
    def of(cls, request, username: str) -> "LoginClient":
        account = _digest(username_key(username))
        return cls(account=account, ip=client_ip(request), known_by_device=account in _device_accounts(request))

    def _keys(self) -> dict[str, str]:
        return {"account-ip": f"login-fail:account-ip:{self.account}:{self.ip}", "ip": f"login-fail:ip:{self.ip}",
                "account": f"login-fail:account:{self.account}"}

    def _limits(self) -> dict[str, int]:
        limit, keys = settings.LOGIN_FAILURE_LIMIT, self._keys()
        limits = {keys["account-ip"]: limit, keys["ip"]: limit * FACTOR}
        if not self._known():
            limits[keys["account"]] = limit * FACTOR
        return limits

    def _known(self) -> bool:
        return self.known_by_device or bool(cache.get(f"login-known:{self.account}:{self.ip}"))

    def retry_after(self) -> int:
        """Seconds until the password may be checked again; 0 when it may be checked now."""
        now, waits = time.time(), [0]
        for key, limit in self._limits().items():
            record = cache.get(key)
            if record and record["count"] >= limit:
                waits.append(int(record["first"] + settings.LOGIN_FAILURE_WINDOW - now) + 1)
        return max(waits)

    def failed(self) -> None:
        now = time.time()
        for key in self._keys().values():
            record = cache.get(key) or {"count": 0, "first": now}
            record["count"] += 1
            cache.set(key, record, timeout=max(1, int(record["first"] + settings.LOGIN_FAILURE_WINDOW - now)))

    def succeeded(self) -> None:
        """Forget this address's failures for the account, and know the address from now on."""
        cache.delete(self._keys()["account-ip"])
        cache.set(f"login-known:{self.account}:{self.ip}", True, timeout=KNOWN_MAX_AGE)

    def remember_device(self, request, response) -> None:
        """Mark the browser as one this account logged in from (a signed cookie; HttpOnly)."""
        accounts = [self.account, *(account for account in _device_accounts(request) if account != self.account)]
        response.set_signed_cookie(
            KNOWN_COOKIE, ",".join(accounts[:KNOWN_COOKIE_ACCOUNTS]), salt=KNOWN_COOKIE_SALT, max_age=KNOWN_MAX_AGE,
            httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
        )


def _device_accounts(request) -> list[str]:
    try:
        value = request.get_signed_cookie(KNOWN_COOKIE, default="", salt=KNOWN_COOKIE_SALT, max_age=KNOWN_MAX_AGE)
    except BadSignature:
        return []
    return [account for account in value.split(",") if account]
