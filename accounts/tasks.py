import dramatiq
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core.broker import broker  # noqa: F401 - configures the broker before any actor exists

from .consumers import user_group


@dramatiq.actor(queue_name="default", max_retries=3)
def user_notify(user_id: int, payload: dict) -> None:
    """Push a notification to every open browser tab of one user."""
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.notify", "payload": payload})
