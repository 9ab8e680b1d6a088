from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    verbose_name = "Serving: deployed models answer predictions"

    def ready(self):
        """A change to who may call which model reaches the predict route's kept grants at once
        (serving/fast_path.py): a save or delete of a token, a user, a deployment, a listing or a purchase
        bumps their generation. Writes by ``QuerySet.update`` send no signal; the grants still end after
        ``PREDICT_GRANT_CACHE_S``."""
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save
        from rest_framework.authtoken.models import Token

        from accounts.models import ApiToken
        from distillation.models import DeployedModel
        from marketplace.models import Listing, Purchase

        for model in (ApiToken, Token, get_user_model(), DeployedModel, Listing, Purchase):
            post_save.connect(_grants_changed, sender=model, dispatch_uid=f"grants-save-{model._meta.label}")
            post_delete.connect(_grants_changed, sender=model, dispatch_uid=f"grants-delete-{model._meta.label}")


def _grants_changed(sender, **kwargs):
    from .throttles import grants_changed

    grants_changed()
