"""The per-token rate limit of prediction calls (serving/throttles.py): PREDICT_RATE_PER_MINUTE calls a
minute per API token (per user for a session or a DRF token), then 429 with Retry-After until the minute
turns; counted atomically in the cache, Redis included."""

import threading

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts import services as accounts
from accounts.tests.factories import UserFactory
from serving import throttles
from serving.throttles import PredictRateThrottle

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0  # a whole minute: the window starts here


class TinyPredictApi(APIView):
    """Stands for POST /api/v1/models/{model_id}/predict/ with the throttle on."""

    required_scope = "predict"
    throttle_classes = [PredictRateThrottle]

    def post(self, request):
        return Response({"outputs": []})


@pytest.fixture
def clock(monkeypatch):
    now = {"t": START + 10}
    monkeypatch.setattr(throttles, "_now", lambda: now["t"])
    return now


def _call(key: str | None = None, user=None):
    request = APIRequestFactory().post("/api/v1/models/x/predict/", {"inputs": ["a"]}, format="json",
                                       **({"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}))
    if user is not None:
        request.user = user  # a session user, as Django's middleware would set it
        request._dont_enforce_csrf_checks = True
    response = TinyPredictApi.as_view()(request)
    response.render()
    return response


@override_settings(PREDICT_RATE_PER_MINUTE=3)
def test_a_token_gets_its_rate_then_429_with_retry_after_until_the_minute_turns(clock):
    user = UserFactory()
    _, key = accounts.api_token_create(user=user, name="shop front", scopes=["predict"])

    codes = [_call(key).status_code for _ in range(3)]
    refused = _call(key)

    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert 50 <= int(refused["Retry-After"]) <= 51  # 10 s into the minute (the API rounds up)
    assert refused.data["error"]["code"] == "throttled"
    clock["t"] = START + 60
    assert _call(key).status_code == 200


@override_settings(PREDICT_RATE_PER_MINUTE=2)
def test_each_token_has_its_own_count_and_a_session_counts_per_user(clock):
    user = UserFactory()
    _, first = accounts.api_token_create(user=user, name="one", scopes=["predict"])
    _, second = accounts.api_token_create(user=user, name="two", scopes=["predict"])
    drf_key = accounts.user_token_get_or_create(user=user)

    assert [_call(first).status_code for _ in range(3)] == [200, 200, 429]
    assert [_call(second).status_code for _ in range(3)] == [200, 200, 429]
    # a DRF token and the browser session are the user: one count between them
    assert [_call(drf_key).status_code, _call(user=user).status_code, _call(user=user).status_code] == [200, 200, 429]


@override_settings(PREDICT_RATE_PER_MINUTE=0)
def test_a_rate_of_zero_turns_the_limit_off(clock):
    _, key = accounts.api_token_create(user=UserFactory(), name="ci")

    assert {_call(key).status_code for _ in range(5)} == {200}


def test_concurrent_calls_through_redis_never_overshoot(clock):
    redis_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL,
                               "KEY_PREFIX": f"{settings.PRSM_NAMESPACE}:throttle-test"}}
    user = UserFactory()
    _, key = accounts.api_token_create(user=user, name="ci")
    from accounts.auth import api_token_of

    token = api_token_of(key)

    class Request:
        auth = token

    with override_settings(CACHES=redis_cache, PREDICT_RATE_PER_MINUTE=20):
        from django.core.cache import cache

        cache.delete(f"predict-rate:token:{token.pk}:{int(clock['t'] // 60)}")
        barrier, allowed = threading.Barrier(8), []

        def burst():
            barrier.wait()
            for _ in range(10):
                allowed.append(PredictRateThrottle().allow_request(Request(), None))

        threads = [threading.Thread(target=burst) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        cache.delete(f"predict-rate:token:{token.pk}:{int(clock['t'] // 60)}")

    assert len(allowed) == 80 and allowed.count(True) == 20


@pytest.mark.django_db(transaction=True)  # the async predict view checks in a worker thread: committed rows only
@override_settings(PREDICT_RATE_PER_MINUTE=2)
def test_the_real_predict_route_is_limited_per_token(clock):
    from rest_framework.test import APIClient

    _, key = accounts.api_token_create(user=UserFactory(), name="shop front", scopes=["predict"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    path = "/api/v1/models/00000000-0000-4000-8000-000000000000/predict/"

    codes = [client.post(path, {"inputs": ["a"]}, format="json").status_code for _ in range(3)]

    assert codes == [404, 404, 429]  # counted before the model is looked up
