"""Families and versions: a re-run of the same model (same owner, teachers and task) is its next version."""

from marketplace import selectors, services
from marketplace.catalogue import lineage_key
from marketplace.models import Listing


def test_a_rerun_with_the_same_teacher_is_the_next_version_of_the_family(make_user, listed):
    ada = make_user("ada")
    first = listed(ada, title="digits v1")
    second = listed(ada, title="digits v2", request={"epochs": 3})
    assert second.family_id == first.family_id and (first.version, second.version) == (1, 2)


def test_search_shows_each_family_by_its_newest_public_version(make_user, listed):
    ada, bob = make_user("ada"), make_user("bob")
    first = listed(ada, title="digits v1")
    second = listed(ada, title="digits v2", request={"epochs": 3})
    theirs = listed(bob, title="digits by bob")

    assert set(selectors.listing_search(q="digits")) == {second, theirs}

    services.listing_update(listing=second, user=ada, status=Listing.Status.WITHDRAWN)
    assert set(selectors.listing_search(q="digits")) == {first, theirs}  # the newest still on sale

    services.listing_update(listing=second, user=ada, status=Listing.Status.ACTIVE)
    assert set(selectors.listing_search(q="digits")) == {second, theirs}
    services.listing_suspend(listing=second, moderator=make_user("mo", moderator=True), reason="a copy")
    assert set(selectors.listing_search(q="digits")) == {first, theirs}


def test_another_owner_or_teacher_starts_a_new_family(make_user, listed, monkeypatch):
    ada, bob = make_user("ada"), make_user("bob")
    first = listed(ada)
    theirs = listed(bob)
    assert theirs.family_id != first.family_id and theirs.version == 1
    assert theirs.family.owner == bob


def test_the_lineage_is_the_sorted_teachers_the_task_and_the_domain():
    one = {"teacher_models": [{"model": "catalog:b", "weight": 1}, {"model": "catalog:a", "weight": 2}]}
    other = {"teacher_models": [{"model": "catalog:a", "weight": 1}, {"model": "catalog:b", "weight": 1}]}
    assert lineage_key(request=one, task="text") == lineage_key(request=other, task="text") == (("catalog:a", "catalog:b"), "text", "")
    assert lineage_key(request={"teacher_model": "catalog:a"}, task="text") != lineage_key(request=one, task="text")
    assert lineage_key(request=other, task="image") != lineage_key(request=other, task="text")
    assert lineage_key(request={**other, "domain": "Reviews"}, task="text") == lineage_key(request={**other, "domain": "reviews"}, task="text")
    assert lineage_key(request={**other, "domain": "reviews"}, task="text") != lineage_key(request=other, task="text")
    # an ensemble named with teacher_model and ensemble_teachers is the same lineage as with teacher_models
    listed = {"teacher_model": "catalog:b", "ensemble_teachers": ["catalog:a"]}
    assert lineage_key(request=listed, task="text") == lineage_key(request=other, task="text")
    assert lineage_key(request={"teacher_model": "catalog:b"}, task="text") != lineage_key(request=listed, task="text")
    assert lineage_key(request={"source_model": "catalog:a"}, task="text") == lineage_key(
        request={"teacher_model": "catalog:a"}, task="text")


def test_the_catalogue_facts_are_copied_when_listed(make_user, listed):
    listing = listed(make_user("ada"), title="Digits, small", domain="digits")
    assert (listing.task, listing.compression, listing.size_bytes, listing.export_formats) == ("tabular", 8.0, 10, ",onnx,")  # b"onnx-model"
    assert listing.search_document.startswith("Digits, small\nDigits, small for digits\nImage · handwritten digits\ndigits")


def test_an_incremental_update_of_a_listed_model_is_the_next_version_of_its_family(make_user, listed, completed_job):
    """The update names its base by job id; the planner reads the base job's folder (its zoo export and
    the data it trained on), and the listing of the update joins the base model's family whatever
    its teacher."""
    import shutil

    from distillation.selectors import job_out_dir
    from distillation.services import distillation_job_create
    from prsm.engine.catalog import resolve
    from prsm.request import DistillationRequest

    ada = make_user("ada")
    base_listing = listed(ada, title="digits v1")
    base_job = base_listing.deployment.job
    shutil.copytree(resolve("catalog:digits-mlp"), job_out_dir(base_job) / "model")  # its PyTorch export
    update = distillation_job_create(owner=ada, request=DistillationRequest(
        base_model=str(base_job.job_id), update_strategy="incremental", preserve_existing_knowledge=True,
        new_knowledge_domains=["scanned digits"], dataset="builtin:digits", teacher_model="catalog:digits-mlp-wide",
        domain="other words", budget_ftns=1000, epochs=2))
    config = update.engine_config
    assert config["student_from"] == str(job_out_dir(base_job) / "model")
    assert config["replay_data"] == base_job.engine_config["data"]
    assert config["ensemble"]["fusion"] == "domain_routing"
    assert {m["domain"] for m in config["ensemble"]["members"]} == {"scanned digits", "existing"}
    assert update.estimate["starts_from"] == {"ref": str(base_job.job_id), "kind": "zoo", "job_id": str(base_job.job_id)}
    from distillation.planning import plan

    alone = plan(request=DistillationRequest(base_model=str(base_job.job_id), dataset="builtin:digits"), owner=ada)
    assert alone.teachers[0]["params"] == base_job.report["student"]["params"] > 0  # the base teaches: priced by its size

    second = completed_job(ada, request=update.request)
    second.estimate = update.estimate
    second.save(update_fields=["estimate"])
    from distillation.services import job_deploy

    listing = services.listing_create(owner=ada, deployment=job_deploy(job=second), title="digits v2",
                                      description="updated", price_buy=10 * 10**6, price_rent=None)
    assert listing.family_id == base_listing.family_id and listing.version == 2


def test_an_update_of_a_job_that_is_not_yours_is_refused_naming_base_model(make_user, listed):
    import pytest

    from distillation.planning import PlanningError, plan
    from prsm.request import DistillationRequest

    ada, bob = make_user("ada"), make_user("bob")
    theirs = listed(bob).deployment.job
    with pytest.raises(PlanningError) as refused:
        plan(request=DistillationRequest(base_model=str(theirs.job_id), dataset="builtin:digits"), owner=ada)
    assert refused.value.field == "base_model" and "finished job or a deployed model of yours" in refused.value.message


def test_a_missed_specialty_requirement_stops_a_deploy_naming_it(make_user, completed_job):
    import pytest

    from core.errors import DomainError
    from distillation.services import job_deploy

    missed = {"specialty_accuracy": {"passed": False, "score": 0.71, "threshold": 0.9, "specialty": True,
                                     "detail": "accuracy on the test split (269 rows)"}}
    job = completed_job(make_user("ada"), checks=missed)
    with pytest.raises(DomainError) as refused:
        job_deploy(job=job)
    assert refused.value.field == "specialty_requirements"
    assert "accuracy was not met" in refused.value.message and "0.710" in refused.value.message
