"""The one confined child process for every step that opens a file from someone else.

``run_confined("package.module:function", args, Confinement(...))`` runs that function of ours in
``python -I -m prsm.engine.untrusted.child`` and returns what it returned (as JSON). The child:

- runs in a network namespace of its own where the machine allows it (``unshare -rn``; containers
  often do not), and has sockets replaced by a stub and an audit hook either way, which also blocks
  starting processes, deleting, renaming or linking files, ``ctypes`` and writing anywhere but the
  one folder it is given;
- has limits on address space (beyond what it holds once its modules are imported), CPU time, open
  files, the size of any file it writes, and no core dumps;
- starts with a minimal environment (``-I``: no user site, no ``PYTHON*`` variables), a scratch
  working and home directory, no stdin, and one thread per math library;
- is killed past a wall-clock limit.

A refusal the function raises (``BadInput``) comes back as ``ChildRefused`` with its one line; a
crash, a limit that stopped it, or a child that said nothing comes back as ``ChildFailed`` with the
reason; the wall clock as ``ChildTimedOut``. The caller words them for its own users.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess  # nosec B404 - runs only our own interpreter and module, with a fixed argv
import sys
import tempfile
from dataclasses import asdict, dataclass

from ..errors import BadInput

__all__ = ["ChildFailed", "ChildRefused", "ChildTimedOut", "Confinement", "run_confined"]

CHILD_MODULE = "prsm.engine.untrusted.child"
MAX_VERDICT_CHARS = 64 * 1024


@dataclass(frozen=True)
class Confinement:
    """What a confined child may use. ``memory_bytes`` is address space beyond what the child holds
    once its modules are imported (torch alone maps gigabytes it never touches)."""

    memory_bytes: int
    cpu_seconds: int = 60  # SIGXCPU at this, SIGKILL 5 s later
    wall_seconds: float = 120
    open_files: int = 64
    max_write_bytes: int = 0  # the largest file it may write (0: none)
    writable: str = ""  # the one folder it may write into ("": none)
    preload: tuple[str, ...] = ()  # modules the function imports lazily, imported before the limits
    task: str = "the check"  # how messages name the work: "... more memory than the check is allowed"


class ChildFailed(BadInput):
    """The confined work did not finish: it crashed or a limit stopped it; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ChildRefused(ChildFailed):
    """The work itself refused the file (it raised ``BadInput``); ``reason`` is its first line."""


class ChildTimedOut(ChildFailed):
    """The child ran past its wall-clock limit and was killed."""


def run_confined(target: str, args: list, confinement: Confinement):
    """Run ``target`` (``"module:function"``, a function of ours) on ``args`` (JSON values) in a
    confined child and return its result (a JSON value); raises ``ChildFailed`` and its kinds."""
    spec = json.dumps({"target": target, "args": list(args), "confinement": asdict(confinement)})
    command = [sys.executable, "-I", "-m", CHILD_MODULE, spec]
    if unshare := network_namespace():
        command = [unshare, "--user", "--map-root-user", "--net", "--", *command]
    with tempfile.TemporaryDirectory(prefix="prsm-confined-") as scratch:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": scratch, "TMPDIR": scratch,
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}
        try:
            result = subprocess.run(  # nosec B603 - our own interpreter and module, no shell
                command, capture_output=True, text=True, errors="replace", env=env, cwd=scratch,
                timeout=confinement.wall_seconds, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ChildTimedOut(f"it took longer than {confinement.wall_seconds} s") from None
    verdict = _verdict(result.stdout)
    if result.returncode == 0 and "ok" in verdict:
        return verdict.get("result")
    if verdict.get("refused"):
        raise ChildRefused(verdict["refused"])
    raise ChildFailed(verdict.get("error") or _stopped_by(result.returncode, result.stderr, confinement))


def _verdict(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    try:
        verdict = json.loads(lines[-1][:MAX_VERDICT_CHARS]) if lines else {}
    except json.JSONDecodeError:
        return {}
    return verdict if isinstance(verdict, dict) else {}


def _stopped_by(returncode: int, stderr: str, confinement: Confinement) -> str:
    """The limit that stopped a child that could not say why itself."""
    if returncode == -signal.SIGXCPU:
        return f"it used more than {confinement.cpu_seconds} s of CPU time"
    if returncode == -signal.SIGXFSZ:
        return f"it would write a file larger than {confinement.max_write_bytes} bytes"
    if "MemoryError" in stderr or "bad_alloc" in stderr or "can't allocate memory" in stderr:
        return f"it needs more memory than {confinement.task} is allowed"
    if returncode < 0:
        return f"{confinement.task} process was stopped by signal {signal.Signals(-returncode).name}"
    last = (stderr.strip().splitlines() or ["no reason given"])[-1]
    return f"{confinement.task} process failed (exit {returncode}: {last[:200]})"


@functools.lru_cache(maxsize=1)
def network_namespace() -> str | None:
    """``unshare``'s path when this machine lets a process take a network namespace of its own
    (containers often do not: the socket stub and the audit hook then stand alone)."""
    unshare, true = shutil.which("unshare"), shutil.which("true")
    if not (unshare and true):
        return None
    try:
        done = subprocess.run(  # nosec B603 - absolute paths, no shell
            [unshare, "--user", "--map-root-user", "--net", "--", true], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return unshare if done.returncode == 0 else None

