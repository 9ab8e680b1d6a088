"""Websocket routes of every app, gathered in one list for the ASGI router."""

from accounts.routing import websocket_urlpatterns as accounts_ws
from distillation.routing import websocket_urlpatterns as distillation_ws

websocket_urlpatterns = [*accounts_ws, *distillation_ws]
