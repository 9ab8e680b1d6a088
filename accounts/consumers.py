from core.websockets import JsonFrameConsumer


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


class NotificationConsumer(JsonFrameConsumer):
    """Read-only stream of a signed-in user's notifications (``user.notify`` group messages)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "This stream is read-only."})

    async def user_notify(self, event):
        await self.send_json(event["payload"])
