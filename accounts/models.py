from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named API key. Only the key's SHA-256 is stored (the key is shown once, when made); the
    prefix lets its owner tell keys apart. A revoked token stays listed for the record."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_user_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class Notification(models.Model):
    """Something that happened to a user's jobs or listings, kept so the account page can list
    it after the live message has gone by (``services.notification_send``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.SlugField(max_length=40, help_text="job_completed, job_failed, model_sold, ...")
    message = models.CharField(max_length=500)
    link = models.CharField(max_length=300, blank=True, help_text="a path on this site, e.g. /jobs/<id>/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_recent")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:40]}"

    @property
    def kind_label(self) -> str:  # static/js/account.js words live ones the same way
        return self.kind.replace("_", " ").capitalize()
