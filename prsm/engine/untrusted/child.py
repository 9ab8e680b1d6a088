"""The confined child's side: ``python -I -m prsm.engine.untrusted.child SPEC_JSON``.

It imports the target function's module (and ``preload``) first, then confines itself for the rest
of its life (``confine``), calls the function, and prints one JSON line: ``{"ok": true, "result":
...}``, ``{"refused": "..."}`` for a ``BadInput`` or ``{"error": "..."}`` for anything else.
``sandbox.run_confined`` starts it; nothing else imports it but a test of ``confine``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from pathlib import Path

from ..errors import BadInput

MAX_REASON_CHARS = 400
BLOCKED_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
                  "os.remove", "os.rename", "os.rmdir", "os.symlink", "os.link", "os.chmod", "os.chown",
                  "os.truncate", "shutil.rmtree", "subprocess.Popen", "pty.spawn", "webbrowser.open",
                  "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
                  "socket.sendto", "urllib.Request", "ctypes.dlopen")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def confine(limits: dict) -> None:
    """Limits and blocks for the rest of this process's life (``limits``: a ``Confinement`` as a dict)."""
    import resource
    import socket

    memory = _address_space() + limits["memory_bytes"]
    cpu, files, written = limits["cpu_seconds"], limits["open_files"], limits["max_write_bytes"]
    for limit, soft, hard in ((resource.RLIMIT_AS, memory, memory), (resource.RLIMIT_CPU, cpu, cpu + 5),
                              (resource.RLIMIT_NOFILE, files, files), (resource.RLIMIT_CORE, 0, 0),
                              (resource.RLIMIT_FSIZE, written, written)):
        ceiling = resource.getrlimit(limit)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(limit, (soft, hard))  # SIGXCPU at the soft CPU limit, SIGKILL at the hard one
    task = limits["task"]

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            raise PermissionError(f"no network during {task}")

    socket.socket = NoSocket  # type: ignore[misc]
    socket.create_connection = NoSocket  # type: ignore[assignment]
    sys.dont_write_bytecode = True
    allowed = limits["writable"] and limits["writable"].rstrip(os.sep) + os.sep  # inside the folder only

    def audit(event: str, args: tuple) -> None:
        if event.startswith(BLOCKED_EVENTS):
            raise PermissionError(f"{event} is not allowed during {task}")
        if event == "open" and _writes(args) and not (allowed and str(args[0]).startswith(allowed)):
            raise PermissionError(f"writing {args[0]} is not allowed during {task}")

    sys.addaudithook(audit)


def _writes(args: tuple) -> bool:
    _, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(mode, str):
        return any(char in mode for char in "wax+")
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def _address_space() -> int:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    except (OSError, AttributeError):
        return 2 << 30


def _target(name: str, preload: list[str]):
    module, _, function = name.partition(":")
    for extra in preload:
        importlib.import_module(extra)
    return getattr(importlib.import_module(module), function)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    limits = spec["confinement"]
    try:
        work = _target(spec["target"], limits["preload"])
        confine(limits)
        verdict = {"ok": True, "result": work(*spec["args"])}
    except BadInput as refusal:
        verdict = {"refused": (_first_line(refusal) or type(refusal).__name__)[:MAX_REASON_CHARS]}
    except MemoryError:
        verdict = {"error": f"it needs more memory than {limits['task']} is allowed"}
    except Exception as error:  # noqa: BLE001 - reported to the parent as one line
        line = _first_line(error)
        verdict = {"error": f"{type(error).__name__}{': ' + line if line else ''}"[:MAX_REASON_CHARS]}
    print(json.dumps(verdict, default=str), flush=True)
    return 0 if verdict.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
