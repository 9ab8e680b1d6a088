"""Distillation training speed on this CPU, side by side in one run: the engine's training loop, a
plain hand-written PyTorch loop, and torchdistill 1.1.5 (in its own venv), on the same teacher,
student, data and batch; and online (teacher run every step) against cached teacher outputs.

    .venv/bin/python bench/train_speed.py              # quick sizes (about a minute or two)
    .venv/bin/python bench/train_speed.py --full       # more rows and rounds (a few minutes)
    .venv/bin/python bench/train_speed.py --load       # with another process keeping one core busy
    .venv/bin/python bench/train_speed.py --torchdistill-python /tmp/td-venv/bin/python

Models: the fashion-cnn teacher's architecture (zoo CNN 64-128, dense 256: 1.68M parameters,
random weights: speed does not depend on what the weights learnt) and a zoo CNN student about 10x
smaller; data: Fashion-MNIST training images (random pixels if the Debian package is missing);
batch 128, AdamW, KD loss at T=4, alpha=0.7. Every mode trains a fresh copy of the same initial
student for the same epochs and ends each epoch with the same validation pass. The plain loop runs
at one thread and at every thread the process may use; the engine measures its own count at the start
of each training (training.threads), and that probe's time counts in its rate. Modes run in
interleaved rounds and each figure is the median over the rounds, so a burst of load from another
process hits every mode alike. Not a test: nothing here asserts on a timing.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TEACHER_CONFIG = {"in_channels": 1, "image_size": [28, 28], "channels": [64, 128], "hidden": 256, "dropout": 0.3}
# a quarter of the teacher's channels and 40% of its dense width: 10.2x fewer parameters
STUDENT_CONFIG = {"in_channels": 1, "image_size": [28, 28], "channels": [16, 32], "hidden": 104, "dropout": 0.1}
CLASSES = [str(i) for i in range(10)]
TEMPERATURE, ALPHA, LR, WEIGHT_DECAY = 4.0, 0.7, 2e-3, 1e-4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (the default)")
    size.add_argument("--full", action="store_true", help="more rows and rounds")
    p.add_argument("--rows", type=int, help="training rows (quick 2,048; full 6,144)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int,
                   help="interleaved rounds, the order reversed every other round (quick 4; full 6)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--torchdistill-python", default="/tmp/td-venv/bin/python",  # nosec B108  # where the README's side venv for torchdistill is made
                   help="python of a venv with torchdistill 1.1.5 ('' to skip)")
    p.add_argument("--load", action="store_true",
                   help="a competing process keeps one core busy for the whole run (a loaded machine)")
    p.add_argument("--out", help="also write the figures as JSON here")
    p.add_argument("--torchdistill-worker", help=argparse.SUPPRESS)  # internal: run inside the torchdistill venv
    args = p.parse_args(argv)
    args.rows = args.rows or (6144 if args.full else 2048)
    args.rounds = args.rounds or (6 if args.full else 4)
    return args


def architecture(config: dict) -> dict:
    return {"format": "prsm-zoo/1", "kind": "cnn", "task": "image", "classes": CLASSES, "config": config}


# --- the models and data every mode shares -----------------------------------------------------

def load_images(rows: int):
    import numpy as np

    try:
        from prsm.engine.data.builtin import load_builtin

        data = load_builtin("fashion-mnist")
        pick = np.random.default_rng(0).permutation(len(data.labels))[: rows + 512]
        return data.images[pick].astype(np.float32), data.labels[pick].astype(np.int64), "Fashion-MNIST"
    except Exception as error:  # the Debian package missing: the speed does not depend on the pixels
        print(f"(Fashion-MNIST unavailable: {error}; using random pixels)")
        rng = np.random.default_rng(0)
        return rng.random((rows + 512, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, rows + 512), "random pixels"


def kd_loss(student_logits, teacher_logits, labels):
    """Written out by hand for the plain loop: alpha T^2 KL(p_t || p_s) + (1 - alpha) CE."""
    import torch.nn.functional as F

    soft = F.kl_div(F.log_softmax(student_logits / TEMPERATURE, -1), F.log_softmax(teacher_logits / TEMPERATURE, -1),
                    reduction="batchmean", log_target=True) * TEMPERATURE**2
    return ALPHA * soft + (1 - ALPHA) * F.cross_entropy(student_logits, labels)


# --- (b) the plain hand-written loop -----------------------------------------------------------

def plain_loop(student, teacher, x, y, cached, val_x, val_y, epochs: int, batch: int, seed: int = 0) -> float:
    """What a person writes in a notebook: shuffle, slice, forward, KD loss, step. Returns samples/s."""
    import torch

    optimizer = torch.optim.AdamW(student.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    generator = torch.Generator().manual_seed(seed)
    teacher.eval()
    samples, started = 0, time.perf_counter()
    for _ in range(epochs):
        student.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            rows = order[start:start + batch]
            inputs, labels = x[rows], y[rows]
            if cached is None:
                with torch.no_grad():
                    target = teacher(inputs)
            else:
                target = cached[rows]
            loss = kd_loss(student(inputs), target, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            samples += len(rows)
        student.eval()
        with torch.inference_mode():
            float((student(val_x).argmax(1) == val_y).float().mean())
    return samples / (time.perf_counter() - started)


# --- (a) the engine's own loop -----------------------------------------------------------------

class _Quiet:
    def on_event(self, event):
        pass

    def should_stop(self):
        return False


def engine_loop(student, teacher, x_np, y_np, logits, val_x_np, val_y_np, epochs: int, batch: int, folder: Path):
    """``prsm.engine.training.loop.Trainer`` as the pipeline runs it: a reporter with a callback and
    a checkpoint every 50 steps; ``logits=None`` runs the teacher every step (the objective does)."""
    from torch import nn

    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.losses import distillation_loss
    from prsm.engine.training.callbacks import Reporter
    from prsm.engine.training.loop import LogitObjective, Trainer, TrainData, TrainSettings
    from prsm.engine.training.threads import forget_choices

    adapter = TensorAdapter()

    class OnlineObjective(nn.Module):
        """The same loss with the teacher run on each batch (the engine's transformer objective
        does this when no cache is given; the zoo backends always cache)."""

        def forward(self, module, batch_, teacher_logits, labels):
            if teacher_logits is None:
                import torch

                with torch.no_grad():
                    teacher_logits = teacher(batch_["x"])
            return distillation_loss(adapter.forward(module, batch_), teacher_logits, labels, TEMPERATURE, ALPHA)

    objective = LogitObjective(adapter, TEMPERATURE, ALPHA) if logits is not None else OnlineObjective()
    settings = TrainSettings(epochs=epochs, batch_size=batch, learning_rate=LR, weight_decay=WEIGHT_DECAY,
                             temperature=TEMPERATURE, alpha=ALPHA, patience=epochs + 1, checkpoint_every=50)
    checkpoint = folder / f"engine-{time.perf_counter_ns()}.pt"
    trainer = Trainer(student, adapter, objective, settings, checkpoint, Reporter(_Quiet()), "bench")
    forget_choices()  # the engine measures its threads in every round (its probe's time counts in its rate)
    started = time.perf_counter()
    trainer.fit(TrainData({"x": x_np}, y_np, logits), TrainData({"x": val_x_np}, val_y_np))
    seconds = time.perf_counter() - started
    checkpoint.unlink(missing_ok=True)
    return (len(x_np) * epochs) / seconds, trainer.thread_choice.threads


# --- (c) torchdistill, in its own venv ---------------------------------------------------------

def torchdistill_worker(payload_path: str) -> None:
    """Runs inside the torchdistill venv (torch 2.14.1): prints one JSON line of figures."""
    import torch
    import torchdistill
    from torch.utils.data import TensorDataset
    from torchdistill.core.distillation import DistillationBox

    from prsm.engine.zoo import build_model

    payload = torch.load(payload_path, weights_only=True)
    torch.set_num_threads(payload["threads"])
    x, y = payload["x"], payload["y"]
    val_x, val_y = payload["val_x"], payload["val_y"]
    teacher = build_model(payload["teacher_arch"])
    teacher.load_state_dict(payload["teacher_state"])
    rates = []
    for _ in range(payload["rounds"]):
        student = build_model(payload["student_arch"])
        student.load_state_dict(payload["student_state"])
        rates.append(_torchdistill_run(DistillationBox, TensorDataset(x, y), teacher, student, val_x, val_y,
                                       payload["epochs"], payload["batch"]))
    print(json.dumps({"samples_per_s": rates, "torch": torch.__version__, "torchdistill": torchdistill.__version__,
                      "threads": torch.get_num_threads()}))


def _torchdistill_run(DistillationBox, dataset, teacher, student, val_x, val_y, epochs, batch):
    """torchdistill's own DistillationBox with its KDLoss (Hinton et al.), configured as its
    documented dict configs do; the loop is the one its example scripts run. Its KDLoss weighs
    the cross-entropy by ``alpha`` (ours weighs the soft term), hence ``1 - ALPHA``: the same loss."""
    import torch

    train_config = {
        "train_data_loader": {"dataset_id": "train", "sampler": {"class_or_func": torch.utils.data.RandomSampler,
                                                                  "kwargs": {}},
                              "kwargs": {"batch_size": batch, "num_workers": 0, "drop_last": False}},
        "num_epochs": epochs,
        "teacher": {"forward_proc": "forward_batch_only", "sequential": [],
                    "forward_hook": {"input": [], "output": []}, "wrapper": None,
                    "requires_grad": False},
        "student": {"forward_proc": "forward_batch_only", "adaptations": None, "sequential": [], "frozen_modules": [],
                    "forward_hook": {"input": [], "output": []}, "wrapper": None, "requires_grad": True},
        "optimizer": {"key": "AdamW", "kwargs": {"lr": LR, "weight_decay": WEIGHT_DECAY}},
        "criterion": {"key": "WeightedSumLoss", "kwargs": {"sub_terms": {
            "kd": {"criterion": {"key": "KDLoss", "kwargs": {"student_module_path": ".", "student_module_io": "output",
                                                             "teacher_module_path": ".", "teacher_module_io": "output",
                                                             "temperature": TEMPERATURE, "alpha": 1 - ALPHA,
                                                             "reduction": "batchmean"}},
                   "weight": 1.0}}}},
    }
    dataset_dict = {"train": dataset}  # torchdistill wraps it to yield (sample, target, supp_dict)
    box = DistillationBox(teacher, student, dataset_dict, train_config, torch.device("cpu"), None, False, 1)
    samples, started = 0, time.perf_counter()
    for epoch in range(epochs):
        box.pre_epoch_process(epoch=epoch)
        for sample_batch, targets, supp_dict in box.train_data_loader:
            loss = box.forward_process(sample_batch, targets, supp_dict)
            box.post_forward_process(loss)
            samples += len(targets)
        box.post_epoch_process()
        student.eval()
        with torch.inference_mode():
            float((student(val_x).argmax(1) == val_y).float().mean())
    return samples / (time.perf_counter() - started)


def torchdistill_rates(python: str, teacher, student, x, y, val_x, val_y, args, folder: Path) -> dict:
    """Run the worker in the torchdistill venv on the same weights and rows; {'error': why} if it cannot."""
    import torch

    if not python:
        return {"error": "skipped (--torchdistill-python '')"}
    if not Path(python).exists():
        return {"error": f"no torchdistill venv at {python} (see docs/BENCHMARKS.md for how to make one)"}
    payload = folder / "torchdistill-payload.pt"
    torch.save({"x": x, "y": y, "val_x": val_x, "val_y": val_y, "teacher_arch": architecture(TEACHER_CONFIG),
                "student_arch": architecture(STUDENT_CONFIG), "teacher_state": teacher.state_dict(),
                "student_state": student.state_dict(), "epochs": args.epochs, "batch": args.batch,
                "rounds": args.rounds, "threads": torch.get_num_threads()}, payload)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([python, __file__, "--torchdistill-worker", str(payload)], capture_output=True, text=True,
                          env=env, timeout=1800)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"torchdistill run failed: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _forward_flops(module, example) -> float:
    from prsm.engine.evaluation.cost import flops_per_example

    module.eval()
    return flops_per_example(lambda: module(example), 1) or 0.0


def _competing_load() -> subprocess.Popen:
    """Another process spinning on one core, as a busy neighbour would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])  # nosec B603  # our own interpreter, fixed code


# --- the run -----------------------------------------------------------------------------------

def main() -> None:
    args = parse_args()
    if args.torchdistill_worker:
        torchdistill_worker(args.torchdistill_worker)
        return
    import numpy as np
    import torch

    from _common import print_machine, table
    from prsm.engine.zoo import build_model

    info = print_machine("distillation training speed (CPU), "
                         + ("loaded: another process keeps one core busy" if args.load else "no load added"))
    images, labels, source = load_images(args.rows)
    x_np, y_np = images[: args.rows], labels[: args.rows]
    val_x_np, val_y_np = images[args.rows:], labels[args.rows:]
    x, y, val_x, val_y = map(torch.from_numpy, (x_np, y_np, val_x_np, val_y_np))
    torch.manual_seed(0)
    teacher = build_model(architecture(TEACHER_CONFIG)).eval()
    student0 = build_model(architecture(STUDENT_CONFIG))
    t_params = sum(p.numel() for p in teacher.parameters())
    s_params = sum(p.numel() for p in student0.parameters())
    t_flops, s_flops = (_forward_flops(m, x[:1]) for m in (teacher, student0))
    print(f"teacher {t_params:,} params, {t_flops / 1e6:.1f} MFLOPs/example forward; student {s_params:,} params "
          f"({t_params / s_params:.1f}x fewer), {s_flops / 1e6:.1f} MFLOPs ({t_flops / s_flops:.1f}x fewer)")
    print(f"{len(x_np):,} {source} rows x {args.epochs} epochs, batch {args.batch}, {args.rounds} rounds; "
          f"validation {len(val_x_np)} rows per epoch", flush=True)

    # the engine measures its thread count (training.threads); the plain loop runs at every count,
    # and the engine is compared with the best of them
    from prsm.engine.training.threads import available_threads, threads

    counts = sorted({1, available_threads()})
    threads_used = counts[-1]

    folder = Path(tempfile.mkdtemp(prefix="prsm-train-speed-"))
    fill_started = time.perf_counter()
    with torch.inference_mode():
        logits_np = np.concatenate([teacher(x[i:i + 256]).numpy() for i in range(0, len(x), 256)])
    np.save(folder / "teacher-logits.npy", logits_np)
    logits_mmap = np.load(folder / "teacher-logits.npy", mmap_mode="r")  # as the engine's cache gives them
    cache_fill_s = time.perf_counter() - fill_started
    logits = torch.from_numpy(logits_np)

    def plain(cached, count):
        def run(student):
            with threads(count):
                return plain_loop(student, teacher, x, y, cached, val_x, val_y, args.epochs, args.batch), count
        return run

    modes = {}
    for count in counts:
        modes[f"plain loop, online, {count} thread{'s' * (count > 1)}"] = plain(None, count)
        modes[f"plain loop, cached, {count} thread{'s' * (count > 1)}"] = plain(logits, count)
    modes["engine loop, online"] = lambda s: engine_loop(s, teacher, x_np, y_np, None, val_x_np, val_y_np,
                                                         args.epochs, args.batch, folder)
    modes["engine loop, cached"] = lambda s: engine_loop(s, teacher, x_np, y_np, logits_mmap, val_x_np, val_y_np,
                                                         args.epochs, args.batch, folder)
    rates: dict[str, list[float]] = {name: [] for name in modes}
    used_threads: dict[str, list[int]] = {name: [] for name in modes}
    competitor = _competing_load() if args.load else None
    try:
        for round_ in range(args.rounds):
            # odd rounds run the modes in reverse, so a mode is not always the one after a given other
            for name, run in (list(modes.items()) if round_ % 2 == 0 else list(modes.items())[::-1]):
                rate, used = run(copy.deepcopy(student0))
                rates[name].append(rate)
                used_threads[name].append(used)
            print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(f"{n} {r[-1]:,.0f}/s" for n, r in rates.items()),
                  flush=True)
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()

    with threads(threads_used):
        td = torchdistill_rates(args.torchdistill_python, teacher, student0, x, y, val_x, val_y, args, folder)
    if "samples_per_s" in td:
        rates["torchdistill 1.1.5, online"] = td["samples_per_s"]
        used_threads["torchdistill 1.1.5, online"] = td["threads"]

    median = {name: statistics.median(r) for name, r in rates.items()}
    rows = [{"mode": name, "samples/s (median)": round(median[name], 1),
             "min..max": f"{min(r):,.0f}..{max(r):,.0f}",
             "threads": ("/".join(str(n) for n in used_threads[name]) if isinstance(used_threads[name], list)
                         else used_threads[name]),
             "torch": td.get("torch", "") if name.startswith("torchdistill") else torch.__version__}
            for name, r in rates.items()]
    print()
    print(table(rows))
    best_cached = max((n for n in median if n.startswith("plain loop, cached")), key=median.get)
    best_online = max((n for n in median if n.startswith("plain loop, online")), key=median.get)
    plain_cached = median[best_cached]
    epochs_samples = len(x_np) * args.epochs
    ratios = [
        (f"engine cached / best plain cached ({best_cached.rsplit(', ', 1)[1]}) (goal >= 1)",
         median["engine loop, cached"] / plain_cached),
        (f"engine online / best plain online ({best_online.rsplit(', ', 1)[1]}) (goal >= 1)",
         median["engine loop, online"] / median[best_online]),
        ("plain cached / plain online, best of each (goal >= 2)", plain_cached / median[best_online]),
        (f"plain cached incl. the cache fill, over {args.epochs} epochs / plain online",
         epochs_samples / (epochs_samples / plain_cached + cache_fill_s) / median[best_online]),
        ("engine cached / engine online (goal >= 2)", median["engine loop, cached"] / median["engine loop, online"]),
    ]
    if "samples_per_s" in td:
        ratios += [("engine online / torchdistill online (goal >= 1)",
                    median["engine loop, online"] / median["torchdistill 1.1.5, online"]),
                   ("engine cached / torchdistill online (goal >= 1)",
                    median["engine loop, cached"] / median["torchdistill 1.1.5, online"])]
    print()
    print(table([{"ratio": name, "value": round(value, 2)} for name, value in ratios]))
    print(f"\nteacher output cache filled once in {cache_fill_s:.2f} s ({len(x_np):,} rows)")
    if "error" in td:
        print(f"torchdistill: not run: {td['error']}")
    else:
        print(f"torchdistill {td['torchdistill']} ran in its own venv on torch {td['torch']} "
              f"(this process: torch {torch.__version__})")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "rates": rates, "median": median, "threads": used_threads,
                                              "ratios": dict(ratios), "torchdistill": td,
                                              "cache_fill_s": cache_fill_s}, indent=2))


if __name__ == "__main__":
    main()
