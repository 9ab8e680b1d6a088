"""Two threads parsing at once: CPython 3.11's AST constructor can fail (python/cpython#106905); the engine's guard stops it."""

import json
import subprocess
import sys

import pytest

from prsm.engine import threadsafe_ast

# Two threads parse the same source; a garbage-collection callback sleeps, so that the GIL
# passes to the other thread in the middle of building an AST, as a finaliser can in a worker.
RACE = r"""
import ast, gc, json, sys, threading, time
if sys.argv[1] == "guarded":
    from prsm.engine.threadsafe_ast import install
    install()
source = "\n".join(f"def f{i}(a, b):\n    return [(a + b) * {i} for _ in range(3) if a]" for i in range(150))
gc.callbacks.append(lambda phase, info: time.sleep(0.0002) if phase == "start" else None)
gc.set_threshold(50, 5, 5)
errors, parsed = [], []
deadline = time.monotonic() + float(sys.argv[2])

def parse():
    while time.monotonic() < deadline and not errors:
        try:
            ast.parse(source)
            parsed.append(1)
        except SystemError as error:
            errors.append(str(error))

threads = [threading.Thread(target=parse) for _ in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"errors": errors, "parsed": len(parsed)}))
"""


def _race(mode: str, seconds: float) -> dict:
    done = subprocess.run([sys.executable, "-c", RACE, mode, str(seconds)], capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def test_parsing_on_several_threads_raises_no_system_error_once_the_guard_is_installed():
    unguarded = _race("unguarded", 6)
    if not unguarded["errors"]:
        pytest.skip(f"this interpreter ({sys.version.split()[0]}) did not show the race in 6 s: nothing to guard against")
    assert "recursion depth mismatch" in unguarded["errors"][0]
    guarded = _race("guarded", 6)
    assert guarded["errors"] == []
    assert guarded["parsed"] > 10  # the threads did parse, one at a time


def test_install_is_idempotent_and_the_pipeline_installs_it():
    import ast

    import prsm.engine.pipeline  # noqa: F401

    assert threadsafe_ast.installed()
    wrapped = ast.parse
    threadsafe_ast.install()
    assert ast.parse is wrapped
    assert ast.parse("x = 1").body[0].targets[0].id == "x"
