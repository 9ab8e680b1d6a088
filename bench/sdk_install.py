"""The light SDK install against the full platform install (issue 22): each into a fresh virtual
environment from this checkout, timed, and the size of what it installed; in one run, side by side.

    .venv/bin/python bench/sdk_install.py            # light and full (the full one takes minutes)
    .venv/bin/python bench/sdk_install.py --light    # the light install only

"light" is `pip install .` (pydantic and websockets: the remote SDK, streaming, predict, the CLI against a
server); "full" is `pip install '.[platform]'` with torch taken from the CPU wheel on this disk, as
`scripts/install.sh` does. Both use pip's cache as a second install on the same machine would: the times
compare installs, not downloads. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_model, table  # noqa: E402


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def torch_pin() -> list[str]:
    """install.sh's torch step (the CPU wheel on this disk, pinned), so the full install takes no CUDA build."""
    text = (ROOT / "scripts" / "install.sh").read_text()
    return ["torch==2.13.0"] if "torch==2.13.0" in text else []


def install(kind: str, folder: Path) -> dict:
    venv = folder / kind
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    empty = folder_bytes(venv)
    source = folder / "source"  # pip builds in the source tree: a copy, so the checkout gains no build/ folder
    if not source.exists():
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "var", "media", "build", "dist", "node_modules",
                                                                    "staticfiles", "*.egg-info", "__pycache__", "runs"))
    target = str(source) if kind == "light" else f"{source}[platform]"
    steps = [[python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *torch_pin()]] if kind == "full" else []
    steps.append([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", target])
    started = time.perf_counter()
    for step in steps:
        subprocess.run(step, check=True, cwd=folder)
    seconds = time.perf_counter() - started
    listed = json.loads(subprocess.run([python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                                       capture_output=True, text=True, check=True).stdout)
    probe = subprocess.run([python, "-c", "import prsm.distillation, prsm.sdk; print('ok')"], capture_output=True,
                           text=True, cwd=folder)
    return {"install": kind, "seconds": round(seconds, 1), "packages": len(listed),
            "installed_MB": round((folder_bytes(venv) - empty) / 1e6, 1), "sdk_imports": probe.stdout.strip() == "ok"}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--light", action="store_true", help="the light install only")
    args = p.parse_args(argv)
    print("# the light SDK install against the full install, fresh venvs, pip's cache warm")
    print(f"machine: cpu={cpu_model()}, cores={os.cpu_count()}, python={sys.version.split()[0]}")
    print(flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sdk-install-") as folder:
        for kind in ["light"] if args.light else ["light", "full"]:
            rows.append(install(kind, Path(folder)))
            print(json.dumps(rows[-1]), flush=True)
    if len(rows) == 2:
        rows.append({"install": "full / light", "seconds": round(rows[1]["seconds"] / rows[0]["seconds"], 1),
                     "packages": round(rows[1]["packages"] / rows[0]["packages"], 1),
                     "installed_MB": round(rows[1]["installed_MB"] / rows[0]["installed_MB"], 1)})
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
