"""The library under prsm/ must import from a notebook: no Django, DRF, Channels or Dramatiq."""

import ast
from pathlib import Path

FORBIDDEN = {"django", "rest_framework", "channels", "channels_redis", "dramatiq", "daphne", "drf_spectacular"}
PRSM = Path(__file__).resolve().parent.parent / "prsm"


def _imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_in_prsm_imports_the_web_stack():
    offenders = {
        str(path.relative_to(PRSM.parent)): sorted(_imported_roots(path.read_text()) & FORBIDDEN)
        for path in PRSM.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_itself_sees_a_forbidden_import():
    assert _imported_roots("from django.db import models\nimport dramatiq.brokers") == {"django", "dramatiq"}
