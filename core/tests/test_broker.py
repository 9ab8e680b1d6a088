import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries, TimeLimit
from django.conf import settings

from core.broker import broker, broker_ping, build_broker
from core.workers import WorkerHeartbeat


def test_the_project_broker_is_redis_with_both_queues_declared():
    assert isinstance(broker, RedisBroker)
    assert {"default", "training"} <= broker.get_declared_queues()


def test_retry_and_time_limit_policy_comes_from_settings():
    retries = next(m for m in broker.middleware if isinstance(m, Retries))
    time_limit = next(m for m in broker.middleware if isinstance(m, TimeLimit))

    assert retries.max_retries == settings.DRAMATIQ_MAX_RETRIES
    assert (retries.min_backoff, retries.max_backoff) == (settings.DRAMATIQ_MIN_BACKOFF_MS, settings.DRAMATIQ_MAX_BACKOFF_MS)
    assert time_limit.time_limit == settings.DRAMATIQ_TIME_LIMIT_MS
    assert any(isinstance(m, WorkerHeartbeat) for m in broker.middleware)


def test_an_amqp_url_gives_a_rabbitmq_broker_that_answers():
    rabbit = build_broker("amqp://guest:guest@127.0.0.1:5672/")

    assert isinstance(rabbit, RabbitmqBroker)
    broker_ping(rabbit)  # RabbitMQ runs on this machine and on CI's
    rabbit.close()


def test_an_unknown_broker_scheme_is_refused():
    with pytest.raises(ValueError, match="BROKER_URL must start with redis:// or amqp://"):
        build_broker("kafka://127.0.0.1:9092")


def test_a_service_finds_an_actor_by_name_without_importing_its_tasks_module():
    from core.broker import actor_named

    assert actor_named("distillation_run").queue_name == "training"
    assert actor_named("user_notify").broker is broker
