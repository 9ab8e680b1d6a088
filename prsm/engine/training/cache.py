"""Teacher outputs computed once and kept on disk, memory-mapped, so student epochs never re-run
the teacher (valid while augmentation is off: the inputs of every epoch are the same)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..adapters import num_rows, token_lengths
from .callbacks import Reporter


def cached_teacher_logits(teacher, inputs, folder: Path, key: str, reporter: Reporter | None = None,
                          chunk: int = 512) -> np.ndarray:
    """``[n, classes]`` float32 logits, read-only memory map; ``key`` names the teacher and rows.

    The file is filled chunk by chunk and renamed into place once complete, so an interrupted
    run recomputes it instead of trusting half a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"teacher-logits-{key[:24]}.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    rows = num_rows(inputs)
    partial = path.with_name(path.stem + ".partial.npy")
    # token rows in order of length, so each of the teacher's batches is about as long as its rows
    # (a transformer teacher's cost grows with the padded length: 1.75x the rows per second on movie
    # reviews, bench/teacher_outputs.py)
    lengths = token_lengths(inputs)
    order = np.arange(rows) if lengths is None else np.argsort(lengths, kind="stable")
    out = None
    for start in range(0, rows, chunk):
        index = order[start:start + chunk]
        logits = teacher.logits_of({k: v[index] for k, v in inputs.items()}, batch_size=256)
        if out is None:
            out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(rows, logits.shape[1]))
        out[index] = logits
        if reporter is not None:
            reporter.progress(min(1.0, (start + chunk) / rows), message="teacher outputs")
            reporter.check_stop()
    out.flush()
    del out
    os.replace(partial, path)
    return np.load(path, mmap_mode="r")
