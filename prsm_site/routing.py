"""Websocket routes of every app, gathered in one list for the ASGI router; any other path is
refused cleanly (4404) rather than failing in the router."""

from django.urls import re_path

from accounts.routing import websocket_urlpatterns as accounts_ws
from core.websockets import unknown_path
from distillation.routing import websocket_urlpatterns as distillation_ws

websocket_urlpatterns = [*accounts_ws, *distillation_ws, re_path(r"", unknown_path)]
