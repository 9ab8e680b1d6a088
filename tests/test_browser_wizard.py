"""The wizard in a real browser: completed with the keyboard alone, checked by axe and at phone
width on every step, the live estimate refusing a low budget, and a bad upload refused in words."""

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once

from .browser import PASSWORD, log_in, screenshot, serious_violations, wider_than_a_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ada(catalog_home):  # noqa: F811
    return user_create(username="ada", password=PASSWORD, email="ada@example.com")


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus, as a keyboard user does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement && document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def check_page(page, name: str) -> None:
    assert serious_violations(page) == [], name
    screenshot(page, f"wizard-{name}")
    assert wider_than_a_phone(page) == [], name
    screenshot(page, f"wizard-{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 800})


def next_step(page, slug: str, button: str = "Next") -> None:
    page.get_by_role("button", name=button).click()
    page.wait_for_url(f"**/distill/{slug}/")


def test_a_person_completes_the_wizard_with_the_keyboard_alone(ada, browser_page):
    page = browser_page
    log_in(page, "ada", next_path="/distill/")
    assert page.url.endswith("/distill/teacher/")
    check_page(page, "teacher")

    tab_to(page, 'input[value="catalog:digits-mlp"]')
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_url("**/distill/data/")
    page.get_by_text("The job trains on 1,259").wait_for()
    check_page(page, "data")

    tab_to(page, 'input[name="dataset"]:checked')
    page.keyboard.press("Enter")
    page.wait_for_url("**/distill/goal/")
    check_page(page, "goal")

    tab_to(page, 'input[name="target_size"]:checked')
    page.keyboard.press("ArrowDown")  # medium
    page.keyboard.press("Enter")
    page.wait_for_url("**/distill/budget/")
    check_page(page, "budget")

    tab_to(page, "#id_budget_ftns")
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.locator("#estimate-too-low").wait_for()
    assert "needs at least" in page.locator("#estimate-too-low").inner_text()
    page.keyboard.press("Enter")
    error = page.locator("#id_budget_ftns_error")
    assert "give at least" in error.inner_text()
    assert page.locator("#id_budget_ftns").get_attribute("aria-invalid") == "true"

    tab_to(page, "#id_budget_ftns")
    page.keyboard.press("Control+A")
    page.keyboard.type("900")
    page.keyboard.press("Enter")
    page.wait_for_url("**/distill/review/")
    assert '"target_size": "medium"' in page.locator("#request-json").inner_text()
    check_page(page, "review")

    tab_to(page, "#submit-job")
    page.keyboard.press("Enter")
    page.wait_for_url("**/jobs/*/")
    job = DistillationJob.objects.get(owner=ada)
    assert str(job.job_id) in page.url
    assert job.request["target_size"] == "medium" and job.request["budget_ftns"] == 900
    # the refused budget's page answered 400 (which Chromium logs); nothing else went wrong
    assert [error for error in page.js_errors if "status of 400" not in error] == []


def test_back_and_reload_keep_what_was_entered(ada, browser_page):
    page = browser_page
    log_in(page, "ada", next_path="/distill/teacher/")
    page.get_by_role("radio", name="digits-mlp", exact=True).check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/data/")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/goal/")
    page.get_by_text("Advanced options").click()
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Phone (TFLite int8, one thread)").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/budget/")
    # the estimate names the backend a phone target trains on, and why
    assert page.locator("#estimate-backend").inner_text().startswith("Backend: tensorflow. Why: the target is mobile")

    page.go_back()
    page.reload()
    page.get_by_text("Advanced options").click()
    assert page.get_by_label("Epochs").input_value() == "3"
    assert page.get_by_label("Phone (TFLite int8, one thread)").is_checked() and page.get_by_label("CPU").is_checked()
    assert page.url.endswith("/distill/goal/") and page.get_by_role("heading", name="3. Set the goal").is_visible()
    # the TensorFlow formats are offered (they pick the TensorFlow backend), and the open options fit a phone
    assert page.get_by_label("tflite-int8", exact=True).is_visible() and page.get_by_label("savedmodel").is_visible()
    check_page(page, "goal-advanced")


def test_a_bad_upload_shows_its_refusal(ada, browser_page):
    page = browser_page
    log_in(page, "ada", next_path="/distill/teacher/")
    page.locator("#id_teacher-file").set_input_files(
        files=[{"name": "teacher.onnx", "mimeType": "application/octet-stream", "buffer": b"\x80\x04 not a model"}])
    page.locator("form[data-upload]").get_by_role("button", name="Upload").click()
    refusal = page.locator("[data-upload-error]")
    refusal.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-upload-error]').textContent.length > 0")
    assert refusal.inner_text().strip()
    screenshot(page, "wizard-upload-refused")
    assert page.url.endswith("/distill/teacher/")


def test_a_data_upload_shows_its_progress_and_becomes_the_choice_with_a_preview(ada, browser_page, tmp_path):
    rows = ["text,label"] + [f"review number {i} was {'great' if i % 2 else 'awful'},{'pos' if i % 2 else 'neg'}"
                             for i in range(40)]
    page = browser_page
    log_in(page, "ada", next_path="/distill/teacher/")
    page.get_by_role("radio", name="sentiment-minilm", exact=True).check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/data/")
    page.locator("#id_data-file").set_input_files(
        files=[{"name": "reviews.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}])
    page.locator("#id_data-name").fill("my reviews")
    page.locator("form[data-upload]").get_by_role("button", name="Upload").click()
    page.wait_for_url("**/distill/data/")
    page.get_by_text("Received my reviews: ready.").wait_for()
    assert page.get_by_label("my reviews").is_checked()
    page.get_by_text("Preview of").wait_for()
    assert "40 text examples in 2 classes" in page.locator("#preview").inner_text()
    assert serious_violations(page) == []


def test_an_ensemble_and_an_update_are_chosen_in_the_browser(ada, browser_page):
    """Several teachers on the teacher step, a training strategy and minimums on the goal step: each
    step still passes axe and fits a phone, and the review lists the teachers."""
    page = browser_page
    log_in(page, "ada", next_path="/distill/teacher/")
    page.locator('input[name="teacher_model"][value="catalog:digits-mlp"]').check()
    page.get_by_text("Several teachers (an ensemble)").click()
    page.locator('#ensemble input[name="ensemble_teachers"][value="catalog:digits-mlp-wide"]').check()
    page.locator("#id_fusion_strategy").select_option("confidence")
    check_page(page, "teacher-ensemble")
    next_step(page, "data")
    next_step(page, "goal")
    page.get_by_text("Advanced options").click()
    page.locator("#id_training_strategy").select_option("curriculum")
    page.locator("#id_minimum_accuracy").fill("0.8")
    check_page(page, "goal-strategies")
    next_step(page, "budget")
    next_step(page, "review", button="Review")
    teachers = page.locator("#review-teachers").inner_text()
    assert "catalog:digits-mlp-wide" in teachers and "One teacher fee each" in teachers
    sent = page.locator("#request-json").inner_text()
    assert '"training_strategy": "curriculum"' in sent and '"fusion_strategy": "confidence"' in sent
    assert '"specialty_requirements"' in sent
    check_page(page, "review-ensemble")


def test_a_domain_adaptation_is_chosen_in_the_browser(ada, browser_page):
    """A model to adapt on the teacher step, the domain on the data step: each passes axe and fits a
    phone, and the review says what the new model starts from."""
    page = browser_page
    log_in(page, "ada", next_path="/distill/teacher/")
    page.get_by_text("Adapt a model to new data").click()
    page.locator("#id_source_model").select_option("catalog:digits-mlp")
    check_page(page, "teacher-adapt")
    next_step(page, "data")
    page.locator('input[name="dataset"][value="builtin:digits"]').check()
    page.locator("#id_target_domain").fill("scanned digits")
    check_page(page, "data-adapt")
    next_step(page, "goal")
    next_step(page, "budget")
    next_step(page, "review", button="Review")
    assert "catalog:digits-mlp, which teaches: adapted to scanned digits" in page.locator("#review-starts-from").inner_text()
    sent = page.locator("#request-json").inner_text()
    assert '"source_model": "catalog:digits-mlp"' in sent and '"adaptation_strategy": "domain_transfer"' in sent
    assert '"teacher_model"' not in sent
    check_page(page, "review-adapt")
    page.locator("#submit-job").click()
    page.wait_for_url("**/jobs/*/")
    job = DistillationJob.objects.get(owner=ada)
    assert job.request["source_model"] == "catalog:digits-mlp" and job.engine_config["student_from"]
