"""Catalog teachers, built locally from packaged weights and built-in data and cached under
``$PRSM_HOME/catalog`` (``PRSM_HOME`` defaults to ``~/.cache/prsm``).

``resolve("catalog:NAME")`` gives a built teacher's folder, ``catalog_list()`` every entry with
its status, ``catalog_build(NAME)`` builds one (``prsm catalog build NAME`` on the command line) and
``catalog_ensure(NAME)`` builds it only if no one has, one build at a time: the pipeline's first
stage when a job names a teacher not built yet.
"""

from .registry import (CATALOG_FILE, CATALOG_NAMES, ENTRIES, CatalogEntry, CatalogError, build_seconds_expected,
                       catalog_build, catalog_building, catalog_dir, catalog_ensure, catalog_list, default_data,
                       heldout_indices, read_card, resolve)

__all__ = ["CATALOG_FILE", "CATALOG_NAMES", "ENTRIES", "CatalogEntry", "CatalogError", "build_seconds_expected",
           "catalog_build", "catalog_building", "catalog_dir", "catalog_ensure", "catalog_list", "default_data",
           "heldout_indices", "read_card", "resolve"]
