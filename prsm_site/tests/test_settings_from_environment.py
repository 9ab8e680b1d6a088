import importlib
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from prsm_site.settings import env


def _load_base(monkeypatch, **variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("prsm_site.settings.base", None)
    try:
        return importlib.import_module("prsm_site.settings.base")
    finally:
        sys.modules.pop("prsm_site.settings.base", None)


def test_sqlite_in_the_project_is_the_default_database(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)

    base = _load_base(monkeypatch)

    assert base.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert base.DATABASES["default"]["NAME"] == str(base.BASE_DIR / "db.sqlite3")


def test_a_postgres_url_selects_postgresql(monkeypatch):
    base = _load_base(monkeypatch, DATABASE_URL="postgres://u:p@db.example:5433/prsm")

    db = base.DATABASES["default"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "django.db.backends.postgresql", "db.example", 5433, "prsm", "u",
    )


def test_redis_url_drives_the_broker_channels_and_cache_unless_broker_url_is_given(monkeypatch):
    monkeypatch.delenv("BROKER_URL", raising=False)
    base = _load_base(monkeypatch, REDIS_URL="redis://cache.example:6380/2")

    assert base.BROKER_URL == "redis://cache.example:6380/2"
    assert [host["address"] for host in base.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]] == ["redis://cache.example:6380/2"]
    assert base.CACHES["default"]["LOCATION"] == "redis://cache.example:6380/2"

    base = _load_base(monkeypatch, BROKER_URL="amqp://guest:guest@127.0.0.1:5672/")
    assert base.BROKER_URL.startswith("amqp://")


def test_allowed_hosts_debug_and_media_root_come_from_the_environment(monkeypatch, tmp_path):
    base = _load_base(monkeypatch, ALLOWED_HOSTS="a.example, b.example", DEBUG="0", MEDIA_ROOT=str(tmp_path))

    assert base.ALLOWED_HOSTS == ["a.example", "b.example"]
    assert base.DEBUG is False
    assert base.MEDIA_ROOT == tmp_path


def test_a_malformed_boolean_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env.env_bool("DEBUG", True)
