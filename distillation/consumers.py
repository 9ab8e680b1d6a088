from channels.db import database_sync_to_async

from core.websockets import NOT_FOUND, JsonFrameConsumer

from .selectors import job_events_since, job_visible_to
from .services import job_group

MAX_SEQ = 2**31 - 1  # the column's range; a job has far fewer events


class JobConsumer(JsonFrameConsumer):
    """One job's live events (owner or staff). Send ``{"since": SEQ}`` to get what was missed."""

    async def connect(self):
        self.job = await database_sync_to_async(job_visible_to)(user=self.scope.get("user"), job_id=self.scope["url_route"]["kwargs"]["job_id"])
        if self.job is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = job_group(self.job.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "job", None) is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        since = content.get("since") if isinstance(content, dict) else None
        if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since <= MAX_SEQ:
            await self.send_json({"type": "error", "message": f'send {{"since": SEQ}} with SEQ from 0 to {MAX_SEQ}'})
            return
        for message in await database_sync_to_async(job_events_since)(job=self.job, since=since):
            await self.send_json(message)

    async def job_event(self, event):
        await self.send_json(event["message"])
