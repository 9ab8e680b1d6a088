"""Stages before training: data, teacher, split, teacher evaluation, student design."""

from __future__ import annotations

import hashlib
import json
from typing import Callable

import numpy as np

from ..backends import formats_of, get_backend, select_backend, strategy_refused
from ..data.loaders import load_data as load_data_ref
from ..data.splits import split_by_parts, split_with_test_rows, stratified_split
from ..data.types import TaskData, sha256_of_bytes
from ..data.unlabelled import UNLABELLED, concat, load_unlabelled, text_variants
from ..errors import BadInput
from ..formats import TENSORFLOW_FORMATS
from ..evaluation.metrics import quality
from ..run import Run
from ..safety_versions import require_safe_versions
from ..students.design import Candidate, DesignRequest, choose
from ..students.search import SEARCH_TEXT_VARIANTS, SEARCH_TRANSFER, search_transfer_rows
from ..teachers import align_classes
from ..teachers import load_teacher as load_teacher_ref
from .safety import before_training, unlabelled_checks


def load_data(run: Run) -> None:
    require_safe_versions()
    ref = run.config.data or _catalog_default_data(run.config.teacher)
    run.data = load_data_ref(ref, run.config.task)
    run.reporter.log(f"{len(run.data)} {run.data.task} examples, {run.data.num_classes} classes from {ref}")
    if run.config.replay_data is not None:
        replay = load_data_ref(run.config.replay_data, run.data.task)
        run.data = with_replay(run.data, replay, run.config.replay_domain, run.config.new_domain)
        run.reporter.log(f"{len(replay)} rows of {run.config.replay_data} replayed beside them")


def with_replay(new: TaskData, old: TaskData, old_domain: str, new_domain: str) -> TaskData:
    """The replay's rows, then the new rows, in one data set: each row's domain says which it is,
    and ``meta["parts"]`` where each lies (the split splits each part on its own)."""
    if old.task != new.task:
        raise BadInput(f"replay_data holds {old.task} data and data {new.task}; an update keeps one kind of data")
    if old.task == "tabular" and list(old.feature_names or []) != list(new.feature_names or []):
        raise BadInput("replay_data: its feature columns differ from data's; an update keeps the same features")
    if old.task == "image" and old.images.shape[1:] != new.images.shape[1:]:
        raise BadInput(f"replay_data: its images are {old.images.shape[1:]}, data's {new.images.shape[1:]}")
    classes = sorted(set(old.classes) | set(new.classes))
    relabel = {name: i for i, name in enumerate(classes)}
    labels = np.concatenate([[relabel[old.classes[y]] for y in old.labels], [relabel[new.classes[y]] for y in new.labels]])

    def join(a, b):
        return None if a is None else (list(a) + list(b) if isinstance(a, list) else np.concatenate([a, b]))

    n_old = len(old)
    return TaskData(task=new.task, classes=classes, labels=labels.astype(np.int64), texts=join(old.texts, new.texts),
                    images=join(old.images, new.images), features=join(old.features, new.features),
                    feature_names=new.feature_names, source=f"{new.source} + a replay of {old.source}",
                    sha256=sha256_of_bytes(old.sha256.encode(), new.sha256.encode()),
                    meta={"parts": {"replay": (0, n_old), "data": (n_old, n_old + len(new))}},
                    domains=[old_domain] * n_old + [new_domain] * len(new))


def _catalog_default_data(teacher: str) -> str:
    """A catalog teacher defaults to the data it was built on (CONTRACT); anything else needs data."""
    if teacher.startswith("catalog:"):
        try:
            from ..catalog import default_data
        except ImportError:
            default_data = None
        if default_data is not None:
            return default_data(teacher)
    raise BadInput("no data given (--data): a builtin:NAME, a CSV/JSONL file, or an image folder or zip")


def load_teacher(run: Run) -> None:
    if run.config.ensemble is not None:
        from ..teachers.ensemble import load_ensemble

        run.teacher = load_ensemble(run.config, lambda ref: load_teacher_ref(ref, run.config.max_length))
        run.teacher.check(run.data)
        run.data = run.teacher.align_data(run.data)
        run.reporter.log(f"{len(run.teacher.members)} teachers fused by {run.teacher.fusion}; the student is designed "
                         f"from {run.teacher.primary.ref}")
    else:
        run.teacher = load_teacher_ref(run.config.teacher, run.config.max_length, http=_http_options(run))
        run.teacher.check(run.data)
        run.data = align_classes(run.data, run.teacher)
    before_training(run)
    run.specialty_data = [_specialty_rows(run, check) for check in run.config.specialty_checks]
    run.teacher_describe = run.teacher.describe()
    name = select_backend(run.config.backend, run.data.task, run.design_teacher.kind, run.config.exports,
                          run.config.target_hardware)
    run.backend = get_backend(name)
    if refused := strategy_refused(name, run.config.strategies, run.data.task):
        raise BadInput(refused[1])
    offered = formats_of(name)
    unknown = [f for f in run.config.exports or [] if f not in offered]
    if unknown:  # refused now, not after the training
        why = (": transformers 5 has no TensorFlow classes and no conversion of a transformer to TFLite verifies here"
               if unknown[0] in TENSORFLOW_FORMATS else "")
        raise BadInput(f"export format {unknown[0]!r} is not available for {name} students{why} ({', '.join(offered)})")


def _specialty_rows(run: Run, check) -> TaskData | None:
    """A specialty check's data set, loaded and put in the job's class order now, so that a bad one is
    refused before training; None: the check reads the job's test split."""
    if check.data is None:
        if check.class_name is not None and check.class_name not in run.data.classes:
            raise BadInput(f"specialty_requirements: {check.name} names the class {check.class_name!r}, which is not "
                           f"one of {', '.join(run.data.classes)}")
        return None
    rows = load_data_ref(check.data, run.data.task)
    unknown = [name for name in rows.classes if name not in run.data.classes]
    if unknown:
        raise BadInput(f"specialty_requirements: {check.data} has the label {unknown[0]!r}, which the job's data does "
                       f"not ({', '.join(run.data.classes)})")
    if check.class_name is not None and check.class_name not in rows.classes:
        raise BadInput(f"specialty_requirements: {check.data} has no row of the class {check.class_name!r}")
    position = np.array([run.data.classes.index(name) for name in rows.classes])
    aligned = rows.subset(np.arange(len(rows)))
    aligned.classes, aligned.labels = list(run.data.classes), position[rows.labels]
    return aligned


def _http_options(run: Run):
    """A teacher over HTTP: the config's limits, the PII policy (refuse unless redact_pii) and the run's cache."""
    from ..teachers.http import HttpOptions, is_http_ref

    if not is_http_ref(run.config.teacher):
        return None
    if run.config.student_base is None:
        raise BadInput(f"{run.config.teacher}: a teacher over HTTP has no layers or tokenizer to cut a student from: "
                       "give student_base (builtin:all-minilm-l6-v2 or a Hugging Face directory)")
    policy = "redact" if run.config.checks.redact_pii else "refuse"
    return HttpOptions(config=run.config.teacher_http, pii_policy=policy, cache_dir=run.out / "cache")


def split(run: Run) -> None:
    """Stratified from the seed; but where the teacher was trained on part of this very data (a
    catalog teacher on its default data), the test split is the teacher's held-out rows, so the
    teacher's accuracy is not measured on examples it learned."""
    c = run.config
    test_rows, why = _fixed_test_rows(run)
    if "parts" in run.data.meta:
        run.split = split_by_parts(run.data, run.data.meta["parts"], c.seed, c.validation_fraction, c.test_fraction,
                                   c.max_train_examples)
        why = f"the replay and the new rows each stratified, seed {c.seed}"
    elif test_rows is not None:
        run.split = split_with_test_rows(run.data, test_rows, c.seed, c.validation_fraction, c.max_train_examples)
    else:
        run.split = stratified_split(run.data, c.seed, c.validation_fraction, c.test_fraction, c.max_train_examples)
    run.split_rule = why
    run.reporter.log(f"split {run.split.sizes()} ({why})")
    if hasattr(run.teacher, "calibrate"):  # an ensemble's temperatures, before any of its outputs are fused
        run.teacher.calibrate(run.split.validation)
    run.unlabelled = _unlabelled_rows(run)
    if run.unlabelled is not None:
        run.reporter.log(f"{len(run.unlabelled)} unlabelled examples ({run.unlabelled.source}) for the teacher to label")
        unlabelled_checks(run)


def _unlabelled_rows(run: Run) -> TaskData | None:
    """The transfer set: ``unlabelled_data``, then ``text_variants`` new versions of each training text."""
    c, train = run.config, run.split.train
    rows = load_unlabelled(c.unlabelled_data, train, c.max_unlabelled_examples) if c.unlabelled_data \
        else _search_transfer_set(run)
    copies = c.text_variants or _search_variants(run)
    if copies:
        tokenizer = getattr(run.teacher, "tokenizer", None)
        if train.task != "text" or tokenizer is None:
            raise BadInput(f"text_variants makes new versions of texts; the data is {train.task}")
        mask = tokenizer.mask_token or tokenizer.unk_token
        texts = text_variants(list(train.texts), copies, c.seed, mask)
        made = " (made for the search to try)" if run.search_made_rows else ""
        variants = TaskData(task="text", classes=list(train.classes), labels=np.full(len(texts), UNLABELLED),
                            texts=texts, source=f"{copies} variants of each training text (masked words, spans){made}",
                            sha256=sha256_of_bytes("\0".join(texts).encode()))
        if rows is None:
            rows = variants
        else:
            first = rows.source if c.unlabelled_data is None else c.unlabelled_data
            rows = concat(rows, variants)
            rows.source = f"{first} + {variants.source}"
    return rows


def _search_transfer_set(run: Run) -> TaskData | None:
    """The built-in English sentences the search offers as a transfer set where the request asks
    for no unlabelled rows of its own (``SEARCH_TRANSFER``: the teacher labels them once; the trials say whether they help),
    without any text of the job's own data; none when the search is off, for a teacher over HTTP
    (every text sent costs the user), or when the sentences are not on this machine (nothing is
    fetched for it)."""
    from ..checks.pii import scan
    from ..data.builtin import BuiltinSourceMissing, vader_sdist_path

    c, split = run.config, run.split
    ref, most = SEARCH_TRANSFER[0], search_transfer_rows(len(split.train))
    if not _search_makes_rows(run) or c.text_variants or c.data == ref:  # the request chose its own rows
        return None
    try:
        vader_sdist_path(fetch=False)
    except BuiltinSourceMissing:
        run.reporter.log(f"the search's transfer set {ref} is not on this machine: the search tries none")
        return None
    rows = load_unlabelled(ref, split.train)
    own = set(run.data.texts)  # every row of the job's data, whichever split it went to
    # and none with personal data in it (a handful of tweets), which the checks would hold against the job
    keep = np.array([i for i, text in enumerate(rows.texts) if text not in own and not scan([text])["texts_with_pii"]],
                    dtype=np.int64)
    if not len(keep):
        return None
    keep = np.sort(np.random.default_rng([c.seed, 23]).permutation(keep)[:most])
    rows = rows.subset(keep)
    rows.sha256 = sha256_of_bytes("\0".join(rows.texts).encode())
    rows.source = f"{ref} ({len(rows):,} English sentences: tweets, product reviews, editorials; a transfer set the search tries)"
    run.search_made_rows = True
    return rows


def _search_makes_rows(run: Run) -> bool:
    c, train = run.config, run.split.train
    return not (c.search == "off" or c.alpha == 0 or train.task != "text" or getattr(run.teacher, "runtime", "") == "http"
                or getattr(run.teacher, "tokenizer", None) is None)


def _search_variants(run: Run) -> int:
    """Variants the search makes of each training text where the request asks none, so that its
    trials can tell whether the teacher's outputs on them help (Tang et al. 2019); none for a
    teacher over HTTP, where every text sent costs the user."""
    if not _search_makes_rows(run):
        return 0
    run.search_made_rows = True
    return SEARCH_TEXT_VARIANTS


def _fixed_test_rows(run: Run) -> tuple[np.ndarray | None, str]:
    ref, data_ref = run.config.teacher, run.config.data
    if ref.startswith("catalog:"):
        from ..catalog import default_data, heldout_indices

        if data_ref is None or data_ref == default_data(ref):
            return np.asarray(heldout_indices(ref)), f"test = the rows {ref} never trained on"
    splits = run.data.meta.get("splits") or {}
    if "test" in splits:
        return np.arange(*splits["test"]), "test = the data set's official test split"
    return None, f"stratified, seed {run.config.seed}"


def teacher_eval(run: Run) -> None:
    test = run.split.test
    ensemble = hasattr(run.teacher, "evaluate_members")  # its teachers' own figures, from the same pass
    run.teacher_test_logits = run.teacher.evaluate_members(test) if ensemble else run.teacher.logits(test)
    run.teacher_quality = quality(run.teacher_test_logits, test.labels, test.num_classes)
    run.reporter.metric({"teacher_accuracy": run.teacher_quality["accuracy"]})
    if ensemble:
        summary = run.teacher.summary
        run.reporter.log("teachers on the test split: " + ", ".join(f"{m['ref']} {m['accuracy']:.4f}"
                                                                    for m in summary["members"])
                         + f"; the ensemble {summary['accuracy']:.4f}")


def design(run: Run) -> None:
    """Candidates measured on this CPU; the choice is stored so a resumed run keeps it."""
    path = run.state_dir / "design.json"
    key = run.fingerprint()
    saved = json.loads(path.read_text()) if path.is_file() else None
    if saved is not None and saved.get("fingerprint") == key:
        run.design = saved["design"]
    else:
        run.design = _design(run) | {"fingerprint": key}
        run.state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fingerprint": key, "design": run.design}, indent=2))
    run.chosen = next(c for c in run.design["candidates"] if c["name"] == run.design["chosen"])
    run.reporter.log(f"student {run.chosen['name']}: {run.chosen['params']:,} params")


def design_request(c) -> DesignRequest:
    return DesignRequest(target_size=c.target_size, optimization_target=c.optimization_target,
                         max_latency_ms=c.max_inference_latency_ms, max_memory_bytes=c.max_memory_bytes,
                         layer_count=c.layer_count, hidden_size=c.hidden_size, attention_heads=c.attention_heads)


def measurer(run: Run) -> Callable[[Candidate], None]:
    """How this job measures a design: as its backend runs it here or, for ``target_hardware``
    mobile, as its int8 TFLite file on one thread, since the limits are to hold on the phone."""
    if "mobile" in run.config.target_hardware:
        return lambda candidate: run.backend.measure_mobile(candidate, run.design_teacher, run.split.train)
    return lambda candidate: run.backend.measure(candidate, run.design_teacher, run.split.train)


def _design(run: Run) -> dict:
    c = run.config
    request = design_request(c)
    if c.student_from is not None:
        return _copy_design(run, request)
    candidates = run.backend.candidates(run.design_teacher, run.split.train, base=c.student_base,
                                        vocabulary_size=c.vocabulary_size)
    total = max(1, len(candidates))
    measured = [0]

    measure_one = measurer(run)

    def measure(candidate: Candidate) -> None:
        measure_one(candidate)
        measured[0] += 1
        run.reporter.progress(measured[0] / total, message=f"measuring {candidate.name}")

    _, record = choose(candidates, request, design_params(run), measure)
    return record


def design_params(run: Run) -> int:
    """The teacher parameters the student's size budget is cut from (an ensemble's primary's)."""
    return int(run.teacher_describe.get("design_params", run.teacher_describe["params"]))


def _copy_design(run: Run, request: DesignRequest) -> dict:
    """``student_from``: the one design is the model's own; the latency and memory limits still hold."""
    from dataclasses import asdict

    from ..students.design import screen

    candidate = run.backend.copy_candidate(run.config.student_from, run.split.train)
    if not screen([candidate], request, candidate.params, measurer(run)):
        raise BadInput(f"student_from: {run.config.student_from} does not meet the request: {'; '.join(candidate.reasons)}")
    candidate.reasons.append(f"the student starts as a copy of {run.config.student_from} and keeps its architecture")
    return {"param_budget": candidate.params, "size_ratio": None, "request": asdict(request), "chosen": candidate.name,
            "candidates": [candidate.summary()], "copied_from": run.config.student_from}


def teacher_logits_key(run: Run, part: str, rows: TaskData | None = None) -> str:
    rows = rows if rows is not None else getattr(run.split, part)
    digest = hashlib.sha256(run.teacher.ref.encode() + rows.sha256.encode() + np.ascontiguousarray(rows.labels).tobytes())
    digest.update(json.dumps([run.config.seed, run.config.validation_fraction, run.config.test_fraction,
                              run.config.max_train_examples, run.config.max_length, len(rows)]).encode())
    return digest.hexdigest()
