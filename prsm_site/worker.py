"""Entry point for workers: ``dramatiq prsm_site.worker --queues default training``.

Sets up Django, then imports the broker and every installed app's ``tasks`` module, so that a
worker knows every actor no matter which app declared it.
"""

import os

import django

from prsm.engine.threadsafe_ast import install as threadsafe_ast

threadsafe_ast()  # before any thread parses: a worker runs its jobs on several threads (see the module)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prsm_site.settings.base")
django.setup()

from django.utils.module_loading import autodiscover_modules  # noqa: E402

from core.broker import broker  # noqa: E402,F401

autodiscover_modules("tasks")
