import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace.tests.conftest import (api_for, catalog_home, completed_job, listed,  # noqa: F401 - shared fixtures
                                        make_unfunded_user, make_user)
from prsm.webhooks import WebhookSignatureError, verify_signature


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every request it gets and answers from ``answers`` in turn
    (status, body, seconds to wait first), then with ``default``."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, bytes, float]] = []
        self.default = (200, b'{"received": true}', 0.0)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.time(),
                                              "path": self.path})
                    status, answer, wait = receiver.answers.pop(0) if receiver.answers else receiver.default
                time.sleep(wait)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def verified(self, secret: str) -> list[dict]:
        """The requests whose PRSM-Signature checks out with ``secret``, each with its parsed body."""
        good = []
        for request in list(self.requests):
            try:
                verify_signature(secret, request["headers"].get("PRSM-Signature", ""), request["body"])
            except WebhookSignatureError:
                continue
            good.append({**request, "json": json.loads(request["body"])})
        return good

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
