"""A student that starts from a model the user already has: an incremental update that learns a new
domain while a replay keeps the old one (with the old model teaching its own task), domain
adaptation of a model to a shifted domain, and the request's named specialty checks.

The new domain is digits moved two pixels to the right: a model trained on the usual digits gets
four in five of them wrong, so what an update learns and what it forgets both show."""

from __future__ import annotations

import numpy as np
import pytest

from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation
from tests.engine.conftest import digits_task_data, train_mlp, write_tabular_csv

FAST = {"search": "off", "exports": ["safetensors"], "max_train_examples": 500}


@pytest.fixture(scope="module")
def negative_csv(tmp_path_factory):
    """Digits moved two pixels right (the 8x8 image's first two columns blank)."""
    data = digits_task_data()
    images = data.features.astype(int).reshape(-1, 8, 8)
    moved = np.zeros_like(images)
    moved[:, :, 2:] = images[:, :, :-2]
    return write_tabular_csv(tmp_path_factory.mktemp("moved") / "moved.csv", moved.reshape(-1, 64), data.labels,
                             data.feature_names)


@pytest.fixture(scope="module")
def negative_teacher(tmp_path_factory, negative_csv):
    """A teacher of the moved digits, trained on the rows a seed-0 job trains on."""
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.zoo import save_zoo_model

    train = stratified_split(load_data(str(negative_csv)), seed=0).train
    model, architecture = train_mlp(train.features, train.labels, train.classes, [256, 256])
    return save_zoo_model(model, architecture, tmp_path_factory.mktemp("teachers") / "moved-mlp")


@pytest.fixture(scope="module")
def base_model(tmp_path_factory, digits_teacher, digits_csv):
    """The model the user has: a finished job's student on the usual digits (its model/ export)."""
    out = tmp_path_factory.mktemp("base")
    run_distillation(DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), **FAST), out)
    return out / "model"


def test_an_incremental_update_learns_the_new_domain_and_keeps_the_old(tmp_path, base_model, negative_teacher,
                                                                       negative_csv, digits_csv):
    members = [{"teacher": str(base_model), "weight": 0.5, "domain": "existing"},
               {"teacher": str(negative_teacher), "weight": 0.5, "domain": "new"}]
    config = DistillConfig(teacher=str(negative_teacher), data=str(negative_csv), replay_data=str(digits_csv),
                           student_from=str(base_model), ensemble={"members": members, "fusion": "domain_routing"}, **FAST)
    report = run_distillation(config, tmp_path / "update")

    update = report["update"]
    old, new = update["by_domain"]["existing"], update["by_domain"]["new"]
    assert new["before_accuracy"] < 0.5 < 0.85 < new["student_accuracy"]  # the new domain, learnt
    assert old["before_accuracy"] > 0.85
    assert update["forgetting"] == pytest.approx(old["before_accuracy"] - old["student_accuracy"])
    assert update["forgetting"] < 0.05  # the old task, kept
    assert report["student"]["params"] == report["design"]["param_budget"]  # the base model's own size
    assert report["student"]["initialised_from"] == {"copy_of": str(base_model)}
    assert "compression" not in report["checks"]


def test_without_a_replay_the_update_forgets_more(tmp_path, base_model, negative_teacher, negative_csv, digits_csv):
    config = DistillConfig(teacher=str(negative_teacher), data=str(negative_csv), student_from=str(base_model), **FAST)
    report = run_distillation(config, tmp_path / "no-replay")
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    usual = load_data(str(digits_csv)).subset(np.arange(0, 1797, 5))
    after = load_teacher(str(tmp_path / "no-replay" / "model")).logits(usual).argmax(1)
    before = load_teacher(str(base_model)).logits(usual).argmax(1)
    assert (before == usual.labels).mean() - (after == usual.labels).mean() > 0.1
    assert report["update"]["before_accuracy"] < report["update"]["after_accuracy"]


def test_domain_adaptation_beats_the_unadapted_source_on_the_target_domain(tmp_path, base_model, negative_csv):
    """The source teaches on the domain's unlabelled rows and a few labelled ones; the student starts
    from the source, and the search (the default) weighs the source's outputs against the labels on
    the domain's validation rows."""
    from prsm.engine.data.loaders import load_data

    corpus = tmp_path / "corpus.csv"
    rows = load_data(str(negative_csv))
    with open(corpus, "w") as handle:  # feature columns alone: no labels
        handle.write(",".join(rows.feature_names) + "\n")
        handle.writelines(",".join(f"{v:g}" for v in row) + "\n" for row in rows.features[::3])
    config = DistillConfig(teacher=str(base_model), data=str(negative_csv), unlabelled_data=str(corpus),
                           student_from=str(base_model), domain="digits moved right",
                           **{**FAST, "max_train_examples": 100, "search": "quick"})
    report = run_distillation(config, tmp_path / "adapted")
    assert report["update"]["after_accuracy"] > report["update"]["before_accuracy"] + 0.1


def test_specialty_checks_are_measured_and_a_missed_minimum_fails(tmp_path, digits_teacher, digits_csv):
    checks = [{"name": "accuracy", "minimum": 0.5}, {"name": "per_class_accuracy", "minimum": 0.999},
              {"name": "per_class_accuracy", "minimum": 0.5, "class_name": "0", "data": str(digits_csv)},
              {"name": "agreement", "minimum": 0.5}, {"name": "macro_f1", "minimum": 0.5}]
    report = run_distillation(DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), specialty_checks=checks,
                                            **FAST), tmp_path / "run")
    got = report["checks"]
    assert got["specialty_accuracy"]["passed"] and got["specialty_accuracy"]["score"] == pytest.approx(
        report["student"]["accuracy"])
    assert not got["specialty_per_class_accuracy"]["passed"]  # every class at 99.9%: not on a small student
    assert got["specialty_per_class_accuracy_3"]["passed"] and "'0'" in got["specialty_per_class_accuracy_3"]["detail"]
    assert got["specialty_agreement"]["score"] == pytest.approx(report["student"]["agreement"])
    assert "phase" not in got["specialty_accuracy"]  # a requirement, not a safety check: no breaker trip


def test_what_an_update_cannot_do_is_refused_naming_it(tmp_path, base_model, digits_teacher, digits_csv):
    with pytest.raises(ValueError, match="unknown specialty check 'recall'"):
        DistillConfig(teacher="t", specialty_checks=[{"name": "recall", "minimum": 0.5}])
    with pytest.raises(ValueError, match="keeps .*'s architecture, so layer_count"):
        DistillConfig(teacher="t", student_from=str(base_model), layer_count=2)
    three = tmp_path / "three.csv"
    three.write_text("a,label\n" + "".join(f"{i},{'xyz'[i % 3]}\n" for i in range(30)))
    with pytest.raises(BadInput, match="has the label 'x'"):
        run_distillation(DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), **FAST,
                                       specialty_checks=[{"name": "accuracy", "minimum": 0.5, "data": str(three)}]),
                         tmp_path / "bad")


def test_the_seeds_update_and_adaptation_fields_run_through_the_in_process_sdk(tmp_path, base_model, negative_teacher,
                                                                               negative_csv, digits_csv):
    import asyncio

    from prsm.distillation import DistillationOrchestrator, DistillationRequest

    run_folder = str(base_model.parent)  # a finished run, as prsm distill --out leaves it

    async def run(request):
        orchestrator = DistillationOrchestrator(work_dir=str(tmp_path / "jobs"))
        job = await orchestrator.create_distillation(request)
        status = await orchestrator.wait(job.job_id, timeout=240)
        assert status.status == "completed", status.error
        return status.report

    update = asyncio.run(run(DistillationRequest(
        base_model=run_folder, update_strategy="incremental", preserve_existing_knowledge=True,
        new_knowledge_domains=["moved digits"], teacher_model=str(negative_teacher), dataset=str(negative_csv),
        search="off", specialty_requirements={"accuracy": 0.5})))
    assert set(update["update"]["by_domain"]) == {"existing", "moved digits"}
    assert update["config"]["replay_data"] == str(digits_csv)
    assert update["config"]["student_from"] == str(base_model)
    assert update["checks"]["specialty_accuracy"]["passed"]

    adapted = asyncio.run(run(DistillationRequest(
        source_model=run_folder, adaptation_strategy="domain_transfer", target_domain="digits moved right",
        dataset=str(negative_csv), domain_corpus=str(negative_csv), search="off")))
    assert adapted["config"]["student_from"] == str(base_model) and adapted["config"]["teacher"] == str(base_model)
    assert adapted["config"]["domain"] == "digits moved right"
    assert adapted["data"]["unlabelled"]["rows"] > 0
    assert adapted["update"]["after_accuracy"] > adapted["update"]["before_accuracy"]


def test_a_text_model_is_adapted_as_a_copy_of_itself(tmp_path, tiny_bert_teacher, reviews_csv):
    """A text source (a finished run's Hugging Face export) teaches on the domain's rows, and the
    student starts as a copy of it, with its own tokenizer."""
    from prsm.planning import local_model_source, request_to_config
    from prsm.request import DistillationRequest

    source_run = tmp_path / "source"
    run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), search="off", epochs=3,
                                   target_size="large", exports=["huggingface"]), source_run)
    request = DistillationRequest(source_model=str(source_run), dataset=str(reviews_csv), domain_corpus=str(reviews_csv),
                                  adaptation_strategy="domain_transfer", target_domain="more reviews", search="off",
                                  epochs=2, target_size="large", export_formats=["onnx"])
    source = local_model_source(request.source_model)
    assert source.kind == "huggingface" and source.model == str(source_run / "huggingface")
    config = request_to_config(request, teacher=source.model, dataset=str(reviews_csv), backend="transformers",
                               epochs=2, source=source)
    assert config["student_from"] == config["teacher"] == str(source_run / "huggingface")
    report = run_distillation(config, tmp_path / "adapted")
    assert report["student"]["initialised_from"] == {"copy_of": str(source_run / "huggingface")}
    assert report["student"]["params"] == report["teacher"]["params"]
    assert report["update"]["before_accuracy"] is not None and report["exports"]["onnx"]["verified"]
    assert report["data"]["unlabelled"]["rows"] > 0 and report["config"]["domain"] == "more reviews"


def test_a_copy_that_parts_from_its_teacher_does_not_trip_the_agreement_watch(tmp_path, base_model, negative_csv):
    """Adapting with plenty of labels moves the copy far from its source's answers on the new domain
    (the source is right on a fifth of them): that is the adaptation, not a fault."""
    config = DistillConfig(teacher=str(base_model), data=str(negative_csv), student_from=str(base_model),
                           alpha=0.1, **FAST)
    report = run_distillation(config, tmp_path / "adapted")
    history = report["training"]["history"]
    assert min(h["val_agreement"] for h in history) < max(h["val_agreement"] for h in history) - 0.3
    assert report["update"]["after_accuracy"] > report["update"]["before_accuracy"] + 0.3
