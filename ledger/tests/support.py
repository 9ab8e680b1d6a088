import threading

import pytest
from django.db import connection, connections

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: row locks (SELECT ... FOR UPDATE) and concurrent connections; SQLite serialises "
    "every writer, so there is nothing to race. CI runs these on PostgreSQL (DATABASE_URL=postgres://...).",
)


def run_at_once(tasks: list, *, timeout: float = 60) -> list:
    """Run each callable in its own thread (each with its own database connection), all released
    together by a barrier; return their results (or the exceptions they raised) in order."""
    barrier = threading.Barrier(len(tasks))
    results: list = [None] * len(tasks)

    def run(index, task):
        try:
            barrier.wait()
            results[index] = task()
        except BaseException as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, task)) for i, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results
