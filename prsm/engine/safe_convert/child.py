"""What the confined child does with a scanned pickle: ``torch.load(weights_only=True)``, a state
dict out of it, and the safetensors copy. Runs only inside ``untrusted.sandbox.run_confined``
(``convert.py`` starts it), after the child confined itself; imported there before the limits.
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from ..errors import BadInput

OUT_OF_MEMORY = "loading it needs more memory than the conversion is allowed"


def convert(src: str, out: str, mmap: bool, max_output_bytes: int) -> dict:
    """Load ``src`` (``weights_only``), write its state dict to ``out``; ``BadInput`` says why not."""
    torch.set_num_threads(1)
    try:
        loaded = torch.load(src, map_location="cpu", weights_only=True, mmap=mmap)
    except MemoryError:
        raise BadInput(OUT_OF_MEMORY) from None
    except Exception as error:  # noqa: BLE001 - torch's own refusal (weights_only) or a damaged file: one line of it
        first = _telling_line(str(error)) or type(error).__name__
        if "can't allocate memory" in first:
            raise BadInput(OUT_OF_MEMORY) from None
        raise BadInput(f"torch.load(weights_only=True) refused it ({type(error).__name__}: {first[:200]})") from None
    tensors, aliases = _deshared(_state_dict(loaded))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    if total > max_output_bytes:
        raise BadInput(f"the tensors hold {total} bytes, more than the {max_output_bytes} allowed for this file")
    metadata = {"format": "pt", "prsm.converted_from": "pytorch pickle"}
    if aliases:
        metadata["prsm.aliases"] = json.dumps(aliases)
    save_file(tensors, out, metadata=metadata)
    return {"tensors": len(tensors), "bytes": total, "aliases": len(aliases)}


def _telling_line(message: str) -> str:
    """The line of torch's message that says what went wrong (its weights_only refusal puts it last)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return next((line for line in lines if "WeightsUnpickler error" in line or "unsupported GLOBAL" in line),
                lines[0] if lines else "")


def _state_dict(loaded) -> dict:
    """The tensors of a state dict, or of one held under ``state_dict``/``model`` (a training checkpoint)."""
    for _ in range(2):
        if isinstance(loaded, dict):
            inner = next((loaded[k] for k in ("state_dict", "model") if isinstance(loaded.get(k), dict) and loaded[k]),
                         None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
                loaded = inner
    if not isinstance(loaded, dict) or not loaded:
        raise BadInput(f"it holds {type(loaded).__name__ if loaded is not None else 'nothing'}, not a state dict "
                       "(a dict of tensor names to tensors)")
    for key, value in loaded.items():
        if not isinstance(key, str):
            raise BadInput(f"a key of the state dict is a {type(key).__name__}, not a name")
        if not isinstance(value, torch.Tensor):
            raise BadInput(f"{key!r} is a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided or value.is_quantized or value.is_meta or value.is_nested:
            raise BadInput(f"{key!r} is not a dense tensor; only dense tensors are converted")
    return loaded


def _deshared(state: dict) -> tuple[dict, dict]:
    """Contiguous tensors that each own their bytes; exact aliases (tied weights) kept once, under
    their first name, the others listed in ``aliases``."""
    kept: dict = {}
    first: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        tensor = tensor.detach()
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
               tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() and key in first:
            aliases[name] = first[key]
            continue
        first[key] = name
        kept[name] = tensor
    owners: dict[int, int] = {}
    for tensor in kept.values():
        owners[tensor.untyped_storage().data_ptr()] = owners.get(tensor.untyped_storage().data_ptr(), 0) + 1
    for name, tensor in kept.items():
        if owners[tensor.untyped_storage().data_ptr()] > 1 or not tensor.is_contiguous() or not tensor.numel():
            kept[name] = tensor.contiguous().clone()
    return kept, aliases
