"""JSON from clients (API bodies, websocket frames), read with limits: a request that breaks one is
the client's error (a 4xx), never a RecursionError, an infinite float or a string that cannot be
stored or answered."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside each other; the deepest body the API takes is 3 or 4
MAX_NUMBER_CHARS = 64  # a number literal longer than this is no amount, limit or seed a person means
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone UTF-16 half: no UTF-8, so no database or answer takes it


class UntrustedJsonError(ValueError):
    """The text is not JSON this service reads; the message says why, in words for the client."""


def _number(text: str, kind):
    if len(text) > MAX_NUMBER_CHARS:
        raise UntrustedJsonError(f"a number of {len(text)} characters is too long (at most {MAX_NUMBER_CHARS})")
    value = kind(text)
    if not math.isfinite(value):
        raise UntrustedJsonError(f"the number {text[:20]}... is out of range")
    return value


def _constant(name: str):
    raise UntrustedJsonError(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """``json.loads`` for text a client sent: at most ``MAX_DEPTH`` levels, finite numbers of at most
    ``MAX_NUMBER_CHARS`` characters, no NaN or Infinity, and no lone surrogate in a string or a key."""
    try:
        value = json.loads(text, parse_int=lambda s: _number(s, int), parse_float=lambda s: _number(s, float),
                           parse_constant=_constant)
    except RecursionError:
        raise UntrustedJsonError(f"nested more than {MAX_DEPTH} levels deep") from None
    except UntrustedJsonError:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise UntrustedJsonError(f"not valid JSON ({exc})") from None
    check(value)
    return value


def check(value: Any) -> None:
    """Walks parsed JSON without recursion: its depth, and every string and key for lone surrogates."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise UntrustedJsonError("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text")
        elif isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                raise UntrustedJsonError(f"nested more than {MAX_DEPTH} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
