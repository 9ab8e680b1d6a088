"""Test settings: the real Redis (a database of its own) and the database from DATABASE_URL.

Every run gets its own key namespace, exported so that worker subprocesses started by the
tests share it.
"""

import os

os.environ.setdefault("PRSM_NAMESPACE", f"prsm-test-{os.getpid()}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: E402,F403

SECRET_KEY = "test-only-key-not-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # nosec B105  # the test suite's own key
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
VAR_DIR = BASE_DIR / "var"  # noqa: F405
VAR_DIR.mkdir(exist_ok=True)  # a fresh clone has none: the test database and media live here
MEDIA_ROOT = VAR_DIR / "test-media"
# Unit tests get a cache of their own per process; Redis-backed behaviour is tested through Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A file, not memory, so that worker and server subprocesses started by tests share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

# core.clock.now() adds an offset a test may set (shared with the processes it starts through Redis).
PRSM_TEST_CLOCK = True

# Webhook tests run their receivers on this machine (the allow-list refuses loopback everywhere else).
WEBHOOK_HOSTS_ALLOW = ["127.0.0.1", "localhost"]
