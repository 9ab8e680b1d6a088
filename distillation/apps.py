from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class DistillationConfig(AppConfig):
    name = "distillation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The web server and every worker refuse to start on libraries that load models unsafely.
        from prsm.engine.safety_versions import MINIMUM, unsafe_versions

        found = unsafe_versions()
        if found:
            names = ", ".join(f"{name} {version} (needs >= {MINIMUM[name]})" for name, version in found.items())
            raise ImproperlyConfigured(f"refusing to start with library versions that load models unsafely: {names}")
