from django.db import models


class WorkerSample(models.Model):
    """What the workers were doing at one moment, recorded every few minutes by the scheduler
    (``moderation.tasks.operations_sample``), so the operations page can chart worker liveness and
    utilisation over a day and a week (heartbeats themselves expire and are not kept)."""

    taken_at = models.DateTimeField(db_index=True)
    live = models.PositiveIntegerField(help_text="worker processes with a live heartbeat")
    busy = models.PositiveIntegerField(null=True, blank=True,
                                       help_text="of them, those holding a message other than the sample's own; "
                                                 "null when the broker could not be read")

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.live} live, {self.busy} busy at {self.taken_at:%Y-%m-%d %H:%M}"
