"""The search for the best student in the estimate and the wizard: its short trials are priced as
more student training (the trial schedule's cost factor), the estimate says how long it takes, the
wizard offers it as an advanced option, says its time in words and writes it into the SDK, CLI and
curl snippets."""

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.planning import PlanningError, plan, search_cost_factor
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from prsm.request import DistillationRequest

pytestmark = pytest.mark.django_db

REQUEST = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 6}


def _estimate(**fields) -> dict:
    return plan(request=DistillationRequest.model_validate({**REQUEST, **fields})).estimate()


def test_a_search_costs_more_than_none_and_says_how_long_it_takes(catalog_home):  # noqa: F811
    off, quick, thorough = (_estimate(search=level) for level in ("off", "quick", "thorough"))

    assert (off["search"], quick["search"], thorough["search"]) == ("off", "quick", "thorough")
    assert off["search_s"] == 0 and 0 < quick["search_s"] < thorough["search_s"]
    assert off["compute_hours"] < quick["compute_hours"] < thorough["compute_hours"]
    assert off["cost_units"] <= quick["cost_units"] <= thorough["cost_units"]
    # the search's seconds are what it adds: the rest of the job is the same
    assert quick["duration_s"] - quick["search_s"] == pytest.approx(off["duration_s"], abs=0.2)


def test_the_search_is_priced_as_its_schedules_student_epochs(catalog_home):  # noqa: F811
    off, quick = _estimate(search="off"), _estimate(search="quick")
    student_s = 1797 * 6 * 3 * 2 * 167178 / 2e10 / 10  # digits' rows, 6 epochs, 3 passes, the teacher's size

    assert search_cost_factor("off", 6) == 0 and search_cost_factor("quick", 6) > 0
    assert quick["search_s"] == pytest.approx(student_s * search_cost_factor("quick", 6), abs=0.1)
    assert (quick["compute_hours"] - off["compute_hours"]) * 3600 == pytest.approx(quick["search_s"], abs=0.1)


def test_a_request_without_search_is_estimated_as_the_engines_default_quick(catalog_home):  # noqa: F811
    left_out = _estimate()

    assert left_out["search"] == "quick"
    assert left_out["compute_hours"] == _estimate(search="quick")["compute_hours"]


@pytest.fixture
def ada(client, catalog_home):  # noqa: F811
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    client.force_login(user)
    return user


def _walk_to_review(client, **goal):
    client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})
    client.post("/distill/data/", {"dataset": "builtin:digits", "go": "next"})
    sent = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "export_formats": ["onnx"], **goal}
    assert client.post("/distill/goal/", {**sent, "go": "next"})["Location"] == "/distill/budget/"
    assert client.post("/distill/budget/", {"budget_ftns": "500", "go": "next"})["Location"] == "/distill/review/"
    return client.get("/distill/review/").content.decode()


def test_the_goal_step_offers_the_search_as_an_advanced_select(client, ada):
    client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})
    client.post("/distill/data/", {"dataset": "builtin:digits", "go": "next"})

    page = client.get("/distill/goal/").content.decode()

    assert '<select name="search"' in page and '<option value="quick" selected>Quick (default)</option>' in page
    assert '<option value="thorough">' in page and '<option value="off">' in page
    assert "Adds time (the estimate says how much)" in page and 'name="search_seconds"' in page


def test_the_estimate_and_review_say_the_search_time_and_the_snippets_carry_it(client, ada):
    review = _walk_to_review(client, search="thorough", search_seconds="30")

    assert "of search for the best student (thorough)" in review
    assert "--search thorough --search-seconds 30.0" in review
    assert "search=&#x27;thorough&#x27;," in review and "search_seconds=30.0," in review  # the SDK's arguments
    assert "&quot;search&quot;: &quot;thorough&quot;" in review  # the JSON and curl body
    budget = client.get("/distill/budget/").content.decode()
    assert 'id="estimate-search">The estimate includes' in budget

    client.post("/distill/submit/")
    config = DistillationJob.objects.get(owner=ada).engine_config
    assert (config["search"], config["search_seconds"]) == ("thorough", 30.0)


def test_quick_is_the_default_and_is_not_sent_and_off_says_it_adds_nothing(client, ada):
    review = _walk_to_review(client, search="quick")
    assert "--search" not in review and "&quot;search&quot;" not in review
    assert "(quick)" in review

    client.get("/distill/?new=1")
    review = _walk_to_review(client, search="off")
    assert "--search off" in review and "Search off: the planner's design trains with temperature 4" in review


def test_a_time_limit_with_the_search_off_is_refused_beside_the_field(client, ada):
    client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})
    client.post("/distill/data/", {"dataset": "builtin:digits", "go": "next"})

    refused = client.post("/distill/goal/", {"target_size": "small", "optimization_target": "speed", "search": "off",
                                             "search_seconds": "30", "go": "next"})

    assert refused.status_code == 400
    body = refused.content.decode()
    assert 'id="id_search_seconds_error"' in body and "no search to limit" in body


def test_the_text_variants_the_teacher_labels_are_priced_whoever_asks_for_them():
    # a text teacher (the catalog entry's size is known without building it): the search makes two
    # variants of each text for the teacher to label, as a request's own text_variants=2 would
    text = {"teacher_model": "catalog:sentiment-minilm", "domain": "sentiment", "budget_ftns": 100_000, "epochs": 3}

    def hours(**fields) -> float:
        return plan(request=DistillationRequest.model_validate({**text, **fields})).estimate()["compute_hours"]

    off, asked, quick = hours(search="off"), hours(search="off", text_variants=2), hours(search="quick")
    assert off < asked < quick  # quick: the same variants, and the trials on top
    no_teacher = hours(search="quick", alpha=0)  # labels alone: no teacher to label variants
    assert no_teacher < quick


def test_the_transfer_set_the_search_offers_is_priced_unless_the_request_brings_its_own():
    # with no unlabelled_data, a text search has the teacher label SEARCH_TRANSFER's sentences too
    text = {"teacher_model": "catalog:sentiment-minilm", "domain": "sentiment", "budget_ftns": 100_000, "epochs": 3}

    def hours(**fields) -> float:
        return plan(request=DistillationRequest.model_validate({**text, **fields})).estimate()["compute_hours"]

    offered = hours(search="quick")
    own = hours(search="quick", unlabelled_data="builtin:movie-reviews")  # the request's own transfer set
    assert own < offered
    assert hours(search="quick", text_variants=2) < offered  # the request's own variants: nothing more
    # trained on the set itself: it is not offered again (as with the request's own transfer set)
    snippets = {"search": "quick", "dataset": "builtin:review-snippets"}
    assert hours(**snippets) == hours(**snippets, unlabelled_data="builtin:movie-reviews")


def test_the_estimate_prices_each_strategy_and_each_teacher(catalog_home):
    from distillation.planning import plan, strategy_cost_factor
    from prsm.request import DistillationRequest

    def estimate(**fields):
        return plan(request=DistillationRequest(teacher_model="catalog:digits-mlp", search="off", **fields))

    basic = estimate()
    adversarial = estimate(training_strategy="adversarial")
    progressive = estimate(training_strategy="progressive")
    assert strategy_cost_factor(["adversarial"], "small") == 5
    assert adversarial.compute_hours > basic.compute_hours and progressive.compute_hours > basic.compute_hours
    assert estimate(training_strategy="curriculum").compute_hours == basic.compute_hours
    # Keras students train with every strategy, but have no input to perturb in text
    assert estimate(training_strategy="adversarial", backend="tensorflow").compute_hours > basic.compute_hours
    with pytest.raises(PlanningError, match="tensorflow backend for text") as refused:
        plan(request=DistillationRequest(teacher_model="catalog:sentiment-minilm", backend="tensorflow",
                                         training_strategy="adversarial"))
    assert refused.value.field == "training_strategy"
    pair = plan(request=DistillationRequest(ensemble_teachers=["catalog:digits-mlp", "catalog:digits-mlp-wide"],
                                            search="off"))
    assert len(pair.cost.teacher_fees) == 2 and pair.compute_hours > basic.compute_hours
