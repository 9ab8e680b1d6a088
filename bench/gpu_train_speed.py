"""Distillation training speed on one GPU (H100/H200): a plain hand-written loop against the engine's
own training loop, same models, data and batch, in one process.

    python3 bench/gpu_train_speed.py --out $OUT/gpu_train_speed.json       # on the GPU machine
    .venv/bin/python bench/gpu_train_speed.py --tiny                       # a CPU smoke run here

Teacher: BERT-base shaped (12 layers, 768 wide, 12 heads, 30,522-token vocabulary; random weights
from a transformers ``BertConfig``, nothing downloaded). Student: 6 layers, 384 wide, 6 heads, the
teacher's vocabulary (the engine's text students share their teacher's tokenizer). Sequence length
128, two classes, bf16 autocast, fused AdamW, KD loss at T=4, alpha=0.7. Random token ids: the speed
does not depend on what the tokens say.

Modes, in this order, each timed for ``--seconds`` after a warm-up:
  plain, online        teacher forward every step, data already on the GPU
  plain, cached        teacher logits computed once, indexed per step
  engine, cached       ``prsm.engine.training.loop.Trainer`` with the Transformers backend's
                       objective and host-side cached logits, as the pipeline runs it, without
                       checkpoints (the loop itself); whole epochs with its validation pass
  engine, online       the same Trainer with no cache: the objective runs the teacher each step
  (the two cached modes run a second round, interleaved, for the headline ratio)
  diagnostics, if time is left: the plain cached loop fed like a naive loop (pageable host copy and
  loss.item() every step), and the engine with a checkpoint every 50 steps (the pipeline's old
  default; it now checkpoints every 60 s, see bench/checkpoint_interval.py).
A wall-clock cap (``--cap``, default 330 s) stops starting new modes; figures so far are written
to ``--out`` after every mode, so a run cut short still leaves them. Needs torch, transformers and
numpy (no pydantic: only ``prsm.engine.training`` and the Transformers backend's objective are imported).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPERATURE, ALPHA, LR, WEIGHT_DECAY = 4.0, 0.7, 5e-4, 0.01


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="tiny models and a few seconds a mode (a CPU smoke test)")
    p.add_argument("--batch", type=int, help="batch size (default 128; tiny 8)")
    p.add_argument("--seq", type=int, help="sequence length (default 128; tiny 16)")
    p.add_argument("--seconds", type=float, help="timed seconds per mode (default 15; tiny 1.5)")
    p.add_argument("--rows", type=int, help="rows of random data (default 65,536; tiny 256)")
    p.add_argument("--cap", type=float, default=330.0,
                   help="start no mode that would end after this many seconds; stop whatever runs at cap + 30")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--out", help="write the figures as JSON here")
    args = p.parse_args(argv)
    args.batch = args.batch or (8 if args.tiny else 128)
    args.seq = args.seq or (16 if args.tiny else 128)
    args.seconds = args.seconds or (1.5 if args.tiny else 15.0)
    args.rows = args.rows or (256 if args.tiny else 65_536)
    return args


def machine(torch, device) -> dict:
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def build_models(torch, tiny: bool, device):
    from transformers import AutoModelForSequenceClassification, BertConfig

    if tiny:
        shapes = dict(vocab_size=1000, max_position_embeddings=64)
        teacher_config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                                    num_labels=2, **shapes)
        student_config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                    num_labels=2, **shapes)
    else:
        teacher_config = BertConfig(num_labels=2)  # BERT-base: 12 x 768, 12 heads, 3072 FFN, 30,522 tokens
        student_config = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=6,
                                    intermediate_size=1536, num_labels=2)
    torch.manual_seed(0)
    # from_config, as the engine builds its students: transformers picks its default attention (sdpa)
    teacher = AutoModelForSequenceClassification.from_config(teacher_config).to(device).eval()
    student = AutoModelForSequenceClassification.from_config(student_config).to(device)
    return teacher, student


def kd_loss(F, student_logits, teacher_logits, labels):
    """Hand-written for the plain loop: alpha T^2 KL(p_t || p_s) + (1 - alpha) CE (Hinton et al., 2015)."""
    soft = F.kl_div(F.log_softmax(student_logits.float() / TEMPERATURE, -1),
                    F.log_softmax(teacher_logits.float() / TEMPERATURE, -1),
                    reduction="batchmean", log_target=True) * TEMPERATURE**2
    return ALPHA * soft + (1 - ALPHA) * F.cross_entropy(student_logits.float(), labels)


class Bench:
    def __init__(self, args):
        import numpy as np
        import torch

        self.np, self.torch, self.args = np, torch, args
        want = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(want)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.started = time.perf_counter()
        self.results: dict = {"machine": machine(torch, self.device), "config": vars(args).copy(), "modes": {},
                              "skipped": {}, "errors": {}}
        print("machine: " + ", ".join(f"{k}={v}" for k, v in self.results["machine"].items()), flush=True)
        self.teacher, self.student0 = build_models(torch, args.tiny, self.device)
        # on a CPU (--tiny) the plain loops run at torch's thread count; the engine measures its own
        self.initial = copy.deepcopy(self.student0.state_dict())
        self._data()

    def _data(self):
        np, torch, args = self.np, self.torch, self.args
        vocab = self.teacher.config.vocab_size
        rng = np.random.default_rng(0)
        self.ids_np = rng.integers(1000 if vocab > 2000 else 5, vocab, (args.rows, args.seq), dtype=np.int64)
        self.mask_np = np.ones_like(self.ids_np)
        self.labels_np = rng.integers(0, 2, args.rows, dtype=np.int64)
        self.ids, self.mask, self.labels = (torch.from_numpy(a).to(self.device)
                                            for a in (self.ids_np, self.mask_np, self.labels_np))
        started = time.perf_counter()
        with torch.inference_mode(), self._autocast():
            chunks = [self.teacher(input_ids=self.ids[i:i + 512], attention_mask=self.mask[i:i + 512]).logits.float()
                      for i in range(0, args.rows, 512)]
        self.cached = torch.cat(chunks)
        self.cached_np = self.cached.cpu().numpy()  # the engine keeps its cache on the host (a memory map)
        self.results["cache_fill_s"] = round(time.perf_counter() - started, 3)
        t_params = sum(p.numel() for p in self.teacher.parameters())
        s_params = sum(p.numel() for p in self.student0.parameters())
        self.results["models"] = {"teacher_params": t_params, "student_params": s_params,
                                  "attention": getattr(self.student0.config, "_attn_implementation", None)}
        print(f"teacher {t_params:,} params, student {s_params:,} ({t_params / s_params:.1f}x fewer); "
              f"{args.rows:,} rows x {args.seq} tokens, batch {args.batch}; teacher logits cached in "
              f"{self.results['cache_fill_s']} s", flush=True)

    def _autocast(self):
        return self.torch.autocast(self.device.type, dtype=self.torch.bfloat16, enabled=self.cuda)

    def _sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def fresh_student(self):
        student = copy.deepcopy(self.student0)
        student.load_state_dict(self.initial)
        return student

    # --- plain hand-written loops ---------------------------------------------------------------

    def plain(self, cached: bool, naive_feed: bool = False) -> dict:
        """Shuffle on the GPU, index, forward, KD loss, fused AdamW step; no host round trip per step.
        ``naive_feed``: batches copied from host (pageable) memory and loss.item() every step."""
        torch, F = self.torch, self.torch.nn.functional
        student = self.fresh_student().train()
        optimizer = torch.optim.AdamW(student.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=self.cuda)
        batch, rows = self.args.batch, self.args.rows
        state = {"order": torch.randperm(rows, device=self.device), "at": 0}

        def step():
            if state["at"] + batch > rows:
                state["order"], state["at"] = torch.randperm(rows, device=self.device), 0
            pick = state["order"][state["at"]:state["at"] + batch]
            state["at"] += batch
            if naive_feed:
                host = pick.cpu().numpy()
                ids, mask, labels = (torch.from_numpy(a[host]).to(self.device)
                                     for a in (self.ids_np, self.mask_np, self.labels_np))
                target = torch.from_numpy(self.cached_np[host]).to(self.device)
            else:
                ids, mask, labels = self.ids[pick], self.mask[pick], self.labels[pick]
                target = self.cached[pick] if cached else None
            with self._autocast():
                if target is None:
                    with torch.no_grad():
                        target = self.teacher(input_ids=ids, attention_mask=mask).logits
                loss = kd_loss(F, student(input_ids=ids, attention_mask=mask).logits, target, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if naive_feed:
                loss.item()

        for _ in range(5 if self.args.tiny else 15):
            step()
        self._sync()
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < self.args.seconds:
            for _ in range(10):
                step()
            steps += 10
            self._sync()
        seconds = time.perf_counter() - started
        return {"samples_per_s": steps * batch / seconds, "steps": steps, "seconds": round(seconds, 2)}

    # --- the engine's loop --------------------------------------------------------------------

    def engine(self, cached: bool, rate_hint: float, checkpoint_every: int | None = None, share: float = 1.0,
               checkpoint_seconds: float | None = None) -> dict:
        """The engine's Trainer as the Transformers backend drives it, for about ``--seconds``
        (whole epochs over a slice of the rows sized from the plain loop's rate)."""
        from prsm.engine.adapters import SequenceAdapter
        from prsm.engine.backends.transformers.objective import TransformerObjective
        from prsm.engine.training.loop import Trainer, TrainData, TrainSettings

        np, args = self.np, self.args
        adapter = SequenceAdapter(tokenizer=None, max_length=args.seq)  # forward only: rows come pre-encoded
        student = self.fresh_student()
        objective = TransformerObjective(self.teacher, list(range(student.config.num_hidden_layers)),
                                         student.config.hidden_size, self.teacher.config.hidden_size, ["logits"],
                                         TEMPERATURE, ALPHA)
        samples = max(args.batch * 20, int(rate_hint * args.seconds * share))
        epochs = max(1, math.ceil(samples / args.rows))
        rows = min(args.rows, args.batch * math.ceil(samples / epochs / args.batch))
        train = TrainData({"input_ids": self.ids_np[:rows], "attention_mask": self.mask_np[:rows]},
                          self.labels_np[:rows], self.cached_np[:rows] if cached else None)
        held = slice(args.rows - min(1024, args.rows // 4), args.rows)
        validation = TrainData({"input_ids": self.ids_np[held], "attention_mask": self.mask_np[held]},
                               self.labels_np[held])
        folder = Path(tempfile.mkdtemp(prefix="prsm-gpu-bench-"))

        def fit(epochs_, rows_, every, seconds=None):
            part = TrainData({k: v[:rows_] for k, v in train.inputs.items()}, train.labels[:rows_],
                             None if train.teacher_logits is None else train.teacher_logits[:rows_])
            settings = TrainSettings(epochs=epochs_, batch_size=args.batch, learning_rate=LR, weight_decay=WEIGHT_DECAY,
                                     temperature=TEMPERATURE, alpha=ALPHA, patience=epochs_ + 1,
                                     checkpoint_every=every, checkpoint_seconds=seconds, device=self.device.type)
            checkpoint = folder / f"student-{time.perf_counter_ns()}.pt" if every or seconds else None
            trainer = Trainer(student, adapter, objective, settings, checkpoint)
            self._sync()
            started = time.perf_counter()
            result = trainer.fit(part, validation)
            self._sync()
            return result, time.perf_counter() - started

        fit(1, args.batch * (5 if args.tiny else 15), None)  # warm-up: the fused optimiser, the autocast caches
        result, seconds = fit(epochs, rows, checkpoint_every, checkpoint_seconds)
        return {"samples_per_s": rows * epochs / seconds, "steps": result.steps, "epochs": epochs,
                "seconds": round(seconds, 2), "trainer_samples_per_s": result.samples_per_s}

    # --- the run ---------------------------------------------------------------------------------

    def run(self, name: str, fn, budget: float) -> None:
        elapsed = time.perf_counter() - self.started
        if elapsed + budget > self.args.cap:
            self.results["skipped"][name] = f"time cap: {elapsed:.0f} s gone of {self.args.cap:.0f}"
            print(f"{name}: skipped ({self.results['skipped'][name]})", flush=True)
            return
        try:
            figures = fn()
        except (Exception, HardCap) as error:  # one failing mode must not lose the others' figures
            self.results["errors"][name] = f"{type(error).__name__}: {error}"
            print(f"{name}: FAILED {self.results['errors'][name]}", flush=True)
            return
        self.results["modes"].setdefault(name, []).append(figures)
        print(f"{name}: {figures['samples_per_s']:,.0f} samples/s ({figures['seconds']} s)", flush=True)
        self.save()

    def rate(self, name: str) -> float | None:
        runs = self.results["modes"].get(name)
        return statistics.median(r["samples_per_s"] for r in runs) if runs else None

    def save(self) -> None:
        if self.args.out:
            Path(self.args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(self.args.out).write_text(json.dumps(self.results, indent=2))


class HardCap(BaseException):
    pass


def _hard_stop(signum, frame):
    raise HardCap("the run reached its hard wall-clock cap")


def main() -> None:
    args = parse_args()
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _hard_stop)
        signal.alarm(int(args.cap + 30))
    bench = Bench(args)
    per_mode = args.seconds + (3 if args.tiny else 12)
    bench.run("plain, online", lambda: bench.plain(cached=False), per_mode)
    bench.run("plain, cached", lambda: bench.plain(cached=True), per_mode)
    bench.run("engine, cached", lambda: bench.engine(True, bench.rate("plain, cached") or 1000), per_mode)
    bench.run("engine, online", lambda: bench.engine(False, bench.rate("plain, online") or 500), per_mode)
    bench.run("plain, cached", lambda: bench.plain(cached=True), per_mode)
    bench.run("engine, cached", lambda: bench.engine(True, bench.rate("plain, cached") or 1000), per_mode)
    bench.run("diagnostic: plain, cached, host copy + loss.item() each step",
              lambda: bench.plain(cached=True, naive_feed=True), per_mode)
    bench.run("diagnostic: engine, cached, checkpoint every 50 steps (the pipeline's default until it went by time)",
              lambda: bench.engine(True, bench.rate("plain, cached") or 1000, checkpoint_every=50, share=0.4), per_mode)
    signal.alarm(0) if hasattr(signal, "SIGALRM") else None
    report(bench)


def report(bench: Bench) -> None:
    results = bench.results
    rows = [(name, bench.rate(name), len(runs)) for name, runs in results["modes"].items()]
    width = max([len(r[0]) for r in rows] + [20])
    print(f"\n| {'mode'.ljust(width)} | samples/s (median) | runs |")
    print(f"|{'-' * (width + 2)}|--------------------|------|")
    for name, rate, n in rows:
        print(f"| {name.ljust(width)} | {rate:>18,.0f} | {n:>4} |")
    ratios = {}
    pairs = [("engine / plain, cached (goal >= 0.95)", "engine, cached", "plain, cached"),
             ("engine / plain, online (goal >= 0.95)", "engine, online", "plain, online"),
             ("plain cached / plain online", "plain, cached", "plain, online"),
             ("engine cached / engine online", "engine, cached", "engine, online")]
    for label, top, bottom in pairs:
        if bench.rate(top) and bench.rate(bottom):
            ratios[label] = round(bench.rate(top) / bench.rate(bottom), 3)
    results["median_samples_per_s"] = {name: rate for name, rate, _ in rows}
    results["ratios"] = ratios
    print()
    for label, value in ratios.items():
        print(f"{label}: {value:.3f}")
    for name, why in {**results["skipped"], **results["errors"]}.items():
        print(f"not measured: {name}: {why}")
    results["total_s"] = round(time.perf_counter() - bench.started, 1)
    print(f"total {results['total_s']} s")
    bench.save()


if __name__ == "__main__":
    main()
