"""The ``prsm`` command line. Exit codes: 0 success, 2 bad input (one line on stderr), 1 failure.

``prsm distill`` runs ``prsm.engine.pipeline.run_distillation`` in-process with progress bars;
``prsm teacher analyze`` prints a teacher's analysis; ``prsm catalog`` manages catalog teachers;
``prsm predict`` asks a distilled model (a local export, or a model deployed on a server) for labels.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prsm", description="PRSM Distill: distil large models into small ones.")
    parser.add_argument("--version", action="version", version=f"prsm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_distill(commands)
    _add_teacher(commands)
    _add_predict(commands)
    _add_catalog(commands)
    return parser


def _add_distill(commands) -> None:
    p = commands.add_parser("distill", help="distil a teacher into a smaller student",
                            description="Distil a teacher into a smaller student; writes exports, report.json and MODEL_CARD.md.")
    p.add_argument("--teacher", action="append",
                   help="zoo folder, .onnx file, Hugging Face directory, or catalog:NAME; give it again for an ensemble "
                        "of teachers whose outputs are fused (the student is designed from the one with the largest weight)")
    p.add_argument("--weights", help="an ensemble's weights, comma-separated in --teacher order, summing to 1 "
                                     "(default: equal)")
    p.add_argument("--fusion", choices=["weighted_ensemble", "confidence", "domain_routing"],
                   help="how an ensemble's outputs are fused (default weighted_ensemble)")
    p.add_argument("--domains", help="domain_routing: each teacher's domain, comma-separated in --teacher order "
                                     "(blank for none); rows go to the teacher their 'domain' column names")
    p.add_argument("--base-model", help="an incremental update: a finished run's folder (an earlier --out) whose PyTorch "
                                        "model the student starts as a copy of; --teacher teaches the new data "
                                        "(default: the base model itself)")
    p.add_argument("--preserve", action="store_true", help="with --base-model: replay the base model's own training "
                                                           "data, which the base model teaches, so what it knew is kept")
    p.add_argument("--new-domain", help="with --base-model: a name for the new data in the report (default: new)")
    p.add_argument("--source-model", help="domain adaptation: a finished run's folder or catalog:NAME that teaches on "
                                          "--data (the domain's labelled rows) and --domain-corpus; the student "
                                          "starts from it")
    p.add_argument("--domain-corpus", help="with --source-model: the domain's unlabelled examples")
    p.add_argument("--specialty", action="append", default=[],
                   help="a named check of the finished student, NAME=MINIMUM[@DATA][#CLASS] (accuracy, "
                        "per_class_accuracy, macro_f1, agreement), e.g. per_class_accuracy=0.8#neg; repeatable")
    p.add_argument("--knowledge-alignment", action="store_true",
                   help="an ensemble's labels matched by name and each teacher's temperature calibrated on validation")
    p.add_argument("--data", help="builtin:NAME, a CSV/JSONL file, an image folder or zip")
    p.add_argument("--task", default="auto", choices=["auto", "text", "image", "tabular"])
    p.add_argument("--target-size", default="small", choices=["small", "medium", "large"])
    p.add_argument("--optimization-target", default="speed", choices=["speed", "accuracy", "efficiency"])
    p.add_argument("--backend", default="auto", choices=["auto", "pytorch", "transformers", "tensorflow"])
    p.add_argument("--export", help="comma-separated formats (default: all the backend writes), e.g. onnx,pth")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: runs/TEACHER-DATA-SIZE); an existing run there resumes")
    p.add_argument("--json", action="store_true", help="print the report as the last line on stdout")
    p.add_argument("--baseline", action="store_true", help="also train the same student on labels alone")
    p.add_argument("--augment", action="store_true",
                   help="augment training batches (image shifts, tabular noise, text token masking); the teacher runs online")
    p.add_argument("--augment-flip", action="store_true", help="with --augment, also flip images left-right")
    p.add_argument("--unlabelled-data", help="a transfer set for the teacher to label: builtin:NAME, .txt, CSV/JSONL "
                                             "with a text column, a feature CSV, or images")
    p.add_argument("--max-unlabelled", type=int, help="cap on unlabelled examples (a seeded sample)")
    p.add_argument("--text-variants", type=int, default=0,
                   help="N new versions of each training text (masked words, short spans) for the teacher to label")
    p.add_argument("--student-base", help="text: a small pretrained model the student starts from, with its own "
                                          "tokenizer: builtin:all-minilm-l6-v2 or a Hugging Face directory")
    p.add_argument("--vocabulary-size", type=int,
                   help="text: cap the student's vocabulary at N tokens (the training texts' most frequent, after "
                        "special tokens and single characters); the parameters saved can buy a layer")
    p.add_argument("--strategy", default="",
                   help="comma-separated training strategies beyond basic distillation: progressive (a teacher "
                        "assistant between teacher and student), adversarial (robust distillation on PGD perturbations; "
                        "pixels, features or a transformer's input embeddings), curriculum (easy rows first)")
    p.add_argument("--adversarial-epsilon", type=float,
                   help="adversarial: the perturbations' size (pixels on 0..1; tabular: feature standard deviations)")
    p.add_argument("--attack-eval", action="store_true",
                   help="also measure the student's accuracy under a PGD attack on the test split")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--temperature", type=float, default=None, help="softmax temperature (default: the search's choice, 4 without one)")
    p.add_argument("--alpha", type=float, default=None,
                   help="weight of the teacher's soft targets, 0..1 (default: the search's choice, 0.7 without one)")
    p.add_argument("--search", choices=["off", "quick", "thorough"], default="quick",
                   help="short trials choose the student's design and settings on validation data (default quick)")
    p.add_argument("--search-seconds", type=float, default=None, help="start no new search trial after this many seconds")
    p.add_argument("--transfer", default="logits", help="logits, plus hidden and/or attention for transformers")
    p.add_argument("--max-latency-ms", type=float, help="max batch-1 CPU latency of the student")
    p.add_argument("--max-memory-mb", type=float, help="max memory of the student (weights + activations)")
    p.add_argument("--target-hardware", default="cpu",
                   help="comma-separated: cpu, mobile (the limits hold for the int8 TFLite file on one thread; "
                        "trains on the tensorflow backend), gpu (a CUDA device)")
    p.add_argument("--layers", type=int, help="exact student depth")
    p.add_argument("--hidden-size", type=int, help="exact student width")
    p.add_argument("--heads", type=int, help="exact attention heads (transformer students)")
    p.add_argument("--max-train", type=int, help="cap on training examples (stratified)")
    p.add_argument("--max-length", type=int, default=128, help="token limit for text")
    p.add_argument("--quality-threshold", type=float, default=0.85, help="minimum retention for the retention check")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: by time alone)")
    p.add_argument("--checkpoint-seconds", type=float, default=60.0,
                   help="seconds between checkpoints, whichever of the two comes first; 0: by steps alone")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(handler=_distill)


def _add_teacher(commands) -> None:
    teacher = commands.add_parser("teacher", help="inspect teachers")
    actions = teacher.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("analyze", help="size, speed, accuracy, calibration and structure of a teacher")
    p.add_argument("ref", help="zoo folder, .onnx file, Hugging Face directory, or catalog:NAME")
    p.add_argument("--data", help="labelled data to measure quality on (a held-out part is used)")
    p.add_argument("--json", action="store_true", help="print the analysis as JSON")
    p.add_argument("--out", help="also write the analysis JSON to this file")
    p.add_argument("--max-examples", type=int, default=2000, help="examples analysed at most")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_analyze)


def _add_predict(commands) -> None:
    p = commands.add_parser("predict", help="labels and probabilities from a distilled model",
                            description="Predict with a distilled model: a run folder (holding report.json), an "
                                        "export folder or .onnx file, run here; or a deployed model's id, asked "
                                        "of the server at --url/PRSM_URL with --token/PRSM_TOKEN.")
    p.add_argument("--model", required=True, metavar="DIR_OR_MODEL_ID",
                   help="a run folder, an export folder or .onnx file, or a deployed model's id")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="a text (text models), an image file (image models), or a feature row (tabular models: "
                        "JSON such as [1,2,3] or {\"col\": 1}, or comma-separated numbers)")
    p.add_argument("--text", action="append", default=[], metavar="TEXT", help="a text input (repeatable)")
    p.add_argument("--row", action="append", default=[], metavar="JSON", help="a feature row input (repeatable)")
    p.add_argument("--image", action="append", default=[], metavar="FILE", help="an image file input (repeatable)")
    p.add_argument("--json", action="store_true", help="print {\"model\", \"version\", \"outputs\"} as one JSON line")
    p.add_argument("--top", type=int, default=3, help="probabilities shown per input (default 3)")
    p.add_argument("--url", default=os.environ.get("PRSM_URL"), help="server for a model id (default: PRSM_URL)")
    p.add_argument("--token", default=os.environ.get("PRSM_TOKEN"), help="API token (default: PRSM_TOKEN)")
    p.set_defaults(handler=_predict)


def _add_catalog(commands) -> None:
    try:
        from .engine.catalog import cli as catalog_cli
    except ImportError:
        return
    catalog_cli.add_parser(commands)


def _distill(args) -> int:
    from .engine.pipeline import DistillConfig, run_distillation
    from .engine.progress import ConsoleProgress, print_summary

    config = DistillConfig(**_config_fields(args))
    out = Path(args.out or _default_out(args))
    progress = ConsoleProgress(to_stderr=args.json)
    with _stop_on_interrupt(progress), progress:
        report = run_distillation(config, out, progress)
    print_summary(report, out, to_stderr=args.json)
    if args.json:
        print(json.dumps(report))
    return EXIT_OK


def _ensemble(args) -> tuple[str, dict | None]:
    """The teacher the student is designed from, and the ensemble's config for several ``--teacher``."""
    from .engine.errors import BadInput

    teachers = args.teacher
    if args.base_model or args.source_model:
        if len(teachers) > 1:
            raise BadInput("--base-model and --source-model take one teacher at most")
    if len(teachers) == 1:
        for flag, value in (("--weights", args.weights), ("--fusion", args.fusion), ("--domains", args.domains),
                            ("--knowledge-alignment", args.knowledge_alignment)):
            if value:
                raise BadInput(f"{flag} is for an ensemble: give --teacher two times or more")
        return teachers[0], None
    weights = [1 / len(teachers)] * len(teachers)
    if args.weights:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            raise BadInput(f"--weights: {args.weights!r} is not a list of numbers") from None
        if len(weights) != len(teachers):
            raise BadInput(f"--weights: {len(weights)} weights for {len(teachers)} teachers")
    domains = [d.strip() or None for d in args.domains.split(",")] if args.domains else [None] * len(teachers)
    if len(domains) != len(teachers):
        raise BadInput(f"--domains: {len(domains)} domains for {len(teachers)} teachers")
    top = max(weights)
    primary = next(t for t, w in zip(teachers, weights) if w == top)
    return primary, {"members": [{"teacher": t, "weight": w, "domain": d} for t, w, d in zip(teachers, weights, domains)],
                     "fusion": args.fusion or "weighted_ensemble", "align": args.knowledge_alignment}


def _updates(args, teacher: str | None) -> tuple[str, dict]:
    """The teacher and the engine's fields for --base-model, --source-model and --specialty (the same
    mapping as a request's base_model, source_model and specialty_requirements)."""
    from types import SimpleNamespace

    from pydantic import ValidationError

    from .engine.errors import BadInput
    from .planning import BackendRefused, local_model_source, update_options
    from .request import SpecialtyRequirement

    if args.base_model and args.source_model:
        raise BadInput("--base-model updates a model and --source-model adapts one; give one")
    if (args.preserve or args.new_domain) and not args.base_model:
        raise BadInput("--preserve and --new-domain describe an update: give --base-model")
    if args.domain_corpus and not args.source_model:
        raise BadInput("--domain-corpus is the domain an adaptation learns: give --source-model")
    if args.source_model and teacher:
        raise BadInput("--source-model is the teacher of an adaptation: leave --teacher out")
    specialties = []
    for text in args.specialty:
        name, _, rest = text.partition("=")
        rest, _, class_name = rest.partition("#")
        minimum, _, data = rest.partition("@")
        try:
            specialties.append(SpecialtyRequirement(name=name.strip(), minimum=float(minimum), data=data or None,
                                                    class_name=class_name or None))
        except ValidationError as error:
            raise BadInput(f"--specialty {text}: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        except ValueError:
            raise BadInput(f"--specialty {text}: write NAME=MINIMUM[@DATA][#CLASS], e.g. accuracy=0.9") from None
    model = args.base_model or args.source_model
    source = local_model_source(model) if model else None
    kind = "incremental" if args.base_model else "adaptation" if args.source_model else None
    teacher = teacher or (source.model if source else None)
    if teacher is None:
        raise BadInput("--teacher: required (or --base-model / --source-model)")
    request = SimpleNamespace(update_kind=kind, specialty_requirements=specialties, preserve_existing_knowledge=args.preserve,
                              new_knowledge_domains=[args.new_domain] if args.new_domain else None,
                              domain_corpus=args.domain_corpus, target_domain=None)
    try:
        return teacher, update_options(request, source, teacher=teacher)
    except BackendRefused as refused:
        raise BadInput(f"{refused.field}: {refused}") from None


def _config_fields(args) -> dict:
    teacher, ensemble = _ensemble(args) if args.teacher else (None, None)
    teacher, updates = _updates(args, teacher)
    fields = {"teacher": teacher, "ensemble": ensemble, "data": args.data, "task": args.task, "target_size": args.target_size,
              "optimization_target": args.optimization_target, "backend": args.backend, "epochs": args.epochs,
              "seed": args.seed, "baseline": args.baseline, "augment": args.augment,
              "augment_flip": args.augment_flip, "unlabelled_data": args.unlabelled_data,
              "max_unlabelled_examples": args.max_unlabelled, "text_variants": args.text_variants,
              "student_base": args.student_base, "vocabulary_size": args.vocabulary_size,
              "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "temperature": args.temperature, "alpha": args.alpha,
              "search": args.search, "search_seconds": args.search_seconds,
              "transfer": [t.strip() for t in args.transfer.split(",") if t.strip()],
              "max_inference_latency_ms": args.max_latency_ms, "layer_count": args.layers,
              "hidden_size": args.hidden_size, "attention_heads": args.heads, "max_train_examples": args.max_train,
              "max_length": args.max_length, "quality_threshold": args.quality_threshold,
              "checkpoint_every": args.checkpoint_every, "checkpoint_seconds": args.checkpoint_seconds or None,
              "device": args.device,
              "strategies": [t.strip() for t in args.strategy.split(",") if t.strip() and t.strip() != "basic"],
              "adversarial_epsilon": args.adversarial_epsilon, "attack_eval": args.attack_eval,
              "target_hardware": [h.strip().lower() for h in args.target_hardware.split(",") if h.strip()]}
    fields.update(updates)  # an update's or an adaptation's fields (the domain corpus is the transfer set)
    if args.export:
        fields["exports"] = [f.strip() for f in args.export.split(",") if f.strip()]
    if args.max_memory_mb is not None:
        fields["max_memory_bytes"] = int(args.max_memory_mb * 1024 * 1024)
    return fields


def _default_out(args) -> str:
    def stem(ref: str | None) -> str:
        return (Path(ref.split(":", 1)[-1]).stem or "data") if ref else "default"

    teachers = args.teacher or [args.base_model or args.source_model]
    return os.path.join("runs", f"{'+'.join(stem(t) for t in teachers)}-{stem(args.data)}-{args.target_size}")


class _stop_on_interrupt:
    """The first Ctrl-C asks the run to stop at the next step (after a checkpoint); a second one
    interrupts at once."""

    def __init__(self, progress) -> None:
        self.progress = progress

    def __enter__(self):
        def handler(signum, frame):
            if self.progress.stop_requested:
                raise KeyboardInterrupt
            self.progress.stop_requested = True

        try:
            self.previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _analyze(args) -> int:
    from .engine.analysis import analyze_teacher
    from .engine.progress import print_analysis

    analysis = analyze_teacher(args.ref, data=args.data, max_examples=args.max_examples, seed=args.seed)
    if args.out:
        Path(args.out).write_text(json.dumps(analysis, indent=2))
    if args.json:
        print(json.dumps(analysis))
    else:
        print_analysis(analysis)
    return EXIT_OK


def _predict(args) -> int:
    from .sdk.predicting import predict_with

    answer = predict_with(args.model, args.inputs, texts=args.text, rows=args.row, images=args.image,
                          url=args.url, token=args.token)
    if args.json:
        print(json.dumps(answer))
        return EXIT_OK
    for output in answer["outputs"]:
        print(_prediction_line(output, args.top))
    return EXIT_OK


def _prediction_line(output: dict, top: int) -> str:
    """``label  (p=0.93)`` and the next most probable labels."""
    ranked = sorted(output["probabilities"].items(), key=lambda item: -item[1])
    others = [f"{label} {p:.2f}" for label, p in ranked if label != output["label"]][: max(top - 1, 0)]
    line = f"{output['label']}  (p={output['probabilities'].get(output['label'], 0.0):.2f})"
    return f"{line}   {', '.join(others)}" if others else line


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    return _run(args)


def _run(args) -> int:
    from pydantic import ValidationError

    from .engine.errors import BadInput, Cancelled
    from .engine.safety_versions import UnsafeLibraryVersion, require_safe_versions
    from .sdk.types import SdkError
    from .serving.errors import InputError

    try:
        require_safe_versions()
        return args.handler(args)
    except UnsafeLibraryVersion as error:
        print(f"prsm: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except (BadInput, InputError) as error:
        print(f"prsm: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SdkError as error:  # the server's refusal, or a local model's: the caller's inputs are a 400/413/422
        status = f" (HTTP {error.status})" if error.status else ""
        retry = f"; retry after {error.retry_after:g}s" if error.retry_after else ""
        print(f"prsm: error{status}: {error}{retry}", file=sys.stderr)
        return EXIT_BAD_INPUT if error.status in (400, 413, 422) else EXIT_FAILURE
    except ValidationError as error:
        first = error.errors()[0]
        print(f"prsm: error: {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Cancelled as error:
        print(f"prsm: stopped ({error}); run the same command again to resume", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("prsm: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:  # a failure, not the user's input: one line, the trace on request
        print(f"prsm: failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", file=sys.stderr)
        if os.environ.get("PRSM_DEBUG"):
            traceback.print_exc()
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
