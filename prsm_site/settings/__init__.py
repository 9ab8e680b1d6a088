"""Settings are split by purpose: ``base`` (shared, read from the environment), ``test`` and ``prod``.

``DJANGO_SETTINGS_MODULE`` picks one; ``manage.py`` and the ASGI entry point default to ``base``.
"""
