"""The packages keep their declared layers (tests/layers.py, docs/ARCHITECTURE.md): no import runs
upward, no modules import each other round a loop, and every package in the tree has a layer.
The checker is shown to catch each kind of fault on a small tree of its own."""

from __future__ import annotations

import textwrap
from fnmatch import fnmatch
import tomllib
from pathlib import Path

from django.conf import settings

from tests.layers import LAYERS, ROOT, module_cycles, packages_in_tree, upward_imports


def test_no_package_imports_a_layer_above_it():
    wrong = upward_imports(ROOT, LAYERS)
    assert not wrong, "imports that run upward:\n" + "\n".join(map(str, wrong))


def test_no_modules_import_each_other_round_a_loop():
    cycles = module_cycles(ROOT, LAYERS)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def test_every_package_in_the_tree_has_a_layer():
    assert packages_in_tree(ROOT) == set(LAYERS)


def test_every_local_app_is_a_layer_and_is_installed_as_a_package():
    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local_apps <= set(LAYERS)
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in include} == set(LAYERS)


def test_pytest_collects_every_folder_of_tests():
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    roots = [(ROOT / path).resolve() for path in pytest_options["testpaths"]]
    skipped = pytest_options["norecursedirs"]
    missed = []
    for path in ROOT.rglob("test_*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", ".git", "var"):
            continue
        outside = not any(path.is_relative_to(root) for root in roots)
        if outside or any(fnmatch(part, pattern) for part in parts[:-1] for pattern in skipped):
            missed.append(str(path.relative_to(ROOT)))
    assert missed == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_the_walk_finds_an_upward_import_even_inside_a_function(tmp_path):
    root = _tree(tmp_path, {
        "low/__init__.py": "",
        "low/services.py": "def deploy():\n    from high.services import listing_create\n    return listing_create()\n",
        "low/tests/test_it.py": "import high\n",  # tests compose layers: not walked
        "high/__init__.py": "",
        "high/services.py": "from low import services\n\ndef listing_create():\n    return services\n",
    })
    wrong = upward_imports(root, ("low", "high"))
    assert [(imp.module, imp.target, imp.line) for imp in wrong] == [("low.services", "high.services.listing_create", 2)]


def test_the_walk_finds_a_cycle_through_relative_and_lazy_imports(tmp_path):
    root = _tree(tmp_path, {
        "eng/__init__.py": "",
        "eng/pipeline.py": "def run():\n    from . import stages\n    return stages\n",
        "eng/stages/__init__.py": "from .train import train\n",
        "eng/stages/train.py": "from ..pipeline import run\n\ndef train():\n    return run\n",
        "eng/errors.py": "",
        "eng/losses.py": "from .errors import *\n",
    })
    assert module_cycles(root, ("eng",)) == [["eng.pipeline", "eng.stages", "eng.stages.train"]]


def test_the_walk_leaves_a_clean_tree_alone(tmp_path):
    root = _tree(tmp_path, {
        "low/__init__.py": "from .api import handler\n",
        "low/api.py": "from . import services\n\ndef handler():\n    return services\n",
        "low/services.py": "from .models import Row\n",
        "low/models.py": "import json\n",
        "high/__init__.py": "",
        "high/views.py": "from low.services import Row\nfrom low import api\n",
    })
    assert upward_imports(root, ("low", "high")) == []
    assert module_cycles(root, ("low", "high")) == []
