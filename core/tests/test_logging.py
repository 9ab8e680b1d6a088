import json
import logging

import pytest

from core.logging import JsonFormatter

pytestmark = pytest.mark.django_db


def test_each_request_logs_one_line_with_method_path_status_and_user(client, caplog):
    with caplog.at_level(logging.INFO, logger="prsm.request"):
        client.get("/api/v1/me/")

    lines = [r for r in caplog.records if r.name == "prsm.request"]
    assert len(lines) == 1
    assert lines[0].getMessage().startswith("GET /api/v1/me/ 401 ")
    assert (lines[0].method, lines[0].status, lines[0].user) == ("GET", 401, "-")


def test_the_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    record = logging.makeLogRecord(
        {"name": "prsm.request", "levelno": logging.INFO, "levelname": "INFO", "msg": "GET / 200", "status": 200}
    )

    line = JsonFormatter().format(record)

    assert "\n" not in line
    payload = json.loads(line)
    assert (payload["message"], payload["status"], payload["level"]) == ("GET / 200", 200, "INFO")


def test_an_actor_run_logs_one_line_with_its_outcome(caplog):
    from dramatiq import Message

    from core.broker import ActorRunLog

    middleware = ActorRunLog()
    message = Message(queue_name="default", actor_name="user_notify", args=(), kwargs={}, options={})
    with caplog.at_level(logging.INFO, logger="prsm.actor"):
        middleware.before_process_message(None, message)
        middleware.after_process_message(None, message, exception=ValueError("bad input"))

    (line,) = [r for r in caplog.records if r.name == "prsm.actor"]
    assert line.levelno == logging.ERROR
    assert "user_notify" in line.getMessage() and "ValueError: bad input" in line.getMessage()
