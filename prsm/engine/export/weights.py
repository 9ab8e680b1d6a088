"""safetensors + architecture JSON (a zoo folder) and a ``.pth`` state dict, each reloaded and compared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..zoo import ARCHITECTURE_FILE, WEIGHTS_FILE, load_zoo_model, save_zoo_model
from .files import export_record, within_tolerance


def export_safetensors(module, architecture: dict, out: Path, root: Path, x: np.ndarray, expected: np.ndarray) -> dict:
    folder = save_zoo_model(module, architecture, out)
    reloaded, _ = load_zoo_model(folder)
    ok, diff = within_tolerance(_run(reloaded, x), expected, atol=1e-6, rtol=1e-6)
    record = export_record(folder / WEIGHTS_FILE, root, ok, diff)
    record["architecture_path"] = (folder / ARCHITECTURE_FILE).relative_to(root).as_posix()
    return record


def export_pth(module, build, out: Path, root: Path, x: np.ndarray, expected: np.ndarray) -> dict:
    """The state dict alone (no pickled classes); ``build()`` makes the module it loads into."""
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, out)
    fresh = build()
    fresh.load_state_dict(torch.load(out, map_location="cpu", weights_only=True), strict=True)
    ok, diff = within_tolerance(_run(fresh.eval(), x), expected, atol=1e-6, rtol=1e-6)
    return export_record(out, root, ok, diff)


@torch.inference_mode()
def _run(module, x: np.ndarray) -> np.ndarray:
    return module.eval()(torch.from_numpy(x)).numpy()


def write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
