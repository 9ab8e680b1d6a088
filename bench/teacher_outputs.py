"""Teacher outputs for text: batches in row order against batches sorted by length, side by side
on the same teacher, rows and threads. Sorting is what ``predict_logits`` and the teacher-output
cache do; the logits must agree.

    .venv/bin/python bench/teacher_outputs.py                        # catalog:sentiment-mpnet, 1,024 sentences
    .venv/bin/python bench/teacher_outputs.py --rows 512 --teacher PATH/TO/HF/DIR

Prints rows per second for each order, the ratio, and the largest logit difference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import catalog_teacher_built, print_machine, table  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="catalog:sentiment-mpnet")
    p.add_argument("--data", default="builtin:movie-reviews")
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-length", type=int, default=64)
    args = p.parse_args()
    print_machine("teacher outputs: row order against length-sorted batches")

    import torch

    from prsm.engine.adapters import predict_logits, take
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    if args.teacher.startswith("catalog:"):
        if not catalog_teacher_built(args.teacher):
            print(f"skipped: {args.teacher} is not built (prsm catalog build {args.teacher.removeprefix('catalog:')})")
            return
    teacher = load_teacher(args.teacher, args.max_length)
    data = load_data(args.data)
    rows = data.subset(np.random.default_rng(0).permutation(len(data))[: args.rows])
    inputs = teacher.encode(rows)

    @torch.inference_mode()
    def in_row_order():
        teacher.module.eval()
        return np.concatenate([teacher.adapter.forward(teacher.module, take(inputs, slice(s, s + args.batch_size))).numpy()
                               for s in range(0, len(rows), args.batch_size)])

    def sorted_by_length():
        return predict_logits(teacher.module, teacher.adapter, inputs, args.batch_size)

    results, outputs = [], {}
    for name, run in (("row order", in_row_order), ("sorted by length", sorted_by_length)):
        started = time.perf_counter()
        outputs[name] = run()
        seconds = time.perf_counter() - started
        results.append({"order": name, "rows": len(rows), "seconds": round(seconds, 1),
                        "rows/s": round(len(rows) / seconds, 1)})
    lengths = inputs["attention_mask"].sum(axis=1)
    print(f"{args.teacher} on {len(rows)} rows of {args.data}; tokens per row: median {int(np.median(lengths))}, "
          f"max {int(lengths.max())}; batch {args.batch_size}")
    print(table(results))
    print(f"sorted / row order: {results[1]['rows/s'] / results[0]['rows/s']:.2f}x; largest logit difference "
          f"{float(np.abs(outputs['row order'] - outputs['sorted by length']).max()):.2e}")


if __name__ == "__main__":
    main()
