"""The confined child every untrusted-file step runs in: what it may not do, and how a refusal, a
crash and a timeout come back to the caller."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from prsm.engine.errors import BadInput
from prsm.engine.untrusted.kinds import safetensors_tensors
from prsm.engine.untrusted.sandbox import ChildFailed, ChildRefused, ChildTimedOut, Confinement, run_confined
from tests.hostile_files import safetensors_bytes

SMALL = Confinement(memory_bytes=512 << 20, cpu_seconds=20, wall_seconds=60)

CONFINED = """
import json, os, socket, sys
from prsm.engine.untrusted.child import confine
out = sys.argv[1]
confine({"memory_bytes": 1 << 30, "cpu_seconds": 30, "open_files": 64, "max_write_bytes": 1 << 20,
         "writable": os.path.dirname(out), "task": "the test"})
results = {}
for name, attempt in {
    "socket": lambda: socket.socket(),
    "connect": lambda: socket.create_connection(("127.0.0.1", 5432)),
    "system": lambda: os.system("touch " + sys.argv[2]),
    "popen": lambda: __import__("subprocess").Popen(["touch", sys.argv[2]]),
    "write elsewhere": lambda: open(sys.argv[2], "w"),
    "write beside the folder": lambda: open(os.path.dirname(out) + "-twin", "w"),
    "write the output": lambda: open(out, "w").close(),
    "delete": lambda: os.remove(out),
}.items():
    try:
        attempt()
        results[name] = "allowed"
    except (PermissionError, OSError) as error:
        results[name] = "blocked"
print(json.dumps(results))
"""


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "the child wrote the canary"


def test_a_confined_child_cannot_open_sockets_start_processes_or_write_outside_its_folder(tmp_path, canary):
    out = tmp_path / "out" / "model.safetensors"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-I", "-c", CONFINED, str(out), str(canary)], capture_output=True,
                            text=True, timeout=60)

    assert json.loads(result.stdout.splitlines()[-1]) == {
        "socket": "blocked", "connect": "blocked", "system": "blocked", "popen": "blocked", "write elsewhere": "blocked",
        "write beside the folder": "blocked", "write the output": "allowed", "delete": "blocked"}, result.stderr
    assert out.exists() and not (tmp_path / "out-twin").exists()


@pytest.fixture
def listener():
    """A TCP socket listening on 127.0.0.1, not blocking."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def accepted(server: socket.socket) -> bool:
    """Whether anyone connected to ``server`` (the connection is closed)."""
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_a_child_that_reaches_for_the_network_is_stopped_and_connects_nowhere(listener):
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

    with pytest.raises(ChildFailed, match="not allowed|no network"):
        run_confined("urllib.request:urlopen", [url], SMALL)

    assert not accepted(listener)
    socket.create_connection(listener.getsockname(), timeout=5).close()  # unconfined, the same address answers
    assert accepted(listener)


def test_a_result_a_refusal_a_crash_and_a_timeout_come_back_apart(tmp_path):
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"\x08\x07" + bytes(100))

    assert run_confined("json:loads", ['{"a": [1, 2]}'], SMALL) == {"a": [1, 2]}
    with pytest.raises(ChildRefused, match=r"^model.onnx: not a valid ONNX model"):
        run_confined("prsm.engine.onnx_files:check_onnx_file", [str(not_onnx)], replace(SMALL, preload=("onnx",)))
    with pytest.raises(ChildFailed, match="^JSONDecodeError: Expecting value") as crashed:
        run_confined("json:loads", ["not json"], SMALL)
    assert not isinstance(crashed.value, ChildRefused)
    with pytest.raises(ChildTimedOut, match="longer than 0.5 s"):
        run_confined("time:sleep", [30], Confinement(memory_bytes=256 << 20, wall_seconds=0.5))


def test_the_safetensors_header_check_refuses_what_does_not_parse_or_points_outside(tmp_path):
    good = tmp_path / "good.safetensors"
    good.write_bytes(safetensors_bytes())
    assert list(safetensors_tensors(good)) == ["w"]

    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    for content, reason in ((b"\xff" * 8 + b"{}", "bad header length"),
                            (len(b"[1]").to_bytes(8, "little") + b"[1]", "not a JSON object"),
                            (len(b"{nope").to_bytes(8, "little") + b"{nope", "not JSON"),
                            (len(header).to_bytes(8, "little") + header + bytes(8), "'w' points outside the file")):
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(content)
        with pytest.raises(BadInput, match=reason):
            safetensors_tensors(bad)
