"""The signature receivers check (prsm.webhooks, no Django): a known vector, a tampered body, an old or
future timestamp, a malformed header, a wrong secret."""

import pytest

from prsm.webhooks import (SIGNATURE_HEADER, WebhookSignatureError, sign, signature_header, signed_headers,
                           verify_signature)

SECRET = "whsec_known-vector-secret"  # nosec B105  # a test vector
BODY = b'{"id":"3f1c","type":"ping","data":{}}'
# printf '%s' '1700000000.{"id":"3f1c","type":"ping","data":{}}' | openssl dgst -sha256 -hmac 'whsec_known-vector-secret'
KNOWN = "1b28cda83e4a4a6a508058ad8047bfc42f8f198e46d75836a99846163208e814"


def test_it_signs_the_timestamp_and_body_as_openssl_does():
    assert sign(SECRET, 1700000000, BODY) == KNOWN
    assert signature_header(SECRET, BODY, 1700000000) == f"t=1700000000,v1={KNOWN}"
    assert verify_signature(SECRET, f"t=1700000000,v1={KNOWN}", BODY, now=1700000100) == 1700000000


def test_a_text_body_is_signed_as_its_utf8_bytes():
    assert sign(SECRET, 1700000000, BODY.decode()) == KNOWN


def test_the_headers_of_an_attempt_carry_the_delivery_id_and_the_same_timestamp():
    headers = signed_headers(SECRET, "d-1", BODY, timestamp=1700000000)
    assert headers == {"PRSM-Webhook-Id": "d-1", "PRSM-Webhook-Timestamp": "1700000000",
                       SIGNATURE_HEADER: f"t=1700000000,v1={KNOWN}"}


def test_it_refuses_a_tampered_body():
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(SECRET, f"t=1700000000,v1={KNOWN}", BODY.replace(b"ping", b"pong"), now=1700000000)


def test_it_refuses_a_signature_made_with_another_secret():
    header = signature_header("whsec_another", BODY, 1700000000)
    with pytest.raises(WebhookSignatureError):
        verify_signature(SECRET, header, BODY, now=1700000000)


def test_it_refuses_a_timestamp_moved_to_replay_the_body():
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(SECRET, f"t=1700000999,v1={KNOWN}", BODY, now=1700000999)


@pytest.mark.parametrize("now", [1700000000 + 301, 1700000000 - 301])
def test_it_refuses_an_old_or_future_timestamp(now):
    with pytest.raises(WebhookSignatureError, match="more than the 300 s allowed"):
        verify_signature(SECRET, f"t=1700000000,v1={KNOWN}", BODY, now=now)


def test_the_tolerance_can_be_widened_or_turned_off():
    header = f"t=1700000000,v1={KNOWN}"
    assert verify_signature(SECRET, header, BODY, tolerance_s=3600, now=1700003000) == 1700000000
    assert verify_signature(SECRET, header, BODY, tolerance_s=None, now=1800000000) == 1700000000


def test_any_of_several_v1_signatures_may_match():
    header = f"t=1700000000,v1={'0' * 64},v1={KNOWN}"
    assert verify_signature(SECRET, header, BODY, now=1700000000) == 1700000000


@pytest.mark.parametrize("header", ["", "v1=abc", "t=soon,v1=abc", "t=1700000000", "t=1700000000,v0=abc"])
def test_it_refuses_a_malformed_header(header):
    with pytest.raises(WebhookSignatureError, match="must read"):
        verify_signature(SECRET, header, BODY, now=1700000000)
