"""No code of ours loads a pickle: every torch.load passes weights_only=True, nothing passes
trust_remote_code=True, and pickle.load(s), joblib.load and numpy.load(allow_pickle=True) are absent.

An AST walk over the project's own packages (never the virtualenv); a second test shows the walk
catches each pattern in a snippet."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.layers import LAYERS

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {".git", ".venv", "var", "node_modules", "staticfiles"}  # not our code, or run data


def _name(node: ast.AST) -> str:
    """The dotted name a call targets: ``torch.load``, ``pickle.loads``, ``load``."""
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local names bound by imports (``from torch import load as tload`` -> {"tload": "torch.load"})."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
    return names


def unsafe_loads(source: str, filename: str = "<snippet>") -> list[str]:
    """Every unsafe load in ``source`` as ``file:line: what``."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        head, _, rest = name.partition(".")
        name = f"{aliases[head]}.{rest}" if head in aliases and rest else aliases.get(name, name)
        where = f"{filename}:{node.lineno}"
        if name in ("torch.load",) and not _is_true(_keyword(node, "weights_only")):
            found.append(f"{where}: torch.load without weights_only=True")
        if name in ("pickle.load", "pickle.loads", "cPickle.load", "cPickle.loads", "dill.load", "dill.loads",
                    "joblib.load", "pandas.read_pickle", "pd.read_pickle", "cloudpickle.load", "cloudpickle.loads"):
            found.append(f"{where}: {name} unpickles")
        if name in ("numpy.load", "np.load") and not _keyword_is_false_or_absent(node, "allow_pickle"):
            found.append(f"{where}: {name} with allow_pickle")
        if _is_true(_keyword(node, "trust_remote_code")):
            found.append(f"{where}: trust_remote_code=True")
    return found


def _keyword_is_false_or_absent(call: ast.Call, name: str) -> bool:
    value = _keyword(call, name)
    return value is None or (isinstance(value, ast.Constant) and value.value is False)


def _project_files():
    """Every Python file of the tree (every package, its tests, bench/ and scripts/), so that no
    new app or folder is left out of the walk."""
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIPPED.intersection(path.relative_to(ROOT).parts):
            yield path


def test_no_project_code_loads_a_pickle():
    files = list(_project_files())
    assert {path.relative_to(ROOT).parts[0] for path in files} >= {*LAYERS, "bench", "tests"}
    found = [hit for path in files for hit in unsafe_loads(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("snippet", [
    "import torch\ntorch.load('m.pt')",
    "import torch\ntorch.load('m.pt', weights_only=False)",
    "from torch import load\nload('m.pt')",
    "import torch as t\nt.load(path, map_location='cpu')",
    "import pickle\npickle.load(open('x', 'rb'))",
    "import pickle\npickle.loads(data)",
    "import joblib\njoblib.load('model.joblib')",
    "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
    "import numpy\nnumpy.load('a.npy', allow_pickle=flag)",
    "from transformers import AutoModel\nAutoModel.from_pretrained('x', trust_remote_code=True)",
])
def test_the_check_catches_each_unsafe_pattern(snippet):
    assert len(unsafe_loads(snippet)) == 1


@pytest.mark.parametrize("snippet", [
    "import torch\ntorch.load('m.pt', weights_only=True, map_location='cpu')",
    "import numpy as np\nnp.load('a.npy', mmap_mode='r')",
    "import numpy as np\nnp.load('a.npy', allow_pickle=False)",
    "from transformers import AutoModel\nAutoModel.from_pretrained('x', trust_remote_code=False)",
    "import json\njson.loads('{}')",
])
def test_the_check_lets_safe_loads_through(snippet):
    assert unsafe_loads(snippet) == []
