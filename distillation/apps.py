from django.apps import AppConfig


class DistillationConfig(AppConfig):
    name = "distillation"
    default_auto_field = "django.db.models.BigAutoField"
