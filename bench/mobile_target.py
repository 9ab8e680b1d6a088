"""The mobile target side by side with the CPU target on the same teacher, data and seed: what each
chose, what the phone's file costs (int8 TFLite in LiteRT, one thread) and what the int8 measuring
of every design adds to the design stage.

    .venv/bin/python bench/mobile_target.py                        # digits (catalog:digits-mlp), seed 0
    .venv/bin/python bench/mobile_target.py --max-latency-ms 0.03  # a limit the designs are screened by

Each run uses the engine's defaults (search quick) unless --search says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench._common import print_machine, table  # noqa: E402


def run(teacher: str, data: str, hardware: list[str], args, out: Path) -> dict:
    from prsm.engine.pipeline import DistillConfig, run_distillation

    config = DistillConfig(teacher=teacher, data=data, target_hardware=hardware, search=args.search, seed=args.seed,
                           max_inference_latency_ms=args.max_latency_ms)
    report = run_distillation(config, out)
    student, mobile = report["student"], report["student"].get("mobile") or {}
    measured = [c for c in report["design"]["candidates"] if c.get("latency_ms") is not None]
    return {"target": "+".join(hardware), "backend": report["backend"], "student": student["candidate"],
            "params": student["params"], "compression": round(report["compression_ratio"], 1),
            "accuracy": round(student["accuracy"], 4), "retention": round(report["retention"], 4),
            "student p50 ms (own runtime)": f"{student['latency_ms_p50']:.4f} ({student.get('runtime')})",
            "int8 TFLite p50 ms, 1 thread": round(mobile["latency_ms_p50"], 4) if mobile else "",
            "int8 file bytes": mobile.get("size_bytes", ""), "int8 tensors bytes": mobile.get("memory_bytes", ""),
            "int8 accuracy": round(mobile["accuracy"], 4) if mobile else "",
            "designs measured": len(measured), "design s": report["stages"]["design"]["seconds"],
            "run s": round(sum(stage["seconds"] for stage in report["stages"].values()), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="catalog:digits-mlp")
    p.add_argument("--data", default="builtin:digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--search", default="quick", choices=["off", "quick", "thorough"])
    p.add_argument("--max-latency-ms", type=float, default=None)
    args = p.parse_args()
    print_machine(f"mobile target: {args.teacher} on {args.data}, seed {args.seed}, search {args.search}, "
                  f"max latency {args.max_latency_ms} ms")
    with tempfile.TemporaryDirectory(prefix="prsm-mobile-bench-") as scratch:
        rows = [run(args.teacher, args.data, hardware, args, Path(scratch) / "-".join(hardware))
                for hardware in (["cpu"], ["cpu", "mobile"])]
    print(table(rows))


if __name__ == "__main__":
    main()
