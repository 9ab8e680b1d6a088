"""Text students trained on batches grouped by length against random batches, side by side in one
run: seconds per epoch, samples/s, validation by epoch and test accuracy, with everything else equal.

    .venv/bin/python bench/text_batches.py                  # 1,500 movie-review sentences, 2 epochs
    .venv/bin/python bench/text_batches.py --rows 3000 --epochs 3 --rounds 2

Each run is a real ``run_distillation`` of ``catalog:sentiment-mpnet`` (build it first: ``prsm catalog
build sentiment-mpnet``) on ``builtin:movie-reviews`` with the search off, so both modes train the same
design from the same initial weights on the same rows and teacher outputs; the only difference is
the order of the rows in an epoch (``prsm.engine.training.loop.epoch_order``), which decides how much
padding each batch carries. Modes alternate within each round, so load from another process hits
both alike. Students: a 2-layer MiniLM cut from the packaged all-MiniLM-L6-v2 (the transformer the
search offers) and the engine's own design at ``target_size=small``. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_machine, table  # noqa: E402

STUDENTS = {
    "minilm-2": {"student_base": "builtin:all-minilm-l6-v2", "layer_count": 2, "target_size": "medium"},
    "rule-small": {"target_size": "small"},
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1500, help="training sentences")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--students", nargs="+", choices=list(STUDENTS), default=list(STUDENTS))
    p.add_argument("--out", help="also write the figures as JSON here")
    return p.parse_args()


def one_run(student: str, grouped: bool, args, folder: Path) -> dict:
    from prsm.engine.config import DistillConfig
    from prsm.engine.pipeline import run_distillation
    from prsm.engine.training import loop

    original = loop.token_lengths
    if not grouped:  # random batches, as before grouping: every row looks alike to epoch_order
        loop.token_lengths = lambda inputs: None
    try:
        config = DistillConfig(teacher="catalog:sentiment-mpnet", data="builtin:movie-reviews", seed=0, exports=[],
                               max_length=64, max_train_examples=args.rows, epochs=args.epochs, search="off",
                               **STUDENTS[student])
        started = time.perf_counter()
        report = run_distillation(config, folder)
        wall = time.perf_counter() - started
    finally:
        loop.token_lengths = original
    training = report["training"]
    if training["batches_by_length"] != grouped:
        raise RuntimeError(f"the run's batches_by_length is {training['batches_by_length']}, the bench asked for {grouped}")
    return {"student": student, "batches": "by length" if grouped else "random",
            "params": report["student"]["params"], "train s": round(training["seconds"], 1),
            "samples/s": round(training["samples_per_s"], 1),
            "validation by epoch": ", ".join(f"{h['val_accuracy']:.3f}" for h in training["history"]),
            "test acc": round(report["student"]["accuracy"], 4), "run s": round(wall, 1)}


def main() -> None:
    args = parse_args()
    info = print_machine("text students: batches grouped by length against random batches")
    out = Path(tempfile.mkdtemp(prefix="prsm-text-batches-"))
    rows = []
    for round_ in range(args.rounds):
        for student in args.students:
            for grouped in ((True, False) if round_ % 2 == 0 else (False, True)):
                row = one_run(student, grouped, args, out / f"{student}-{'grouped' if grouped else 'random'}-{round_}")
                rows.append({"round": round_, **row})
                print(table([rows[-1]]), flush=True)
    print("\n" + table(rows))
    summary = []
    for student in args.students:
        by = {mode: [r for r in rows if r["student"] == student and r["batches"] == mode] for mode in ("by length", "random")}
        grouped_s = statistics.median(r["train s"] for r in by["by length"])
        random_s = statistics.median(r["train s"] for r in by["random"])
        summary.append({"student": student, "train s by length": grouped_s, "train s random": random_s,
                        "speed-up": round(random_s / grouped_s, 2),
                        "test acc by length": statistics.mean(r["test acc"] for r in by["by length"]),
                        "test acc random": statistics.mean(r["test acc"] for r in by["random"])})
    print("\n" + table(summary))
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "args": vars(args), "runs": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
