"""Advanced distillation against basic distillation on the same teacher, data, size and seeds: a
teacher ensemble, the progressive (teacher assistant) chain, adversarial and curriculum training.

    .venv/bin/python bench/advanced_strategies.py ensemble      # digits: the catalog's two digits teachers
    .venv/bin/python bench/advanced_strategies.py ensemble-fashion      # Fashion-MNIST: two CNNs trained here
    .venv/bin/python bench/advanced_strategies.py progressive   # digits, the default small student (~46x) and ~180x
    .venv/bin/python bench/advanced_strategies.py progressive-fashion   # Fashion-MNIST, a student ~100x smaller
    .venv/bin/python bench/advanced_strategies.py curriculum    # digits
    .venv/bin/python bench/advanced_strategies.py adversarial   # Fashion-MNIST, a CNN teacher trained here
    .venv/bin/python bench/advanced_strategies.py incremental   # digits, then digits moved two pixels right
    .venv/bin/python bench/advanced_strategies.py adaptation    # a digits student adapted to moved digits
    .venv/bin/python bench/advanced_strategies.py adaptation-text   # the MiniLM sentiment teacher adapted to Amazon sentences
    .venv/bin/python bench/advanced_strategies.py all

Every run uses the engine's defaults (search quick) apart from the strategy; figures are the mean of
``--seeds`` seeds. Digits runs are tested on the rows the catalog's digits teachers held out; the
Fashion-MNIST teacher is trained here by the catalog's own training code
(``prsm.engine.catalog.training``) on the official training split, and tested on the official test split.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench._common import print_machine, table  # noqa: E402


def _distil(out: Path, **fields) -> dict:
    from prsm.engine.pipeline import DistillConfig, run_distillation

    started = time.perf_counter()
    report = run_distillation(DistillConfig(**fields), out)
    report["wall_s"] = time.perf_counter() - started
    return report


def _summary(name: str, reports: list[dict], columns=None) -> dict:
    mean = statistics.mean
    row = {"run": name, "seeds": len(reports),
           "student params": "/".join(sorted({f"{r['student']['params']:,}" for r in reports})),
           "compression": round(mean(r["compression_ratio"] for r in reports), 1),
           "accuracy %": round(100 * mean(r["student"]["accuracy"] for r in reports), 2),
           "per seed": " ".join(f"{100 * r['student']['accuracy']:.2f}" for r in reports),
           "train s": round(mean(r["stages"]["train"]["seconds"] + r["stages"].get("assistant", {}).get("seconds", 0)
                                 for r in reports), 1),
           "run s": round(mean(r["wall_s"] for r in reports), 1)}
    return row | (columns(reports) if columns else {})


def _quiet(stage: str, step: int, total: int) -> None:
    """The teacher trainings' progress: not printed."""


def ensemble(args, scratch: Path) -> list[dict]:
    from prsm.engine.catalog import catalog_build

    for name in ("digits-mlp", "digits-mlp-wide"):
        catalog_build(name)
    # the better teacher on the held-out rows first: the ensemble's student is designed from it, so
    # it has the same size budget as that teacher's own student; both hold out the same rows, and
    # every run is tested on them
    best, other = "catalog:digits-mlp-wide", "catalog:digits-mlp"
    rows = []
    pair = [{"teacher": best, "weight": 0.5}, {"teacher": other, "weight": 0.5}]
    runs = {"best teacher alone (digits-mlp-wide)": {"teacher": best},
            "other teacher alone (digits-mlp)": {"teacher": other},
            "ensemble (weighted_ensemble)": {"teacher": best, "ensemble": {"members": pair}},
            "ensemble (confidence)": {"teacher": best, "ensemble": {"members": pair, "fusion": "confidence"}},
            "ensemble (weighted, aligned and calibrated)": {"teacher": best, "ensemble": {"members": pair, "align": True}}}
    for name, fields in runs.items():
        reports = [_distil(scratch / f"{name}-{seed}", data="builtin:digits", seed=seed, **fields)
                   for seed in range(args.seeds)]
        rows.append(_summary(name, reports, lambda rs: {"teacher accuracy %": round(
            100 * statistics.mean(r["teacher"]["accuracy"] for r in rs), 2)}))
    return rows


def progressive(args, scratch: Path) -> list[dict]:
    from prsm.engine.catalog import catalog_build

    catalog_build("digits-mlp")
    rows = []
    # the default design (about 46x), then one student held at about 180x (one layer of 12) for both
    for size, fixed in (("default design", {}), ("one layer of 12", {"layer_count": 1, "hidden_size": 12})):
        for name, strategies in (("direct (basic)", []), ("progressive (teacher assistant)", ["progressive"])):
            reports = [_distil(scratch / f"{name}-{size}-{seed}", teacher="catalog:digits-mlp", data="builtin:digits",
                               seed=seed, strategies=strategies, **fixed) for seed in range(args.seeds)]
            rows.append(_summary(f"{name}, {size}", reports, lambda rs: {"assistant": "/".join(sorted({
                f"{r['training']['progressive']['assistant_params']:,}" for r in rs if r["training"].get("progressive")}))}))
        rows[-1]["vs direct at this size, points"] = round(rows[-1]["accuracy %"] - rows[-2]["accuracy %"], 2)
    return rows


def curriculum(args, scratch: Path) -> list[dict]:
    from prsm.engine.catalog import catalog_build

    catalog_build("digits-mlp")
    rows = []
    for name, strategies in (("basic", []), ("curriculum", ["curriculum"])):
        reports = [_distil(scratch / f"{name}-{seed}", teacher="catalog:digits-mlp", data="builtin:digits", seed=seed,
                           strategies=strategies) for seed in range(args.seeds)]
        rows.append(_summary(name, reports))
    return rows


# Fashion-MNIST teachers trained here: (channels, hidden, flip, seed of the weights and of the 20,000
# training images picked). The second differs from the first in depth, width, augmentation and rows,
# so that the two disagree where an ensemble can help.
FASHION_TEACHERS = {"fashion-cnn-32x64": ([32, 64], 128, True, 3, 0),
                    "fashion-cnn-24x48x96": ([24, 48, 96], 96, False, 7, 7)}


def _fashion_teacher(cache: Path, name: str = "fashion-cnn-32x64") -> Path:
    """A CNN of ``FASHION_TEACHERS`` trained 4 epochs on 20,000 of Fashion-MNIST's training images with
    shifts (and flips), by the catalog's training code; kept in ``cache``."""
    import torch

    from prsm.engine.catalog.training import (build_device, seed_everything, stratified_subset, teacher_split,
                                              train_classifier)
    from prsm.engine.data.builtin import load_builtin
    from prsm.engine.training.augment import Augmentation
    from prsm.engine.zoo import FORMAT, build_model, save_zoo_model

    folder = cache / name
    if (folder / "architecture.json").is_file():
        return folder
    channels, hidden, flip, seed, rows_seed = FASHION_TEACHERS[name]
    generator = seed_everything(seed)
    data = load_builtin("fashion-mnist")
    train_rows, _, _ = teacher_split(data)
    train_rows = stratified_subset(train_rows, data.labels, 20_000, seed=rows_seed)
    architecture = {"format": FORMAT, "kind": "cnn", "task": "image", "classes": list(data.classes),
                    "config": {"in_channels": 1, "image_size": [28, 28], "channels": channels, "hidden": hidden,
                               "dropout": 0.3}}
    model = build_model(architecture)
    train_classifier(model, data.images[train_rows], data.labels[train_rows], epochs=4, batch_size=128, lr=2e-3,
                     weight_decay=1e-4, generator=generator, progress=_quiet,
                     augment=Augmentation(task="image", flip=flip, shift=2), device=build_device())
    torch.manual_seed(0)
    return save_zoo_model(model, architecture, folder)


def _fashion_common(args) -> dict:
    return {"data": "builtin:fashion-mnist", "max_train_examples": args.fashion_rows}


def ensemble_fashion(args, scratch: Path) -> list[dict]:
    """Two differently trained Fashion-MNIST CNNs: the student of their ensemble against the student
    of the better one alone, at the same size (the ensemble's student is designed from the better)."""
    from prsm.engine.data.builtin import load_builtin
    from prsm.engine.teachers import load_teacher

    data = load_builtin("fashion-mnist")
    test = data.subset(np.arange(*data.meta["splits"]["test"]))
    accuracy = {}
    for name in FASHION_TEACHERS:
        path = _fashion_teacher(Path(args.cache), name)
        accuracy[str(path)] = float((load_teacher(str(path)).logits(test).argmax(1) == test.labels).mean())
    best, other = sorted(accuracy, key=lambda ref: -accuracy[ref])
    print("teachers on the official test split: " + ", ".join(f"{Path(r).name} {100 * a:.2f}%" for r, a in accuracy.items()))
    pair = [{"teacher": best, "weight": 0.5}, {"teacher": other, "weight": 0.5}]
    runs = {f"best teacher alone ({Path(best).name})": {"teacher": best},
            f"other teacher alone ({Path(other).name})": {"teacher": other},
            "ensemble (weighted_ensemble)": {"teacher": best, "ensemble": {"members": pair}},
            "ensemble (confidence)": {"teacher": best, "ensemble": {"members": pair, "fusion": "confidence"}}}
    rows = []
    for name, fields in runs.items():
        reports = [_distil(scratch / f"{name}-{seed}", seed=seed, **_fashion_common(args), **fields)
                   for seed in range(args.seeds)]
        rows.append(_summary(name, reports, lambda rs: {"teacher accuracy %": round(
            100 * statistics.mean(r["teacher"]["accuracy"] for r in rs), 2)}))
    return rows


def progressive_fashion(args, scratch: Path) -> list[dict]:
    """A Fashion-MNIST CNN teacher (420k parameters) and a student of two blocks of 4 and 8 channels and
    no hidden dense layer (4,278 parameters, 98.6x smaller; the memory limit is what rules out the same
    blocks with a dense layer of 32, 13,254 parameters): the teacher-assistant chain against direct
    distillation."""
    teacher = str(_fashion_teacher(Path(args.cache)))
    fixed = {"layer_count": 2, "hidden_size": 4, "max_memory_bytes": 100_000}
    rows = []
    for name, strategies in (("direct (basic)", []), ("progressive (teacher assistant)", ["progressive"])):
        reports = [_distil(scratch / f"{name}-{seed}", teacher=teacher, seed=seed, strategies=strategies,
                           **_fashion_common(args), **fixed) for seed in range(args.seeds)]
        rows.append(_summary(name, reports, lambda rs: {"assistant": "/".join(sorted({
            f"{r['training']['progressive']['assistant_params']:,}" for r in rs if r["training"].get("progressive")}))}))
    return rows


def adversarial(args, scratch: Path) -> list[dict]:
    teacher = str(_fashion_teacher(Path(args.cache)))
    rows = []
    common = {"teacher": teacher, **_fashion_common(args)}
    for name, fields in (("basic", {"attack_eval": True}), ("adversarial", {"strategies": ["adversarial"]})):
        reports = [_distil(scratch / f"{name}-{seed}", seed=seed, **common, **fields) for seed in range(args.seeds)]
        rows.append(_summary(name, reports, lambda rs: {
            "PGD-10 accuracy %": round(100 * statistics.mean(r["student"]["under_attack"]["accuracy"] for r in rs), 2),
            "epsilon": rs[0]["student"]["under_attack"]["epsilon"],
            "teacher accuracy %": round(100 * statistics.mean(r["teacher"]["accuracy"] for r in rs), 2)}))
    return rows


def _digits_files(cache: Path) -> tuple[Path, Path, Path]:
    """digits as a CSV (so a job splits it by its seed, as an update's replay does), digits moved two
    pixels right (the new domain) and a teacher of the moved digits, trained by the catalog's code on
    the moved rows of digits-mlp's training rows."""
    import numpy as np

    from prsm.engine.catalog.training import seed_everything, teacher_split, train_classifier
    from prsm.engine.training.threads import threads
    from prsm.engine.data.builtin import load_builtin
    from prsm.engine.zoo import FORMAT, build_model, save_zoo_model

    cache.mkdir(parents=True, exist_ok=True)
    usual, moved_csv, teacher = cache / "digits.csv", cache / "digits-moved.csv", cache / "digits-moved-mlp"
    data = load_builtin("digits")
    images = data.features.reshape(-1, 8, 8)
    moved = np.zeros_like(images)
    moved[:, :, 2:] = images[:, :, :-2]
    moved = moved.reshape(-1, 64)
    for path, features in ((usual, data.features), (moved_csv, moved)):
        if not path.is_file():
            lines = [",".join(data.feature_names + ["label"])]
            lines += [",".join(f"{v:g}" for v in row) + f",{data.classes[y]}" for row, y in zip(features, data.labels)]
            path.write_text("\n".join(lines) + "\n")
    if not (teacher / "architecture.json").is_file():
        generator = seed_everything(11)
        train_rows, _, _ = teacher_split(data)
        architecture = {"format": FORMAT, "kind": "mlp", "task": "tabular", "classes": list(data.classes),
                        "config": {"input_dim": 64, "hidden": [512, 256], "dropout": 0.1,
                                   "mean": moved[train_rows].mean(0).tolist(), "std": np.where(
                                       moved[train_rows].std(0) > 1e-6, moved[train_rows].std(0), 1.0).tolist()}}
        model = build_model(architecture)
        with threads(1):
            train_classifier(model, moved[train_rows].astype("float32"), data.labels[train_rows], epochs=60, batch_size=64,
                             lr=1e-3, weight_decay=1e-4, generator=generator, progress=_quiet)
        save_zoo_model(model, architecture, teacher)
    return usual, moved_csv, teacher


def incremental(args, scratch: Path) -> list[dict]:
    """An update that learns moved digits with a replay of the usual ones, against a model distilled on
    both from the start (the same design), and an update without the replay."""
    from prsm.engine.catalog import catalog_build

    catalog_build("digits-mlp")
    usual, moved, moved_teacher = _digits_files(Path(args.cache) / "digits-update")
    rows = {"update with replay": [], "update without replay": [], "both from the start": []}
    for seed in range(args.seeds):
        base_out = scratch / f"base-{seed}"
        base = _distil(base_out, teacher="catalog:digits-mlp", data=str(usual), seed=seed)
        hidden = base["student"]["architecture"]["config"]["hidden"]
        members = [{"teacher": str(moved_teacher), "weight": 0.5, "domain": "new"},
                   {"teacher": str(base_out / "model"), "weight": 0.5, "domain": "existing"}]
        rows["update with replay"].append(_distil(
            scratch / f"update-{seed}", teacher=str(moved_teacher), data=str(moved), replay_data=str(usual), seed=seed,
            student_from=str(base_out / "model"), ensemble={"members": members, "fusion": "domain_routing"}))
        rows["update without replay"].append(_no_replay(scratch / f"plain-{seed}", moved_teacher, moved, usual, base_out,
                                                        seed))
        both = [{"teacher": str(moved_teacher), "weight": 0.5, "domain": "new"},
                {"teacher": "catalog:digits-mlp", "weight": 0.5, "domain": "existing"}]
        rows["both from the start"].append(_distil(
            scratch / f"joint-{seed}", teacher=str(moved_teacher), data=str(moved), replay_data=str(usual), seed=seed,
            ensemble={"members": both, "fusion": "domain_routing"}, layer_count=len(hidden), hidden_size=hidden[0]))
    out = []
    for name, reports in rows.items():
        out.append(_summary(name, reports, lambda rs: _domains(rs)))
    return out


def adaptation(args, scratch: Path) -> list[dict]:
    """A digits student adapted to moved digits: the source teaches on 100 labelled rows of the new
    domain and the unlabelled rest of its training rows, and the student starts as a copy of the
    source; against the source itself on the new domain's test rows."""
    from prsm.engine.catalog import catalog_build
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split

    catalog_build("digits-mlp")
    usual, moved, _ = _digits_files(Path(args.cache) / "digits-update")
    reports = []
    for seed in range(args.seeds):
        base_out = scratch / f"source-{seed}"
        _distil(base_out, teacher="catalog:digits-mlp", data=str(usual), seed=seed)
        train = stratified_split(load_data(str(moved)), seed).train  # no test row in the corpus
        corpus = scratch / f"corpus-{seed}.csv"
        corpus.write_text(",".join(train.feature_names) + "\n" + "".join(
            ",".join(f"{v:g}" for v in row) + "\n" for row in train.features))
        reports.append(_distil(scratch / f"adapted-{seed}", teacher=str(base_out / "model"), data=str(moved),
                               student_from=str(base_out / "model"), unlabelled_data=str(corpus), seed=seed,
                               max_train_examples=100))
    mean = statistics.mean
    return [{"run": "source, unadapted", "seeds": len(reports),
             "moved digits accuracy %": round(100 * mean(r["update"]["before_accuracy"] for r in reports), 2)},
            {"run": "adapted (100 labelled rows + the unlabelled training rows)", "seeds": len(reports),
             "moved digits accuracy %": round(100 * mean(r["update"]["after_accuracy"] for r in reports), 2),
             "per seed": " ".join(f"{100 * r['update']['after_accuracy']:.2f}" for r in reports),
             "train s": round(mean(r["stages"]["train"]["seconds"] for r in reports), 1)}]


def adaptation_text(args, scratch: Path) -> list[dict]:
    """The catalog's movie-review sentiment teacher (MiniLM) adapted to Amazon product-review sentences
    (review-snippets' Amazon part): ``--text-labelled`` labelled sentences and the unlabelled rest of
    the training sentences, the source teaching and the student starting as a copy of it; against the
    source itself on the domain's held-out labelled sentences."""
    import csv

    from prsm.engine.catalog import catalog_build
    from prsm.engine.data.builtin import load_builtin
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split

    catalog_build("sentiment-minilm")
    snippets = load_builtin("review-snippets")
    parts = snippets.meta["parts"]
    first = parts["tweets"]
    rows = range(first, first + parts["amazonReviewSnippets"])
    domain = Path(args.cache) / "amazon-sentences.csv"
    domain.parent.mkdir(parents=True, exist_ok=True)
    with domain.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([snippets.texts[i], snippets.classes[snippets.labels[i]]] for i in rows)
    reports = []
    for seed in range(args.seeds):
        train = stratified_split(load_data(str(domain)), seed).train  # no test sentence in the corpus
        corpus = scratch / f"corpus-{seed}.txt"
        corpus.parent.mkdir(parents=True, exist_ok=True)
        corpus.write_text("".join(" ".join(text.split()) + "\n" for text in train.texts))
        lighter = {"search": args.text_search, "max_unlabelled_examples": args.text_unlabelled,
                   "epochs": args.text_epochs}
        reports.append(_distil(scratch / f"adapted-{seed}", teacher="catalog:sentiment-minilm", data=str(domain),
                               student_from="catalog:sentiment-minilm", unlabelled_data=str(corpus), seed=seed,
                               max_train_examples=args.text_labelled, exports=["onnx"],
                               **{k: v for k, v in lighter.items() if v is not None}))
    mean = statistics.mean
    return [{"run": "source (sentiment-minilm, movie reviews), unadapted", "seeds": len(reports),
             "Amazon sentences accuracy %": round(100 * mean(r["update"]["before_accuracy"] for r in reports), 2),
             "per seed": " ".join(f"{100 * r['update']['before_accuracy']:.2f}" for r in reports)},
            {"run": f"adapted ({args.text_labelled} labelled + the unlabelled training sentences)", "seeds": len(reports),
             "Amazon sentences accuracy %": round(100 * mean(r["update"]["after_accuracy"] for r in reports), 2),
             "per seed": " ".join(f"{100 * r['update']['after_accuracy']:.2f}" for r in reports),
             "train s": round(mean(r["stages"]["train"]["seconds"] for r in reports), 1),
             "run s": round(mean(r["wall_s"] for r in reports), 1)}]


def _no_replay(out: Path, moved_teacher: Path, moved: Path, usual: Path, base_out: Path, seed: int) -> dict:
    """The update without a replay: the moved rows alone; the usual digits' test rows measured after."""
    import numpy as np

    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.teachers import load_teacher

    report = _distil(out, teacher=str(moved_teacher), data=str(moved), seed=seed, student_from=str(base_out / "model"))
    test = stratified_split(load_data(str(usual)), seed).test  # the rows the base job held out
    before = load_teacher(str(base_out / "model")).logits(test).argmax(1)
    after = load_teacher(str(out / "model")).logits(test).argmax(1)
    labels = np.asarray(test.labels)
    report["update"]["by_domain"] = {
        "existing": {"before_accuracy": float((before == labels).mean()), "student_accuracy": float((after == labels).mean())},
        "new": {"before_accuracy": report["update"]["before_accuracy"], "student_accuracy": report["update"]["after_accuracy"]}}
    return report


def _domains(reports: list[dict]) -> dict:
    mean = statistics.mean

    def figure(domain, key):
        values = [r["update"]["by_domain"][domain].get(key) for r in reports]
        return round(100 * mean(values), 2) if all(v is not None for v in values) else ""

    return {"usual digits before %": figure("existing", "before_accuracy"),
            "usual digits after %": figure("existing", "student_accuracy"),
            "moved digits before %": figure("new", "before_accuracy"),
            "moved digits after %": figure("new", "student_accuracy")}


BENCHES = {"ensemble": ensemble, "ensemble-fashion": ensemble_fashion, "progressive": progressive,
           "progressive-fashion": progressive_fashion, "curriculum": curriculum, "adversarial": adversarial,
           "incremental": incremental, "adaptation": adaptation, "adaptation-text": adaptation_text}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", nargs="?", default="all", choices=[*BENCHES, "all"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--text-labelled", type=int, default=300,
                   help="adaptation-text: labelled sentences of the new domain the adaptation learns from")
    p.add_argument("--text-search", choices=["off", "quick", "thorough"],
                   help="adaptation-text: the search (default the engine's, quick: each trial of the 22.7M-parameter "
                        "copy takes minutes on 2 cores)")
    p.add_argument("--text-unlabelled", type=int, help="adaptation-text: at most this many unlabelled sentences")
    p.add_argument("--text-epochs", type=int, help="adaptation-text: epochs (default the engine's)")
    p.add_argument("--fashion-rows", type=int, default=6000, help="adversarial: training rows of Fashion-MNIST")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/prsm/bench-teachers"),
                   help="where the teachers trained here are kept between runs")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    chosen = list(BENCHES) if args.which == "all" else [args.which]
    lighter = ", ".join(f"{k}={v}" for k, v in (("search", args.text_search), ("unlabelled", args.text_unlabelled),
                                                 ("epochs", args.text_epochs)) if v is not None)
    print_machine(f"advanced strategies: {', '.join(chosen)}; {args.seeds} seeds; engine defaults (search quick)"
                  + (f"; adaptation-text with {lighter}" if lighter else ""))
    results = {}
    with tempfile.TemporaryDirectory(prefix="prsm-strategies-") as scratch:
        for name in chosen:
            rows = BENCHES[name](args, Path(scratch) / name)
            basic = rows[0]
            for row in rows[1:] if "accuracy %" in basic else []:
                row["vs first row, points"] = round(row["accuracy %"] - basic["accuracy %"], 2)
                row["train cost vs first row"] = round(row["train s"] / max(basic["train s"], 1e-9), 2)
            print(f"\n== {name}")
            print(table(rows))
            results[name] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
