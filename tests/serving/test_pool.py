"""The serving pool as the web platform runs it: a supervisor process, two workers on Unix sockets,
and the client. Real exports, real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import threading
import zlib

import pytest

from prsm.serving.client import ServingClient
from prsm.serving.errors import InputError, ModelUnavailable, ServingUnavailable
from prsm.serving.model import ServedModel


def in_threads(count: int, call) -> list:
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = call(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def model_status(pool, key: str) -> dict:
    return next(m for m in pool.client.status()["models"] if m["key"] == key)


def test_the_pool_serves_on_private_sockets_and_says_so_in_pool_json(pool):
    record = json.loads((pool.socket_dir / "pool.json").read_text())
    assert record["workers"] == 2 and record["pid"] == pool.process.pid
    for name in record["sockets"]:
        assert stat.S_IMODE((pool.socket_dir / name).stat().st_mode) == 0o600
    assert [w["alive"] for w in pool.client.status()["workers"]] == [True, True]


def test_a_model_answers_through_the_pool_as_it_does_in_process(pool, digits_export, text_export):
    rows = [[float(i % 17)] * 64 for i in range(3)]
    assert pool.client.predict("digits", str(digits_export), rows) == ServedModel.load(digits_export).predict(rows)
    texts = ["great fun", "dull and tedious plot"]
    answer = pool.client.predict("reviews", str(text_export), texts, version="1")
    expected = ServedModel.load(text_export).predict(texts)
    assert [a["label"] for a in answer] == [e["label"] for e in expected]
    assert abs(answer[0]["probabilities"]["positive"] - expected[0]["probabilities"]["positive"]) < 1e-5


def test_image_bytes_travel_base64_and_are_decoded_by_the_worker(pool, image_export, shapes_folder):
    files = [path.read_bytes() for path in sorted(shapes_folder.rglob("*.png"))[:4]]
    assert pool.client.predict("shapes", str(image_export), files) == ServedModel.load(image_export).predict(files)
    with pytest.raises(InputError, match="input 1: not a readable image"):
        pool.client.predict("shapes", str(image_export), [files[0], b"not an image"])


def test_concurrent_predictions_for_one_model_share_batches(pool, digits_export):
    key = "digits-burst"
    pool.client.warm(key, str(digits_export))
    expected = ServedModel.load(digits_export).predict([[float(i)] * 64 for i in range(16)])
    for _ in range(3):  # a busy machine may serve one burst one by one; three in a row would be a bug
        answers = in_threads(32, lambda i: pool.client.predict(key, str(digits_export), [[float(i % 16)] * 64]))
        assert all(isinstance(a, list) for a in answers), answers
        if model_status(pool, key)["largest_batch"] > 1:
            break
    status = model_status(pool, key)
    assert status["largest_batch"] > 1 and status["batched_requests"] > 1
    assert status["worker"] == zlib.crc32(key.encode()) % 2
    for i, answer in enumerate(answers):
        assert answer[0]["label"] == expected[i % 16]["label"]
        assert abs(answer[0]["probabilities"]["3"] - expected[i % 16]["probabilities"]["3"]) < 1e-5


def test_it_names_bad_inputs_and_paths_that_are_not_models(pool, digits_export, tmp_path):
    with pytest.raises(InputError, match="input 1: 2 features, the model takes 64"):
        pool.client.predict("digits", str(digits_export), [[0] * 64, [1, 2]])
    with pytest.raises(InputError, match="not JSON"):
        pool.client.predict("digits", str(digits_export), [[float("nan")] * 64])
    with pytest.raises(ModelUnavailable, match="no such model file"):
        pool.client.predict("gone", str(tmp_path / "missing.onnx"), [[0] * 64])
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x01junk")
    with pytest.raises(ModelUnavailable, match="not a loadable ONNX model"):
        pool.client.warm("junk", str(tmp_path / "junk.onnx"))


def raw_exchange(path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10)
        connection.connect(str(path))
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("payload", [
    frame(b"\xff\xfe not utf-8"), frame(b"[1, 2, 3]"), frame(b'{"op": "predict"}'), frame(b'{"op": "nope"}'),
    frame(b'{"op": "predict", "key": "k", "path": 5, "inputs": []}'), frame(b'{"a": NaN}'), frame(b"[" * 100_000),
    frame(b'{"op": "warm", "key": ["x"], "path": "/x"}'), struct.pack(">I", 1 << 30), struct.pack(">I", 100) + b"short", b"\x00\x01",
])
def test_garbage_on_the_socket_gets_an_error_and_the_worker_keeps_serving(pool, digits_export, payload):
    pids = [w["pid"] for w in pool.client.status()["workers"]]
    answer = raw_exchange(pool.socket_dir / "worker-0.sock", payload)
    if len(answer) > 4:
        assert json.loads(answer[4:])["ok"] is False
    assert [w["pid"] for w in pool.client.status()["workers"]] == pids
    assert len(pool.client.predict("digits", str(digits_export), [[0] * 64])) == 1


def test_a_killed_worker_is_restarted_and_serves_again(pool, digits_export):
    key = "digits"
    index = pool.client.worker_for(key)
    pool.client.warm(key, str(digits_export))
    old = pool.client.status()["workers"][index]["pid"]

    os.kill(old, signal.SIGKILL)

    def restarted() -> bool:
        worker = pool.client.status()["workers"][index]
        return worker["alive"] and worker["pid"] != old
    pool.wait_until(restarted, "the worker was not restarted")
    assert len(pool.client.predict(key, str(digits_export), [[1] * 64])) == 1
    assert json.loads((pool.socket_dir / "pool.json").read_text())["restarts"][index] == 1


def test_a_client_without_a_pool_raises_serving_unavailable(tmp_path):
    with pytest.raises(ServingUnavailable, match="not running"):
        ServingClient(tmp_path).predict("k", "/x.onnx", [[1]])
    (tmp_path / "pool.json").write_text(json.dumps({"workers": 1, "pid": 1}))
    assert ServingClient(tmp_path).status()["workers"][0]["alive"] is False
    with pytest.raises(ServingUnavailable, match="worker 0 is unavailable"):
        ServingClient(tmp_path).warm("k", "/x.onnx")


def test_the_async_client_keeps_its_connections_and_survives_a_worker_restart(pool, digits_export):
    import asyncio

    from prsm.serving import aio
    from prsm.serving.pool import socket_path

    key = "digits-async"
    index = pool.client.worker_for(key)
    client = aio.AsyncServingClient(pool.socket_dir)

    async def calls(count: int) -> tuple[list, int]:
        answers = [await client.predict_async(key, str(digits_export), [[1.0] * 64]) for _ in range(count)]
        return answers, len(aio._idle_connections(str(socket_path(pool.socket_dir, index))))

    async def scenario():
        answers, kept = await calls(3)
        assert kept == 1  # three calls, one connection, kept for the next
        old = pool.client.status()["workers"][index]["pid"]
        os.kill(old, signal.SIGKILL)
        await asyncio.to_thread(pool.wait_until, lambda: pool.client.status()["workers"][index].get("pid") not in (None, old)
                                and pool.client.status()["workers"][index]["alive"], "the worker was not restarted")
        again, kept = await calls(2)  # the kept connection is dead: dropped, and the call goes through a new one
        concurrent = await asyncio.gather(*(client.predict_async(key, str(digits_export), [[2.0] * 64]) for _ in range(5)))
        return answers + again, concurrent, kept

    answers, concurrent, kept = asyncio.run(scenario())

    assert kept == 1 and len(answers) == 5 and all(len(a) == 1 for a in answers + list(concurrent))
    assert answers[0][0]["label"] == answers[-1][0]["label"]
