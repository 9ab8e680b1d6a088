"""Vocabulary trimming for transformer students.

A student shares its teacher's tokenizer, and with it a vocabulary of ~30,000 tokens whose
embedding table is most of a small student's parameters (30,522 x 128 is 3.9M of MiniLM's 22.7M
before a single layer). Most of those tokens never occur in the task's texts. The student keeps:

- every token of the training texts (as the teacher's tokenizer splits them),
- every special and added token,
- every single-character token and its ``##`` continuation, so that any word still splits into
  known pieces instead of ``[UNK]``.

With a cap (``vocabulary_size``), the special tokens and single characters stay and the training
texts' tokens fill the rest, most frequent first: a rarer word then splits into smaller pieces
that were kept (at worst its characters), and the parameters saved on the embedding table can go
to another layer.

WordPiece only: it picks the longest piece in the vocabulary, and every piece the training texts
used is kept, so those texts split into exactly the same tokens as before (only the ids change;
``kept[new_id] == old_id`` maps them back for a teacher that runs beside the student; under a cap
the words whose pieces were dropped split otherwise, and only those). BPE and
Unigram vocabularies depend on merges and scores, and are left whole.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from ...errors import BadInput

MIN_SAVING = 0.10  # trim only when it removes at least a tenth of the vocabulary


def trim_plan(tokenizer, texts: list[str], max_length: int, cap: int | None = None) -> dict:
    """What trimming would keep, or why it does not apply: ``{"applied", "kept", "reason", ...}``.
    ``cap``: at most this many tokens (``vocabulary_size``); refused where it cannot hold the
    special tokens and single characters, or where the tokenizer is not WordPiece."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str()) if hasattr(tokenizer, "backend_tokenizer") else None
    if spec is None or spec["model"]["type"] != "WordPiece":
        kind = spec["model"]["type"] if spec else type(tokenizer).__name__
        if cap is not None:
            raise BadInput(f"vocabulary_size: the student's tokenizer is {kind}, and only a WordPiece vocabulary "
                           "can be cut without changing how the kept tokens split")
        return {"applied": False, "reason": f"the tokenizer is {kind}, not WordPiece: kept whole"}
    vocab: dict[str, int] = spec["model"]["vocab"]
    prefix = spec["model"].get("continuing_subword_prefix", "##")
    counts: Counter[int] = Counter()
    for start in range(0, len(texts), 1024):
        encoded = tokenizer(list(texts[start:start + 1024]), truncation=True, max_length=max_length)
        for row in encoded["input_ids"]:
            counts.update(row)
    used = set(counts)
    specials = {token["id"] for token in spec.get("added_tokens", [])}
    characters = {i for token, i in vocab.items()
                  if len(token) == 1 or (token.startswith(prefix) and len(token) == len(prefix) + 1)}
    size = len(vocab) + sum(1 for token in spec.get("added_tokens", []) if token["content"] not in vocab)
    record = {"teacher_vocabulary": size, "from_training_texts": len(used),
              "single_characters": len(characters), "special": len(specials)}
    kept_set = used | specials | characters
    rule = "every token of the training texts, every special token and every single character"
    if cap is not None and cap < len(kept_set):
        kept_set, rule = _capped(counts, specials | characters, cap), \
            f"every special token and single character, then the training texts' {cap:,}-token cap filled by frequency"
        # the share of the texts' token occurrences (special tokens aside) whose token was kept
        words = {i: n for i, n in counts.items() if i not in specials}
        whole = sum(n for i, n in words.items() if i in kept_set)
        record.update(cap=cap, from_training_texts=len(kept_set & used),
                      coverage=round(whole / max(1, sum(words.values())), 4))
    kept = np.array(sorted(kept_set), dtype=np.int64)
    record["kept"] = len(kept)
    if cap is None and len(kept) > size * (1 - MIN_SAVING):
        return {"applied": False, **record, "reason": f"the training texts use {len(kept):,} of {size:,} tokens: kept whole"}
    return {"applied": True, **record, "kept_ids": kept, "rule": rule}


def _capped(counts: Counter, required: set[int], cap: int) -> set[int]:
    """``required`` plus the most frequent other tokens, up to ``cap`` (ties by id: repeatable)."""
    if cap < len(required) + 1:
        raise BadInput(f"vocabulary_size: {cap:,} cannot hold the {len(required):,} special tokens and single "
                       f"characters every word splits into, and any token of the texts; the least is {len(required) + 1:,}")
    rest = sorted((i for i in counts if i not in required), key=lambda i: (-counts[i], i))
    return required | set(rest[:cap - len(required)])


def remap_ids(kept: np.ndarray, old_id: int | None) -> int | None:
    """The student's id for a teacher token id (None stays None)."""
    if old_id is None:
        return None
    position = int(np.searchsorted(kept, old_id))
    if position >= len(kept) or kept[position] != old_id:
        raise ValueError(f"token id {old_id} is not in the trimmed vocabulary")
    return position


def trimmed_tokenizer(tokenizer, kept: np.ndarray):
    """A tokenizer of the same class whose vocabulary is ``kept`` (in teacher-id order), built by
    rewriting ``tokenizer.json``'s vocabulary and the ids the special tokens are known by."""
    from transformers import AutoTokenizer

    new_id = {int(old): new for new, old in enumerate(kept)}
    with tempfile.TemporaryDirectory(prefix="prsm-vocab-") as scratch:
        folder = Path(scratch)
        tokenizer.save_pretrained(folder)
        path = folder / "tokenizer.json"
        spec = json.loads(path.read_text())
        spec["model"]["vocab"] = {token: new_id[i] for token, i in spec["model"]["vocab"].items() if i in new_id}
        for token in spec.get("added_tokens", []):
            token["id"] = new_id[token["id"]]
        _remap_post_processor(spec.get("post_processor"), new_id)
        path.write_text(json.dumps(spec, ensure_ascii=False))
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        if "added_tokens_decoder" in config:
            config["added_tokens_decoder"] = {str(new_id[int(i)]): v for i, v in config["added_tokens_decoder"].items()}
        config_path.write_text(json.dumps(config, ensure_ascii=False))
        for stale in ("vocab.txt", "vocab.json"):  # the slow tokenizer's copy of the old vocabulary
            (folder / stale).unlink(missing_ok=True)
        return AutoTokenizer.from_pretrained(folder)


def _remap_post_processor(processor: dict | None, new_id: dict[int, int]) -> None:
    if not processor:
        return
    if processor.get("type") == "Sequence":
        for item in processor.get("processors", []):
            _remap_post_processor(item, new_id)
        return
    for special in (processor.get("special_tokens") or {}).values():  # TemplateProcessing
        special["ids"] = [new_id[i] for i in special["ids"]]
    for key in ("sep", "cls"):  # BertProcessing / RobertaProcessing: [token, id]
        if key in processor:
            processor[key] = [processor[key][0], new_id[processor[key][1]]]


def remap_config_ids(values: dict, kept: np.ndarray) -> dict:
    """The student config's vocabulary size and special-token ids in the trimmed numbering."""
    values = dict(values, vocab_size=len(kept))
    for key in ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
        if values.get(key) is not None:
            try:
                values[key] = remap_ids(kept, values[key])
            except ValueError:
                values[key] = None
    return values
