"""What checkpoints cost the engine's training loop on a GPU: by step count against by time.

    python3 bench/checkpoint_interval.py --out $OUT/checkpoint_interval.json    # on the GPU machine
    .venv/bin/python bench/checkpoint_interval.py --tiny                        # CPU smoke run here

The models, data and loop are those of ``bench/gpu_train_speed.py`` (BERT-base shaped teacher,
6 x 384 student, sequence 128, batch 128, cached teacher logits, bf16 autocast, fused AdamW). Modes,
each about ``--seconds`` of training: no checkpoints; a checkpoint every 50 steps (the pipeline's
old default); a checkpoint every ``--every-seconds`` seconds. Each checkpointed mode also writes
its final checkpoint. The cost of one checkpoint is measured from the step mode, and the overhead of
the pipeline's default (every 60 s) is projected from it: one checkpoint's seconds / 60.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gpu_train_speed import Bench, parse_args  # noqa: E402

PIPELINE_DEFAULT_S = 60.0


def counting_saves():
    """Count the checkpoints the loop writes (the loop calls ``save_atomic`` from its own module)."""
    from prsm.engine.training import loop

    written = [0]
    real = loop.save_atomic

    def save(state, path):
        written[0] += 1
        real(state, path)

    loop.save_atomic = save
    return written


def main() -> None:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--every-seconds", type=float, help="the time interval tried (default 10; tiny 0.5)")
    mine, rest = own.parse_known_args()
    args = parse_args(rest)
    every_seconds = mine.every_seconds or (0.5 if args.tiny else 10.0)
    bench = Bench(args)
    written = counting_saves()
    rate = bench.plain(cached=True)["samples_per_s"]
    print(f"plain loop, cached: {rate:,.0f} samples/s", flush=True)
    modes = {"no checkpoints": {}, "every 50 steps": {"checkpoint_every": 50},
             f"every {every_seconds:g} s": {"checkpoint_seconds": every_seconds}}
    results = {"machine": bench.results["machine"], "plain_cached_samples_per_s": rate, "modes": {}}
    for name, interval in modes.items():
        before = written[0]
        figures = bench.engine(True, rate, **interval)
        figures["checkpoints"] = written[0] - before
        results["modes"][name] = figures
        print(f"engine, cached, {name}: {figures['samples_per_s']:,.0f} samples/s, {figures['checkpoints']} "
              f"checkpoints in {figures['seconds']} s", flush=True)
    results["projection"] = project(results["modes"])
    print(json.dumps(results["projection"], indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))


def project(modes: dict) -> dict:
    """Seconds one checkpoint costs (step mode against none) and the 60 s default's overhead."""
    free, stepped = modes["no checkpoints"], modes["every 50 steps"]
    samples = stepped["samples_per_s"] * stepped["seconds"]
    extra_s = stepped["seconds"] - samples / free["samples_per_s"]
    per_checkpoint = extra_s / max(stepped["checkpoints"], 1)
    return {"seconds_per_checkpoint": round(per_checkpoint, 3),
            "every_50_steps_throughput_lost": round(1 - stepped["samples_per_s"] / free["samples_per_s"], 3),
            "every_60_s_throughput_lost_projected": round(per_checkpoint / (PIPELINE_DEFAULT_S + per_checkpoint), 4)}


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.0f} s")
