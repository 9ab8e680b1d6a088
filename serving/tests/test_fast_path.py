"""The predict route's lean path (serving/fast_path.py) through the site's ASGI application, as Daphne
serves it: it takes an API token with a JSON body and nothing else; it keeps an access decision but hears
at once of a change made through the platform (a revoked token, an undeployed model), through Redis as in
production; it counts the same per-token rate as the view; it meters every answered call, in batches.
(``test_predict_api.py`` runs the route's behaviour through both paths.)"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import override_settings

from accounts import services as accounts
from marketplace import services as marketplace
from serving import fast_path, throttles
from serving.models import Prediction

from .conftest import asgi_post

pytestmark = pytest.mark.django_db(transaction=True)

JSON = (b"content-type", b"application/json")


@pytest.fixture
def redis_cache():
    """The default cache on Redis, as in production (the tests' default is in memory)."""
    config = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL,
                          "KEY_PREFIX": f"{settings.PRSM_NAMESPACE}:fast-path-test"}}
    with override_settings(CACHES=config):
        cache = throttles.shared_cache()
        _forget(config["default"]["KEY_PREFIX"])
        yield cache
        _forget(config["default"]["KEY_PREFIX"])


def _forget(prefix: str) -> None:
    """This test's keys only: ``cache.clear()`` would flush the whole Redis database, which the broker and
    every other test run on this machine share."""
    from core.workers import redis_client

    client = redis_client()
    keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def model(served_job, make_user, serving_pool):
    """(owner, deployment, named token key with every scope, one digits row)."""
    from prsm.engine.data.builtin import load_builtin

    serving_pool()
    owner = make_user("ada")
    deployment = marketplace.job_deploy_and_list(job=served_job(owner))
    _, key = accounts.api_token_create(user=owner, name="shop front")
    return owner, deployment, key, load_builtin("digits").features[:1].tolist()


def _post(deployment, key: str, inputs, *, headers=(JSON,), host=b"testserver", raw: bytes | None = None):
    body = raw if raw is not None else fast_path.json.dumps({"inputs": inputs}).encode()
    return async_to_sync(asgi_post)(f"/api/v1/models/{deployment.model_id}/predict/", body,
                                    [(b"authorization", f"Token {key}".encode()), *headers], host=host)


def _counting_decisions(monkeypatch) -> list:
    decided, decide = [], fast_path.grant_decide

    def counted(key, model_id):
        decided.append(model_id)
        return decide(key, model_id)

    monkeypatch.setattr(fast_path, "grant_decide", counted)
    return decided


def test_the_lean_path_answers_a_token_and_json_and_leaves_the_rest_to_the_view():
    def scope(*headers):
        return {"type": "http", "method": "POST", "headers": list(headers)}

    assert fast_path.handles(scope((b"authorization", b"Token abc"), JSON))
    assert fast_path.handles(scope((b"authorization", b"Token abc"), (b"content-type", b"application/json; charset=utf-8")))
    assert not fast_path.handles(scope((b"authorization", b"Token abc"), (b"content-type", b"multipart/form-data; boundary=x")))
    assert not fast_path.handles(scope((b"cookie", b"sessionid=x"), JSON))  # a browser session: the view and its CSRF check


def test_a_kept_grant_is_decided_again_at_once_when_the_token_is_revoked(model, redis_cache, monkeypatch):
    owner, deployment, key, rows = model
    decided = _counting_decisions(monkeypatch)

    assert [_post(deployment, key, rows).status_code for _ in range(3)] == [200, 200, 200]
    assert len(decided) == 1  # kept: one decision for three calls
    accounts.api_token_revoke(user=owner, token_id=owner.api_tokens.get().pk)

    refused = _post(deployment, key, rows)

    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert len(decided) == 2 and Prediction.objects.count() == 3


def test_a_kept_refusal_is_decided_again_when_the_model_is_deployed_again(model, redis_cache):
    owner, deployment, key, rows = model
    from serving import services

    services.model_undeploy(deployment=deployment)
    assert _post(deployment, key, rows).json()["error"]["code"] == "undeployed"
    marketplace.job_deploy_and_list(job=deployment.job)

    assert _post(deployment, key, rows).status_code == 200


def test_a_grant_ends_after_its_seconds_without_any_signal(model, monkeypatch):
    owner, deployment, key, rows = model
    decided = _counting_decisions(monkeypatch)
    monotonic = {"t": 1000.0}
    monkeypatch.setattr(fast_path, "_monotonic", lambda: monotonic["t"])

    _post(deployment, key, rows)
    monotonic["t"] += settings.PREDICT_GRANT_CACHE_S - 0.5
    _post(deployment, key, rows)
    monotonic["t"] += 1
    _post(deployment, key, rows)

    assert len(decided) == 2


@override_settings(PREDICT_RATE_PER_MINUTE=2)
def test_the_rate_is_counted_in_redis_per_token_with_retry_after(model, redis_cache, monkeypatch):
    owner, deployment, key, rows = model
    monkeypatch.setattr(throttles, "_now", lambda: 1_800_000_010.0)  # 10 s into a minute
    _, other = accounts.api_token_create(user=owner, name="second")

    answers = [_post(deployment, key, rows) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2]["Retry-After"] == "51" and answers[2].json()["error"]["code"] == "throttled"
    assert _post(deployment, other, rows).status_code == 200  # another token, another count
    token = owner.api_tokens.get(name="shop front")
    assert int(redis_cache.get(f"predict-rate:token:{token.pk}:{1_800_000_010 // 60}")) == 3  # the view's key


def test_a_token_without_the_predict_scope_is_refused(model):
    owner, deployment, _, rows = model
    _, read_only = accounts.api_token_create(user=owner, name="dashboard", scopes=["read"])

    refused = _post(deployment, read_only, rows)

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    assert "predict" in refused.json()["error"]["message"]


def test_bad_bodies_and_hosts_get_a_4xx_that_names_the_problem(model, settings):
    owner, deployment, key, rows = model

    not_json = _post(deployment, key, rows, raw=b"{not json")
    no_inputs = _post(deployment, key, rows, raw=b'{"rows": []}')
    bad_host = _post(deployment, key, rows, host=b"evil.example")
    settings.PREDICT_MAX_BODY_BYTES = 100
    too_large = _post(deployment, key, rows * 10)

    assert not_json.status_code == 400 and "JSON parse error" in not_json.json()["error"]["message"]
    assert no_inputs.status_code == 400 and no_inputs.json()["error"]["field"] == "inputs"
    assert bad_host.status_code == 400 and "evil.example" in bad_host.json()["error"]["message"]
    assert too_large.status_code == 413 and "100" in too_large.json()["error"]["message"]
    assert Prediction.objects.count() == 0


def test_concurrent_calls_are_all_metered(model):
    owner, deployment, key, rows = model
    path = f"/api/v1/models/{deployment.model_id}/predict/"
    body = fast_path.json.dumps({"inputs": rows}).encode()

    async def burst():
        return await asyncio.gather(*(asgi_post(path, body, [(b"authorization", f"Token {key}".encode()), JSON])
                                      for _ in range(12)))

    answers = async_to_sync(burst)()

    assert [a.status_code for a in answers] == [200] * 12
    assert Prediction.objects.filter(caller=owner, access="owner", inputs=1).count() == 12


def test_the_meter_writes_the_rows_of_a_few_milliseconds_together_even_for_callers_gone(monkeypatch):
    writes: list[int] = []

    def slow_write(rows):
        import time

        time.sleep(0.05)
        writes.append(len(rows))

    monkeypatch.setattr(fast_path, "_rows_write", slow_write)
    meter = fast_path.Meter(linger_s=0.02)

    async def calls():
        first = asyncio.ensure_future(meter.write(object()))
        gone = asyncio.ensure_future(meter.write(object()))
        await asyncio.sleep(0)
        gone.cancel()  # its caller went away: the row is still written
        await asyncio.sleep(0.03)  # the first write is running now
        await asyncio.gather(first, *(meter.write(object()) for _ in range(4)))
        await meter.task

    async_to_sync(calls)()

    assert writes == [2, 4]
