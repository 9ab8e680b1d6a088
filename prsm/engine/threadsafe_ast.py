"""``ast.parse`` made safe to call from several threads at once in one process.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by every thread
(python/cpython#106905). When two threads build ASTs at the same time, and one of them yields
the GIL midway (a garbage collection running a finaliser is enough), the other finishes with the
shared count moved under it and raises ``SystemError: AST constructor recursion depth mismatch``.
Jobs run this way: a worker has several threads, and each job's ONNX export builds the
onnxscript function library by parsing hundreds of functions with ``ast.parse``. One such error
failed a job in CI.

:func:`install` wraps ``ast.parse`` in one re-entrant lock per process (re-entrant, so that a
finaliser that parses inside a parse cannot deadlock). Parsing is quick and rare next to
training, so holding it one thread at a time costs nothing measurable. Idempotent.
"""

from __future__ import annotations

import ast
import functools
import threading

_LOCK = threading.RLock()


def _locked(parse):
    @functools.wraps(parse)  # keeps the name and doc, and sets __wrapped__, which install() checks
    def parse_one_thread_at_a_time(*args, **kwargs):
        with _LOCK:
            return parse(*args, **kwargs)

    return parse_one_thread_at_a_time


def install() -> None:
    """Make ``ast.parse`` take the process-wide lock; calling it again changes nothing."""
    if getattr(ast.parse, "__wrapped__", None) is None:
        ast.parse = _locked(ast.parse)


def installed() -> bool:
    return getattr(ast.parse, "__wrapped__", None) is not None
