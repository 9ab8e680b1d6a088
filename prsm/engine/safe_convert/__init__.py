"""A PyTorch pickle (``.pth``, ``.pt``, ``.bin``) becomes a safetensors copy, once, and only that is used.

1. ``pickle_scan.scan_checkpoint`` reads the imports of every pickle stream without unpickling;
   anything but tensor types is refused (``PickleRefused`` names it).
2. The one load runs in the confined child of ``untrusted.sandbox`` (``child.convert``: no network,
   no processes, writes only beside its output, limits on memory, CPU time, open files and bytes
   written). It runs ``torch.load(weights_only=True)``, keeps a state dict (a dict of names to
   tensors, or one held under ``state_dict``/``model``) and writes it with safetensors: contiguous,
   each shared tensor once.
3. The parent (``convert``) enforces a wall-clock timeout, reports the child's one-line reason (or
   the limit that stopped it), checks the safetensors header and only then moves the copy into place.

``folders`` applies this to a model folder (a Hugging Face directory, a zoo folder) and keeps the
converted copies. ``child`` is the one place in prsm that calls ``torch.load`` on a file it did not
write itself.
"""

from ..pickle_scan import PickleRefused  # nosec B403 - the scanner never unpickles
from .convert import ConversionFailed, ConvertLimits, convert_in_child, convert_pickle_to_safetensors, safetensors_name
from .folders import (
    HF_INDEX,
    SAFETENSORS_INDEX,
    TRAINING_STATE,
    convert_folder_weights,
    converted_teacher_folder,
    needs_conversion,
    pickled_weights,
)

__all__ = ["HF_INDEX", "SAFETENSORS_INDEX", "TRAINING_STATE", "ConversionFailed", "ConvertLimits", "PickleRefused",
           "convert_folder_weights", "convert_in_child", "convert_pickle_to_safetensors", "converted_teacher_folder",
           "needs_conversion", "pickled_weights", "safetensors_name"]
