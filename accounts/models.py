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
    # What the key may do: read (GET), predict (call deployed models), manage (every other write).
    # A comma-delimited subset of SCOPES; a token given to an application can be "predict" alone.
    scopes = models.CharField(max_length=60, default="read,predict,manage")

    SCOPES = ("read", "predict", "manage")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_user_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(filter(None, self.scopes.split(",")))


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


class ProviderCredential(models.Model):
    """A user's key for an OpenAI-compatible chat-completions service, used by ``openai:MODEL`` teachers.
    The key is stored encrypted (``accounts.secrets``), never logged and never shown again; ``key_last4``
    lets its owner tell keys apart. The operator's own provider is configured in settings instead."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_credentials")
    name = models.CharField(max_length=60, default="openai")
    base_url = models.URLField(max_length=300, help_text="e.g. https://api.openai.com/v1")
    key_encrypted = models.TextField(editable=False)
    key_last4 = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="provider_credential_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url}, …{self.key_last4})"
