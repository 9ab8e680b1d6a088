"""How the engine talks to a teacher over HTTP: an address allow-list, one pinned connection per
request, no redirects, a size cap on answers, retries with backoff, a rate limit, and a disk cache.

A teacher's URL comes from a user, so the server must not become a way into its own network: every
address the host name resolves to is checked (private, loopback, link-local, multicast and reserved
ranges are refused unless the operator allows the host or its range), and the connection is made to
the address that was checked, not to a second resolution (DNS rebinding). Only ``http`` and
``https``; a redirect is an error, never followed.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import ipaddress
import json
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BadInput

ALLOW_ENV = "PRSM_TEACHER_HOSTS_ALLOW"
MAX_RETRY_AFTER_S = 60.0


class TeacherHttpError(BadInput):
    """The remote teacher could not be reached, refused the request, or answered something unusable."""


# --- where a request may go


def allowed_hosts(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The operator's allow-list: ``PRSM_TEACHER_HOSTS_ALLOW`` (comma list of hosts or CIDRs) plus ``extra``."""
    listed = [item.strip() for item in os.environ.get(ALLOW_ENV, "").split(",")]
    return [item for item in [*listed, *extra] if item]


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
                or address.is_reserved or address.is_unspecified or not address.is_global)


def _allowed(host: str, address, allow: list[str]) -> bool:
    for item in allow:
        if item.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class Target:
    """A checked URL: the scheme, host, port, path and the address the connection goes to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def check_url(url: str, allow: list[str], resolve=socket.getaddrinfo, *, what: str = "teacher URL",
              allow_setting: str = ALLOW_ENV) -> Target:
    """The URL's target, after checking its scheme and every address its host resolves to. ``what``
    names the URL in refusals and ``allow_setting`` the operator's allow-list (webhooks have their own)."""
    try:
        parts = urlsplit(url)
    except ValueError as error:  # e.g. an unclosed "[" of an IPv6 address
        raise TeacherHttpError(f"{what} {url!r}: not a URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise TeacherHttpError(f"{what} {url!r}: only http and https are allowed")
    if not parts.hostname or parts.username or parts.password:
        raise TeacherHttpError(f"{what} {url!r}: give a host name, without a user name or password in it")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TeacherHttpError(f"{what} {url!r}: the port is not a number from 0 to 65535") from None
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TeacherHttpError(f"{what} {url!r}: the host {host} does not resolve ({error})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise TeacherHttpError(f"{what} {url!r}: the host {host} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not _public(address) and not _allowed(host, address, allow):
            raise TeacherHttpError(
                f"{what} {url!r}: {host} resolves to {address}, a private, loopback, link-local, multicast "
                f"or reserved address; the operator can allow it in {allow_setting} (hosts or CIDRs, comma separated)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def check_url_quietly(url: str, allow: list[str]) -> str | None:
    """The reason ``url`` is refused, or None (for a server's check when a job is created)."""
    try:
        check_url(url, allow)
    except TeacherHttpError as error:
        return str(error)
    return None


# --- one request


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict
    seconds: float
    truncated: bool = False  # only with post_body(..., truncate=True): the body is the first max_bytes


def post_json(target: Target, payload: dict, headers: dict, timeout_s: float, max_bytes: int) -> Answer:
    """POST ``payload`` to the checked address; the answer's body read up to ``max_bytes`` (beyond: refused)."""
    return post_body(target, json.dumps(payload).encode(), {"Content-Type": "application/json",
                                                            "Accept": "application/json", **headers},
                     timeout_s, max_bytes)


def post_body(target: Target, body: bytes, headers: dict, timeout_s: float, max_bytes: int,
              truncate: bool = False) -> Answer:
    """POST the raw ``body`` to the checked address, never following a redirect; any status is
    returned as it is. An answer over ``max_bytes`` is refused, or with ``truncate`` cut to its first
    ``max_bytes`` (the rest is never read)."""
    kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    connection = kind(target.host, target.port, timeout=timeout_s)
    # connect to the address that was checked; TLS still checks the certificate against the host name
    connection._create_connection = lambda address, timeout=None, source=None: socket.create_connection(
        (target.address, address[1]), timeout, source)
    started = time.perf_counter()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        declared = response.getheader("Content-Length")
        if not truncate and declared and declared.isdigit() and int(declared) > max_bytes:
            raise TeacherHttpError(f"teacher at {target.host}: the answer is {int(declared):,} bytes, over the "
                                   f"{max_bytes:,}-byte limit")
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes and not truncate:
            raise TeacherHttpError(f"teacher at {target.host}: the answer is over the {max_bytes:,}-byte limit")
        return Answer(response.status, data[:max_bytes], {k.lower(): v for k, v in response.getheaders()},
                      time.perf_counter() - started, truncated=len(data) > max_bytes)
    finally:
        connection.close()


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RateLimit:
    """At most ``per_second`` request starts a second, across threads (None: no limit)."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        time.sleep(max(0.0, start - now))


@dataclass
class Policy:
    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_response_bytes: int = 1 << 20
    sleep: object = field(default=time.sleep)


def post_with_retries(target: Target, payload: dict, headers: dict, policy: Policy, limit: RateLimit,
                      what: str) -> Answer:
    """POST, retrying a 429 (after its ``Retry-After``), a 5xx, a timeout or a dropped connection
    with exponential backoff and jitter; any other 4xx at once is an error naming the status."""
    problem = ""
    for attempt in range(policy.max_retries + 1):
        limit.wait()
        try:
            answer = post_json(target, payload, headers, policy.timeout_s, policy.max_response_bytes)
        except (TimeoutError, socket.timeout):
            problem, told = f"no answer within {policy.timeout_s:g} s", None
        except (OSError, http.client.HTTPException) as error:
            problem, told = f"connection failed ({type(error).__name__}: {error})", None
        else:
            if 300 <= answer.status < 400:
                raise TeacherHttpError(f"{what}: HTTP {answer.status} redirect to "
                                       f"{answer.headers.get('location', '?')!r}; redirects are not followed, give the final URL")
            if answer.status < 400:
                return answer
            if answer.status != 429 and answer.status < 500:
                raise TeacherHttpError(f"{what}: HTTP {answer.status} ({_short(answer.body)})")
            problem = f"HTTP {answer.status}"
            told = retry_after_s(answer.headers.get("retry-after")) if answer.status in (429, 503) else None
        if attempt < policy.max_retries:
            policy.sleep(min(MAX_RETRY_AFTER_S, told) if told is not None else _backoff(policy, attempt))
    raise TeacherHttpError(f"{what}: {problem} after {policy.max_retries + 1} tries")


def _backoff(policy: Policy, attempt: int) -> float:
    base = policy.backoff_s * (2 ** attempt)
    return base / 2 + random.uniform(0, base / 2)  # nosec B311  # jitter, not a secret


def _short(body: bytes) -> str:
    text = body[:300].decode("utf-8", errors="replace").replace("\n", " ")
    return text or "no body"


# --- answers kept on disk


def answer_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class AnswerCache:
    """One JSON file per answer, keyed by content hash, in each of ``folders`` (the job's own
    cache and a shared one); a hit in any is copied to the others."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = [Path(f) / "teacher-answers" for f in folders]

    def _path(self, folder: Path, key: str) -> Path:
        return folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        for index, folder in enumerate(self.folders):
            path = self._path(folder, key)
            try:
                found = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for other in self.folders[:index]:
                self._write(other, key, found)
            return found
        return None

    def put(self, key: str, value: dict) -> None:
        for folder in self.folders:
            self._write(folder, key, value)

    def _write(self, folder: Path, key: str, value: dict) -> None:
        path = self._path(folder, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
            partial.write_text(json.dumps(value))
            partial.replace(path)
        except OSError:
            pass  # a cache that cannot be written costs a later rerun, never this one
