"""ASGI entry point: HTTP and websockets in one process (run with ``daphne prsm_site.asgi:application``).

``POST /api/v1/models/{id}/predict/`` with an API token and a JSON body is answered by the lean path
(``serving/fast_path.py``: no Django request, the access decision kept a few seconds); the rest of that
route (a browser session) and ``.../predict/images/`` (multipart image files) by their own Django handler with a short middleware list, the
async view ``serving/endpoint.py`` (each of the site's sync middleware would cost it a hop to the sync
thread and back on every call: bench/serving.py). Every other request gets the whole list."""

import os
import re

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prsm_site.settings.base")
django_http = get_asgi_application()  # sets Django up before anything imports models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from accounts.ws_auth import AllowedHostsBrowserOriginValidator, WebsocketAuthStack  # noqa: E402
from serving import fast_path  # noqa: E402

from .routing import websocket_urlpatterns  # noqa: E402

PREDICT_PATH = re.compile(r"^/api/v1/models/[0-9a-fA-F-]{36}/predict/(images/)?$")  # images/: multipart files
# Token-authenticated JSON calls need no session, CSRF cookie, messages or frame options; the request log
# and the API's paging bounds stay. The view sets its own security headers (serving/endpoint.py).
PREDICT_MIDDLEWARE = ["core.logging.RequestLogMiddleware", "core.middleware.ApiQueryBounds"]


class PredictHandler(ASGIHandler):
    """Django's ASGI handler with ``PREDICT_MIDDLEWARE`` instead of ``settings.MIDDLEWARE``."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = PREDICT_MIDDLEWARE
        try:
            super().load_middleware(is_async=is_async)
        finally:
            settings.MIDDLEWARE = full


predict_http = PredictHandler()


async def http(scope, receive, send):
    predict = PREDICT_PATH.match(scope.get("path", "")) if scope.get("method") == "POST" else None
    if predict:
        handler = fast_path.predict_app if not predict.group(1) and fast_path.handles(scope) else predict_http
    else:
        handler = django_http
    await handler(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": AllowedHostsBrowserOriginValidator(WebsocketAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
