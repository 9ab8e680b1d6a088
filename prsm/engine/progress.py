"""Console display for the CLI: a rich progress bar fed by pipeline events, and summary tables."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class ConsoleProgress:
    """A pipeline callback that draws progress; ``stop_requested`` is set by the CLI's Ctrl-C."""

    def __init__(self, to_stderr: bool = False) -> None:
        self.console = Console(file=sys.stderr if to_stderr else sys.stdout)
        self.stop_requested = False
        self.bar = Progress(TextColumn("[bold]{task.fields[stage]:<14}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=self.console, transient=False)
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task("run", total=100, stage="starting", detail="")
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def on_event(self, event: dict) -> None:
        detail = ""
        if event["type"] == "progress" and "step" in event:
            loss = event.get("metrics", {}).get("loss")
            detail = f"step {event['step']}/{event['total_steps']}  loss {loss:.4f}  ETA {event.get('eta_s', 0):.0f}s"
        elif event["type"] == "metric":
            detail = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in event["metrics"].items())
        elif event.get("message"):
            detail = event["message"]
        self.bar.update(self.task, completed=event["progress"], stage=event["stage"], detail=detail[:80])
        if event["type"] == "log":
            self.bar.console.print(f"  {event['message']}", style="dim")

    def should_stop(self) -> bool:
        return self.stop_requested


def print_summary(report: dict, out: Path, to_stderr: bool = False) -> None:
    console = Console(file=sys.stderr if to_stderr else sys.stdout)
    t, s = report["teacher"], report["student"]
    table = Table(title=f"{report['task']} distillation ({report['backend']}), seed {report['seed']}")
    for column in ("", "teacher", "student"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row("test accuracy" + (" (ensemble)" if t.get("ensemble") else ""), f"{t['accuracy']:.4f}",
                  f"{s['accuracy']:.4f}")
    for member in (t.get("ensemble") or {}).get("members", []):
        table.add_row(f"  teacher {Path(member['ref']).name or member['ref']} (weight {member['weight']:g})",
                      f"{member['accuracy']:.4f}", "")
    table.add_row("F1 (macro)", f"{t['f1_macro']:.4f}", f"{s['f1_macro']:.4f}")
    table.add_row("parameters", f"{t['params']:,}", f"{s['params']:,}")
    table.add_row("size (bytes)", f"{t['size_bytes']:,}", f"{s['size_bytes']:,}")
    runtimes = {t.get("runtime") or report["latency_runtime"], s.get("runtime") or report["latency_runtime"]}
    if len(runtimes) == 1:
        table.add_row(f"latency p50 ms ({runtimes.pop()}, batch 1)", f"{t['latency_ms_p50']:.3f}", f"{s['latency_ms_p50']:.3f}")
    else:  # each in its own runtime (a Keras student runs as TFLite)
        table.add_row("latency p50 ms (batch 1)", f"{t['latency_ms_p50']:.3f} ({t.get('runtime')})",
                      f"{s['latency_ms_p50']:.3f} ({s.get('runtime')})")
    mobile = s.get("mobile")
    if mobile:
        table.add_row("on mobile: int8 TFLite, 1 thread, p50 ms", "", f"{mobile['latency_ms_p50']:.3f}")
    console.print(table)
    console.print(f"retention {report['retention']:.3f}   compression {report['compression_ratio']:.1f}x   "
                  f"speedup {report['speedup']:.2f}x   agreement {s['agreement']:.3f}")
    search = report.get("search")
    if search:
        chosen = search["trials"][search["chosen"]]
        console.print(f"search ({search['level']}): {len(search['trials'])} trials in {search['seconds']:.1f} s; chose trial "
                      f"{chosen['number'] + 1}, {chosen['design']}, T={chosen['temperature']:g}, alpha={chosen['alpha']:g}, "
                      f"lr {chosen['learning_rate']:.2g} ({search['why']})")
        gain = (search.get("labels_only") or {}).get("gain")
        if gain is not None:
            console.print(f"on validation, distillation beat labels alone by {gain:+.4f} (same design, trial length)")
    if report["teacher"].get("test_note"):
        console.print(f"[yellow]note: {report['teacher']['test_note']}[/]")
    if "baseline" in report:
        console.print(f"labels-only baseline accuracy {report['baseline']['accuracy']:.4f} "
                      f"(distillation gain {report['baseline']['distillation_gain']:+.4f})")
    for name, check in report["checks"].items():
        console.print(f"check {name}: {'[green]passed' if check['passed'] else '[red]failed'}[/] "
                      f"({check['score']:.4g} vs {check['threshold']:.4g})")
    for name, record in report["exports"].items():
        console.print(f"export {name}: {out / record['path']} {'verified' if record['verified'] else '[red]NOT verified[/]'}")


def print_analysis(analysis: dict) -> None:
    console = Console()
    table = Table(title=f"teacher {analysis['ref']}")
    table.add_column("")
    table.add_column("value", justify="right")
    for key, value in _flat(analysis):
        table.add_row(key, value)
    console.print(table)


def _flat(analysis: dict):
    profile, quality = analysis.get("profile", {}), analysis.get("quality") or {}
    for key in ("kind", "family", "params", "size_bytes", "layers", "width", "heads", "flops_per_example",
                "latency_ms_p50", "latency_ms_p95", "peak_memory_bytes", "peak_rss_delta_bytes", "runtime", "threads"):
        if profile.get(key) is not None:
            yield key, _fmt(profile[key])
    if profile.get("flops_not_counted"):
        yield "flops not counted", ", ".join(f"{op} x{n}" for op, n in profile["flops_not_counted"].items())
    for key in ("accuracy", "f1_macro", "ece", "mean_confidence", "mean_entropy", "low_margin_share"):
        if quality.get(key) is not None:
            yield key, _fmt(quality[key])
    for name, value in (quality.get("per_class_accuracy") or {}).items():
        yield f"accuracy[{name}]", _fmt(value)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
