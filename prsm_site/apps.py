from django.apps import AppConfig


class PrsmSiteConfig(AppConfig):
    name = "prsm_site"
    verbose_name = "PRSM platform"
