"""ASGI entry point: HTTP and websockets in one process (run with ``daphne prsm_site.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prsm_site.settings.base")
django_http = get_asgi_application()  # sets Django up before anything imports models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import AllowedHostsBrowserOriginValidator, WebsocketAuthStack  # noqa: E402

from .routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": AllowedHostsBrowserOriginValidator(WebsocketAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
