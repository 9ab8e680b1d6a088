"""A pool with one worker, no memory to spare and one request in flight per model: callers beyond
the limit are told to come back, models are unloaded least recently used first, and SIGTERM
leaves nothing behind."""

from __future__ import annotations

import pytest

from prsm.serving.errors import ServingBusy

from .conftest import Pool
from .test_pool import in_threads


@pytest.fixture(scope="module")
def tight_pool(tmp_path_factory):
    started = Pool(tmp_path_factory.mktemp("tight-pool"), workers=1, memory_mb=0, max_in_flight=1)
    yield started
    started.stop()


def test_callers_past_the_in_flight_limit_get_busy_with_a_retry_time(tight_pool, text_export):
    # the first request loads the model (a tokenizer library import and a session): it stays in
    # flight for a while, and every other caller meanwhile is over the limit of one
    results = in_threads(6, lambda i: tight_pool.client.predict("reviews", str(text_export), ["great fun"]))

    busy = [r for r in results if isinstance(r, ServingBusy)]
    answered = [r for r in results if isinstance(r, list)]
    assert busy and answered and len(busy) + len(answered) == 6, results
    assert all(0 < b.retry_after_s <= 60 for b in busy)
    status = tight_pool.client.status()["models"]
    assert [m["busy"] for m in status if m["key"] == "reviews"] == [len(busy)]


def test_past_the_memory_budget_the_least_recently_used_model_is_unloaded(tight_pool, digits_export, image_export):
    tight_pool.client.warm("digits", str(digits_export))
    assert "digits" in {m["key"] for m in tight_pool.client.status()["models"]}

    tight_pool.client.warm("shapes", str(image_export))

    assert [m["key"] for m in tight_pool.client.status()["models"]] == ["shapes"]
    assert len(tight_pool.client.predict("digits", str(digits_export), [[0] * 64])) == 1  # loads again
    assert [m["key"] for m in tight_pool.client.status()["models"]] == ["digits"]
    assert tight_pool.client.unload("digits") is True
    assert tight_pool.client.status()["models"] == []


def test_sigterm_stops_the_workers_and_removes_the_sockets(tight_pool):
    assert (tight_pool.socket_dir / "worker-0.sock").exists()

    assert tight_pool.stop() == 0

    assert list(tight_pool.socket_dir.iterdir()) == []
