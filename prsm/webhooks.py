"""Webhook signatures, for the server that signs deliveries and for the programs that receive them.

Every delivery carries three headers (in the style of Stripe's and GitHub's):

- ``PRSM-Webhook-Id``: the delivery's id, the same on every retry and on a re-send, so a receiver can
  drop a delivery it has already handled;
- ``PRSM-Webhook-Timestamp``: when this attempt was signed, in unix seconds;
- ``PRSM-Signature``: ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`` keyed with the
  endpoint's secret (the whole ``whsec_...`` string, UTF-8).

A receiver checks the signature over the raw body bytes, before parsing them::

    from prsm.webhooks import WebhookSignatureError, verify_signature

    try:
        verify_signature(secret, request.headers["PRSM-Signature"], request.body)
    except WebhookSignatureError:
        return 400

Only the standard library: the SDK and receivers use it without Django.
"""

from __future__ import annotations

import hashlib
import hmac
import time

ID_HEADER = "PRSM-Webhook-Id"
TIMESTAMP_HEADER = "PRSM-Webhook-Timestamp"
SIGNATURE_HEADER = "PRSM-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


class WebhookSignatureError(ValueError):
    """The signature header is missing, malformed, too old or does not match the body."""


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = str(int(timestamp)).encode() + b"." + _bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes | str, timestamp: int | None = None) -> str:
    """``t=<timestamp>,v1=<signature>`` for ``body``, signed now unless ``timestamp`` is given."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},{SCHEME}={sign(secret, timestamp, body)}"


def signed_headers(secret: str, delivery_id: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of one delivery attempt."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {ID_HEADER: str(delivery_id), TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(secret, body, timestamp)}


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header must read t=<unix seconds>,{SCHEME}=<hex>")
    return timestamp, signatures


def verify_signature(secret: str, header: str, body: bytes | str, tolerance_s: float = DEFAULT_TOLERANCE_S,
                     now: float | None = None) -> int:
    """Check ``header`` (the ``PRSM-Signature`` value) against the raw ``body``; returns the signed
    timestamp. Raises ``WebhookSignatureError`` when the header is malformed, no ``v1`` signature
    matches (compared in constant time), or the timestamp is more than ``tolerance_s`` seconds from
    ``now`` (a replayed delivery; ``tolerance_s=None`` turns that check off)."""
    timestamp, signatures = _parse(header)
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureError("no signature matches the body and this secret")
    now = time.time() if now is None else now
    if tolerance_s is not None and abs(now - timestamp) > tolerance_s:
        raise WebhookSignatureError(f"the signature's timestamp is {abs(now - timestamp):.0f} s away from now, "
                                    f"more than the {tolerance_s:g} s allowed")
    return timestamp
