"""Secrets kept at rest (provider keys): Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key is ``PRSM_SECRETS_KEY`` (a Fernet key: 32 url-safe base64 bytes) when the operator sets one,
else derived from ``SECRET_KEY`` with HKDF-SHA256 (so rotating SECRET_KEY makes saved keys unreadable:
their owners save them again). Plain keys are never logged; ``reveal`` is for the worker that runs a job.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret that this server's key cannot decrypt (the key changed)."""


def _fernet() -> Fernet:
    configured = getattr(settings, "PRSM_SECRETS_KEY", "")
    if configured:
        return Fernet(configured.encode() if isinstance(configured, str) else configured)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"prsm-secrets-v1",
                   info=b"provider credentials").derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def reveal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("a saved key cannot be decrypted with this server's key; save it again") from None
