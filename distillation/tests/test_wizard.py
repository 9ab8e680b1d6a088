"""The wizard (/distill/) through Django's test client: each step validates with DistillationRequest,
the draft survives back, forward and a reload, the estimate refuses a low budget with the amount
needed, and submit creates the same job the API would."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.tasks import teacher_analyze
from ledger import selectors as ledger_selectors

from .test_uploads_fixtures import media, onnx_teacher  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, catalog_home):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    client.force_login(user)
    return user


def _walk_to_budget(client):
    assert client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})["Location"] == "/distill/data/"
    assert client.post("/distill/data/", {"dataset": "builtin:digits", "go": "next"})["Location"] == "/distill/goal/"
    goal = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "quality_threshold": "0.5",
            "export_formats": ["onnx"], "target_architecture": "auto", "go": "next"}
    assert client.post("/distill/goal/", goal)["Location"] == "/distill/budget/"


def test_the_teacher_step_shows_catalog_cards_and_which_are_built(client, ada):
    page = client.get("/distill/teacher/").content.decode()

    assert "digits-mlp" in page and "built, ready" in page
    assert "fashion-cnn" in page and "not built on this server yet" in page
    assert "BSD-3-Clause" in page and "Intended use" in page
    # an unbuilt catalog teacher can be chosen: the job builds it first, and the estimate counts it
    assert "your job builds it first" in page
    assert client.post("/distill/teacher/", {"teacher_model": "catalog:fashion-cnn", "go": "next"}).status_code == 302


def test_a_step_refuses_what_the_request_refuses_beside_the_field(client, ada):
    _walk_to_budget(client)

    page = client.post("/distill/goal/", {"target_size": "small", "optimization_target": "speed",
                                           "max_inference_latency": "fast", "go": "next"})

    assert page.status_code == 400
    assert "is not a duration" in page.content.decode()
    assert 'aria-invalid="true"' in page.content.decode()


def test_the_draft_survives_back_forward_and_a_reload(client, ada):
    _walk_to_budget(client)

    assert client.post("/distill/budget/", {"budget_ftns": "777", "go": "back"})["Location"] == "/distill/goal/"
    goal = client.get("/distill/goal/").content.decode()
    assert 'value="2"' in goal  # the epochs entered earlier
    assert 'value="777"' in client.get("/distill/budget/").content.decode()
    assert client.get("/distill/")["Location"] == "/distill/review/"  # a return visit goes on where it stopped


def test_the_budget_step_shows_the_estimate_and_the_amount_a_low_budget_needs(client, ada):
    _walk_to_budget(client)

    page = client.get("/distill/budget/").content.decode()
    assert "Estimated cost" in page and "base fee" in page and "compute" in page

    live = client.post("/distill/estimate/", {"budget_ftns": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert "The budget is too low: this job needs at least" in live

    refused = client.post("/distill/budget/", {"budget_ftns": "1", "go": "next"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "give at least" in body and 'id="id_budget_ftns_error"' in body


def test_review_shows_the_request_as_json_sdk_cli_and_curl_and_submit_queues_the_job(client, ada):
    _walk_to_budget(client)
    assert client.post("/distill/budget/", {"budget_ftns": "500", "go": "next"})["Location"] == "/distill/review/"

    review = client.get("/distill/review/")
    assert review.status_code == 200
    sent = json.loads(_between(review.content.decode(), '<code id="request-json">', "</code>").replace("&quot;", '"'))
    assert sent == {"teacher_model": "catalog:digits-mlp", "dataset": "builtin:digits", "target_size": "small",
                    "optimization_target": "speed", "epochs": 2, "quality_threshold": 0.5, "export_formats": ["onnx"],
                    "budget_ftns": 500}
    body = review.content.decode()
    assert "DistillationOrchestrator(base_url=" in body and "prsm distill --teacher catalog:digits-mlp" in body
    assert "curl -X POST" in body

    before = ledger_selectors.wallet_balance(user=ada)
    response = client.post("/distill/submit/")
    job = DistillationJob.objects.get(owner=ada)
    assert response["Location"] == f"/jobs/{job.job_id}/"
    assert job.request["epochs"] == 2 and job.request["export_formats"] == ["onnx"]
    assert ledger_selectors.wallet_balance(user=ada) < before  # the estimate is held
    assert client.get("/distill/")["Location"] == "/distill/teacher/"  # the draft is spent


def test_run_again_with_changes_prefills_the_wizard_from_a_finished_job(client, ada):
    _walk_to_budget(client)
    client.post("/distill/budget/", {"budget_ftns": "500", "go": "next"})
    client.post("/distill/submit/")
    job = DistillationJob.objects.get(owner=ada)

    assert client.get(f"/distill/?from={job.job_id}")["Location"] == "/distill/goal/"
    assert 'value="2"' in client.get("/distill/goal/").content.decode()
    assert "500" in client.get("/distill/budget/").content.decode()

    other = user_create(username="eve", password="correct horse battery", email="eve@example.com")
    client.force_login(other)
    assert client.get(f"/distill/?from={job.job_id}").status_code == 404


def test_the_data_step_previews_rows_class_counts_splits_and_warnings(client, ada):
    client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})

    page = client.get("/distill/data/").content.decode()
    assert "Preview of builtin:digits" in page and "pixel_0_0" in page
    assert "The job trains on 1,259" in page and "Examples per class" in page

    text = client.get("/distill/preview/?dataset=builtin:review-snippets").content.decode()
    assert "Before anything runs, the data checks found" in text  # handles and links in the snippets


def test_a_bad_upload_is_refused_in_plain_words(client, ada):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("model.onnx", b"not an onnx model at all", content_type="application/octet-stream")
    response = client.post("/distill/upload/teacher/", {"teacher-file": bad}, HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_a_visitor_is_sent_to_log_in(client):
    for path in ("/distill/", "/distill/teacher/", "/distill/review/"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_the_advanced_options_reach_the_jobs_engine_config_and_their_refusals_sit_beside_their_field(client, ada):
    _walk_to_budget(client)
    goal = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "temperature": "2", "alpha": "0",
            "unlabelled_data": "builtin:wine", "go": "next"}

    refused = client.post("/distill/goal/", goal)
    assert refused.status_code == 400
    assert 'id="id_unlabelled_data_error"' in refused.content.decode() and "alpha &gt; 0" in refused.content.decode()

    assert client.post("/distill/goal/", {**goal, "alpha": "0.5"})["Location"] == "/distill/budget/"
    client.post("/distill/budget/", {"budget_ftns": "500", "go": "next"})
    review = client.get("/distill/review/").content.decode()
    assert "--temperature 2.0 --alpha 0.5" in review and "--unlabelled-data builtin:wine" in review
    client.post("/distill/submit/")
    config = DistillationJob.objects.get(owner=ada).engine_config
    assert (config["temperature"], config["alpha"], config["unlabelled_data"]) == (2.0, 0.5, "builtin:wine")


def test_a_teacher_analysis_reads_as_plain_sentences(catalog_home):
    from distillation.wizard.choices import analysis_summary
    from prsm.engine.analysis import analyze_teacher

    lines = analysis_summary(analyze_teacher("catalog:digits-mlp", "builtin:digits", max_examples=200))

    assert lines[0].startswith("3 layers, 167,178 parameters")
    assert any(line.startswith("One prediction takes about") for line in lines)
    assert any(line.startswith("Accuracy on held-out rows") for line in lines)
    assert any(line.startswith("Calibration error") for line in lines)
    assert any(line.startswith("What matters most to it: pixel_") for line in lines)


def test_the_goal_step_shows_the_planners_budget_and_what_a_job_here_measured(client, ada):
    from django.utils import timezone

    client.post("/distill/teacher/", {"teacher_model": "catalog:digits-mlp", "go": "next"})
    page = client.get("/distill/goal/").content.decode()
    assert "8,358" in page and "not yet: the job measures it" in page  # 167,178 // 20

    DistillationJob.objects.create(
        owner=ada, request={}, engine_config={"teacher": "catalog:digits-mlp", "target_size": "small"}, backend="pytorch",
        backend_reason="zoo", cost_estimate_ftns=1, status=DistillationJob.Status.COMPLETED, finished_at=timezone.now(),
        report={"retention": 0.96, "compression_ratio": 46.3, "student": {"latency_ms_p50": 0.031}})
    page = client.get("/distill/goal/").content.decode()
    assert "about 46x smaller, 0.031 ms a prediction, retention 96.0%" in page
    assert "1 completed job on catalog:digits-mlp at target size small" in page


def test_an_uploaded_teachers_card_refreshes_itself_until_its_analysis_is_in(client, ada):
    from django.utils import timezone

    from distillation.models import Teacher

    teacher = Teacher.objects.create(owner=ada, name="my onnx", sha256="0" * 64, size_bytes=10, path="uploads/x",
                                     kind=Teacher.Kind.ONNX, status=Teacher.Status.UPLOADED)
    page = client.get("/distill/teacher/").content.decode()
    card_url = f"/distill/teacher/card/{teacher.public_id}/"
    assert f'hx-get="{card_url}"' in page and "being checked and analysed by a worker" in page

    Teacher.objects.filter(pk=teacher.pk).update(
        status=Teacher.Status.READY, task="tabular", params=1000, analyzed_at=timezone.now(),
        analysis={"profile": {"params": 1000, "layers": 2, "size_bytes": 4000, "latency_ms_p50": 0.02},
                  "quality": {"accuracy": 0.9, "ece": 0.02}})
    card = client.get(card_url).content.decode()
    assert "hx-trigger" not in card  # it stops asking
    assert "2 layers, 1,000 parameters" in card and "90% on held-out rows" in card
    assert 'value="%s"' % teacher.public_id in card and "disabled" not in card

    other = user_create(username="eve", password="correct horse battery", email="eve@example.com")
    client.force_login(other)
    assert client.get(card_url).status_code == 404


def test_a_phone_target_chosen_in_the_wizard_trains_on_tensorflow_and_exports_the_int8_file(client, ada):
    _walk_to_budget(client)
    goal = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "target_hardware": ["cpu", "mobile"],
            "max_inference_latency": "2ms", "max_memory_usage": "1MiB", "go": "next"}
    refused = client.post("/distill/goal/", {**goal, "backend": "pytorch"})
    assert refused.status_code == 400 and "which the tensorflow backend does and pytorch does not" in refused.content.decode()

    assert client.post("/distill/goal/", goal)["Location"] == "/distill/budget/"
    assert "Backend: <strong>tensorflow</strong>. Why: the target is mobile" in client.get("/distill/budget/").content.decode()
    client.post("/distill/budget/", {"budget_ftns": "500", "go": "next"})
    review = client.get("/distill/review/").content.decode()
    # the limits as typed ("2ms", "1MiB") become the CLI's milliseconds and MiB
    assert "--target-hardware cpu,mobile" in review and "--max-latency-ms 2 --max-memory-mb 1" in review
    client.post("/distill/submit/")
    job = DistillationJob.objects.get(owner=ada)
    assert job.backend == "tensorflow" and "mobile" in job.backend_reason
    assert job.engine_config["target_hardware"] == ["cpu", "mobile"]
    assert job.engine_config["exports"] == ["keras", "tflite", "tflite-int8"]


def test_an_ensemble_chosen_on_the_teacher_step_is_reviewed_priced_per_teacher_and_queued(client, ada, media):
    teacher = {"teacher_model": "catalog:digits-mlp", "ensemble_teachers": ["catalog:digits-mlp", "catalog:fashion-cnn"],
               "fusion_strategy": "confidence", "go": "next"}
    page = client.post("/distill/teacher/", teacher)
    # the planner refuses teachers of different kinds of data on the teacher step, beside the field
    assert page.status_code == 400
    assert "must take the same kind of data" in page.content.decode()

    page = client.get("/distill/teacher/").content.decode()
    assert 'id="ensemble"' in page and "Teach with these too" in page
    # the catalog's digits teacher with an uploaded ONNX teacher of the same pixels and digits
    uploaded = client.post("/api/v1/teachers/", {"file": SimpleUploadedFile("linear.onnx", onnx_teacher(64, 10))})
    assert uploaded.status_code == 201, uploaded.content
    teacher_id = uploaded.json()["id"]
    teacher_analyze(teacher_id)
    teacher = {**teacher, "ensemble_teachers": [teacher_id], "knowledge_alignment": "on"}
    assert client.post("/distill/teacher/", teacher)["Location"] == "/distill/data/"
    assert client.post("/distill/data/", {"dataset": "builtin:digits", "go": "next"})["Location"] == "/distill/goal/"
    goal = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "quality_threshold": "0.5",
            "export_formats": ["onnx"], "target_architecture": "auto", "search": "off", "go": "next"}
    assert client.post("/distill/goal/", goal)["Location"] == "/distill/budget/"
    assert client.post("/distill/budget/", {"budget_ftns": "1000", "go": "next"})["Location"] == "/distill/review/"

    review = client.get("/distill/review/").content.decode()
    assert 'id="review-teachers"' in review and "One teacher fee each" in review
    assert "--fusion confidence" in review and "--knowledge-alignment" in review
    assert client.post("/distill/submit/").status_code == 302
    job = DistillationJob.objects.get()
    assert job.request["ensemble_teachers"] == [teacher_id]
    assert job.request["fusion_strategy"] == "confidence" and job.request["knowledge_alignment"] is True
    assert job.engine_config["ensemble"]["align"] is True
    assert len(job.estimate["breakdown_units"]["teacher_fees"]) == 2


def _finished_job(owner):
    """A completed PyTorch job of ``owner`` whose model/ export is the catalog's digits teacher."""
    import shutil

    from distillation.selectors import job_out_dir
    from distillation.services import distillation_job_create, job_complete, job_lease_acquire
    from prsm.engine.catalog import resolve
    from prsm.request import DistillationRequest

    base = distillation_job_create(owner=owner, request=DistillationRequest(teacher_model="catalog:digits-mlp",
                                                                            budget_ftns=1000, epochs=2))
    base, token = job_lease_acquire(job_id=base.job_id)
    shutil.copytree(resolve("catalog:digits-mlp"), job_out_dir(base) / "model")
    report = {"task": "tabular", "backend": "pytorch", "name": "tabular-student-small", "retention": 0.9,
              "exports": {}, "checks": {}, "stages": {"train": {"seconds": 1.0}},
              "teacher": {"params": 1, "accuracy": 1}, "student": {"params": 1, "accuracy": 0.9}}
    assert job_complete(job=base, token=token, report=report)
    return base


def test_an_update_of_a_finished_job_with_minimums_is_chosen_in_the_advanced_options(client, ada):
    from distillation.selectors import job_out_dir

    base = _finished_job(ada)
    _walk_to_budget(client)
    goal = client.get("/distill/goal/").content.decode()
    assert "Update a model of yours" in goal and str(base.job_id) in goal
    step = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "quality_threshold": "0.5",
            "export_formats": ["safetensors"], "target_architecture": "auto", "base_model": str(base.job_id),
            "preserve_existing_knowledge": "on", "minimum_accuracy": "0.6", "minimum_class_accuracy": "0.3",
            "go": "next"}
    response = client.post("/distill/goal/", step)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert 'value="0.6"' in client.get("/distill/goal/").content.decode()  # the draft shows them again
    assert client.post("/distill/budget/", {"budget_ftns": "1000", "go": "next"})["Location"] == "/distill/review/"
    assert client.post("/distill/submit/").status_code == 302
    job = DistillationJob.objects.exclude(pk=base.pk).get()
    assert job.request["base_model"] == str(base.job_id) and job.request["update_strategy"] == "incremental"
    assert job.request["specialty_requirements"] == [
        {"name": "accuracy", "minimum": 0.6, "data": None, "class_name": None},
        {"name": "per_class_accuracy", "minimum": 0.3, "data": None, "class_name": None}]
    assert job.engine_config["student_from"] == str(job_out_dir(base) / "model")
    assert job.engine_config["replay_data"] == base.engine_config["data"]


def test_a_domain_adaptation_of_a_finished_job_is_chosen_on_the_teacher_and_data_steps(client, ada):
    from distillation.selectors import job_out_dir

    base = _finished_job(ada)
    page = client.get("/distill/teacher/").content.decode()
    assert 'id="adapt"' in page and "Model to adapt" in page and str(base.job_id) in page
    refused = client.post("/distill/teacher/", {"go": "next"})  # neither a teacher nor a model to adapt
    assert refused.status_code == 400 and "Choose a teacher, or a model to adapt." in refused.content.decode()
    # a teacher ticked earlier does not stand in the way: the model to adapt is the teacher
    step = {"teacher_model": "catalog:digits-mlp", "source_model": str(base.job_id), "go": "next"}
    assert client.post("/distill/teacher/", step)["Location"] == "/distill/data/"

    data = client.get("/distill/data/").content.decode()
    assert 'id="adapt-data"' in data and "Unlabelled examples of the domain" in data
    assert "The teacher&#x27;s own data" not in data  # an adaptation learns the domain's own examples
    refused = client.post("/distill/data/", {"target_domain": "moved digits", "go": "next"})
    assert refused.status_code == 400 and "needs the domain&#x27;s labelled examples" in refused.content.decode()
    step = {"dataset": "builtin:digits", "target_domain": "scanned digits", "domain_corpus": "", "go": "next"}
    assert client.post("/distill/data/", step)["Location"] == "/distill/goal/"
    goal = {"target_size": "small", "optimization_target": "speed", "epochs": "2", "quality_threshold": "0.5",
            "export_formats": ["safetensors"], "target_architecture": "auto", "go": "next"}
    response = client.post("/distill/goal/", goal)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert client.post("/distill/budget/", {"budget_ftns": "1000", "go": "next"})["Location"] == "/distill/review/"
    review = client.get("/distill/review/").content.decode()
    assert "--source-model PATH/TO/YOUR/RUN" in review and "--teacher" not in review
    assert f"a copy of your job {base.job_id}, which teaches: adapted to scanned digits" in review
    # the student is the copy: its size is the model's, not a fraction of a teacher's
    assert "starts as a copy of" in review and "x smaller" not in review

    assert client.post("/distill/submit/").status_code == 302
    job = DistillationJob.objects.exclude(pk=base.pk).get()
    assert job.request["source_model"] == str(base.job_id) and job.request["teacher_model"] is None
    assert job.request["adaptation_strategy"] == "domain_transfer" and job.request["target_domain"] == "scanned digits"
    assert job.engine_config["student_from"] == job.engine_config["teacher"] == str(job_out_dir(base) / "model")
