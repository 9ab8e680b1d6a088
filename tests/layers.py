"""The project's packages in their declared layers, and an AST walk that finds every import that
runs upward or closes a cycle.

``LAYERS`` is the one list of the project's own packages, lowest first: pytest, bandit and the
unsafe-loading walk cover the whole tree, and ``test_layers.py`` checks that every package in the
tree has its place here. A package may import only itself and packages below it. Every import
counts, at the top of a module or inside a function: a function-local import hides a dependency
from a reader, not from this walk.

App tests (``tests/`` folders and ``conftest.py``) compose several layers to set up a scenario and
are not walked; migrations name other apps as strings, never by import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS: tuple[str, ...] = (
    "prsm",          # the Django-free library: engine, SDK, CLI
    "core",          # what every app shares: the domain error, broker, worker heartbeats
    "ledger",        # FTNS accounts, holds, transfers
    "accounts",      # users, tokens, moderators (a sign-up is granted FTNS)
    "webhooks",      # endpoints users register, signed deliveries of their events, retries
    "safety",        # safety reports, the breaker's state, flagged uploads, moderation log
    "distillation",  # jobs, uploads, the training actor
    "marketplace",   # listings, purchases, ratings (deploys and lists a job)
    "serving",       # deployed models answer predictions: the predict API, metering, billing, "try it"
    "moderation",    # the moderators' console and the operations page: composes safety and marketplace
    "prsm_site",     # settings, URLs, routing, ASGI, the worker's entry point
)

# Folders of the tree that are not packages of the product.
NOT_PACKAGES = {"tests", "bench", "scripts", "examples", "docs", "static", "templates", "var", "staticfiles"}


@dataclass(frozen=True)
class Import:
    module: str    # the importing module, dotted
    target: str    # the imported module or name, dotted and absolute
    line: int
    path: Path

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def walked_files(package_dir: Path):
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).parts
        if "tests" in rel or "migrations" in rel or path.name == "conftest.py" or path.name.startswith("test_"):
            continue
        yield path


def imports_of(path: Path, root: Path) -> list[Import]:
    """Every import in the file, at any depth, with relative imports made absolute."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno, path) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(module, f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno, path)
                      for alias in node.names]
    return found


def upward_imports(root: Path, layers: tuple[str, ...]) -> list[Import]:
    """Imports from a package of a layer into a package of a higher one."""
    rank = {name: index for index, name in enumerate(layers)}
    wrong = []
    for package in layers:
        for path in walked_files(root / package):
            for imp in imports_of(path, root):
                target = imp.target.split(".")[0]
                if target in rank and rank[target] > rank[package]:
                    wrong.append(imp)
    return wrong


def _resolve(target: str, modules: set[str]) -> str | None:
    """The project module an import names: ``a.b.c`` is module ``a.b.c``, or name ``c`` of ``a.b``."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def module_cycles(root: Path, layers: tuple[str, ...]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's strongly
    connected components over the module graph). A package's ``__init__`` that re-exports its own
    submodules is the usual way in and not a cycle by itself, so edges into a package's own
    ``__init__`` from inside it are left out."""
    files = {module_name(path, root): path for package in layers for path in walked_files(root / package)}
    modules = set(files)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in files.items():
        for imp in imports_of(path, root):
            target = _resolve(imp.target, modules)
            if target is None or target == name or name.startswith(target + "."):
                continue
            graph[name].add(target)
    return [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative, so a deep graph cannot overflow the stack
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def packages_in_tree(root: Path) -> set[str]:
    """Top-level folders of the tree that are Python packages of the product."""
    return {path.parent.name for path in root.glob("*/__init__.py") if path.parent.name not in NOT_PACKAGES}
