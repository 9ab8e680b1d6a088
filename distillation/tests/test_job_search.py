"""The job page's search for the best student: while the job runs, its stored trial events fill the
table and the chart (the page then follows the websocket); once it completed, the report's account
draws them, with the chosen trial marked, why it was chosen and what the labels alone reached. A job
that does not search shows no such section; the teacher's note on a test split it probably saw is
shown with the result."""

import re

import pytest

from distillation import selectors
from distillation.services import job_event_append, job_lease_acquire
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from distillation.tests.test_job_dashboard import ada, completed, make_user, new_job  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

# report["search"] as prsm/engine/stages/search.py wrote it for a quick search on builtin:digits
# (catalog:digits-mlp, 6 epochs, seed 0), validation accuracies rounded to 6 places.
SEARCH = {
    "level": "quick",
    "trials": [
        {"design": "mlp-48", "temperature": 4.0, "alpha": 0.7, "lr_scale": 1.0, "number": 0, "state": "complete", "val_accuracy": 0.648148, "epochs": 2, "history": [0.6111, 0.6481], "params": 3610, "learning_rate": 0.003, "seconds": 0.032},
        {"design": "mlp-96", "temperature": 4.0, "alpha": 0.7, "lr_scale": 1.0, "number": 1, "state": "complete", "val_accuracy": 0.75463, "epochs": 2, "history": [0.7269, 0.7546], "params": 7210, "learning_rate": 0.003, "seconds": 0.034},
        {"design": "mlp-64x32x16", "temperature": 4.0, "alpha": 0.7, "lr_scale": 1.0, "number": 2, "state": "pruned", "val_accuracy": 0.62037, "epochs": 1, "history": [0.6204], "params": 6938, "learning_rate": 0.003, "seconds": 0.022},
        {"design": "mlp-64x32x16", "temperature": 4.0, "alpha": 0.3, "lr_scale": 0.5, "number": 3, "state": "pruned", "val_accuracy": 0.268519, "epochs": 1, "history": [0.2685], "params": 6938, "learning_rate": 0.0015, "seconds": 0.022},
        {"design": "mlp-48", "temperature": 8.0, "alpha": 0.7, "lr_scale": 0.5, "number": 4, "state": "pruned", "val_accuracy": 0.527778, "epochs": 1, "history": [0.5278], "params": 3610, "learning_rate": 0.0015, "seconds": 0.016},
        {"design": "mlp-64x32x16", "temperature": 4.0, "alpha": 0.9, "lr_scale": 2.0, "number": 5, "state": "pruned", "val_accuracy": 0.462963, "epochs": 1, "history": [0.463], "params": 6938, "learning_rate": 0.006, "seconds": 0.022},
        {"design": "mlp-48", "temperature": 8.0, "alpha": 0.3, "lr_scale": 1.0, "number": 6, "state": "complete", "val_accuracy": 0.680556, "epochs": 2, "history": [0.6435, 0.6806], "params": 3610, "learning_rate": 0.003, "seconds": 0.03},
        {"design": "mlp-48", "temperature": 1.0, "alpha": 0.5, "lr_scale": 0.5, "number": 7, "state": "pruned", "val_accuracy": 0.550926, "epochs": 1, "history": [0.5509], "params": 3610, "learning_rate": 0.0015, "seconds": 0.016},
        {"design": "mlp-48", "temperature": 4.0, "alpha": 0.0, "lr_scale": 1.0, "reference": True, "number": 8, "state": "complete", "val_accuracy": 0.726852, "epochs": 2, "history": [0.6806, 0.7269], "params": 3610, "learning_rate": 0.003, "seconds": 0.023},
    ],
    "chosen": 1,
    "why": "the fewest FLOPs among the 1 trials within 0.005 of the best validation accuracy (0.7546; optimization_target=speed), of 3 run to the end",
    "designs": [{"name": "mlp-48", "params": 3610, "layers": 1, "width": 48, "flops": 7104, "latency_ms": 0.026},
                {"name": "mlp-96", "params": 7210, "layers": 1, "width": 96, "flops": 14208, "latency_ms": 0.0256},
                {"name": "mlp-64x32x16", "params": 6938, "layers": 3, "width": 64, "flops": 13632, "latency_ms": 0.0445}],
    "trial_epochs": 2, "min_epochs": 1, "final_epochs": 6, "reduction_factor": 3, "planned": 9,
    "stopped_by_time_limit": False, "validation_rows": 216, "seconds": 0.217,
    "labels_only": {"design": "mlp-48", "val_accuracy": 0.726852, "distilled_val_accuracy": 0.680556,
                    "chosen_val_accuracy": 0.75463, "gain": -0.046296},
    "expected_cost_factor": 2.0, "settings": {"temperature": 4.0, "alpha": 0.7, "lr_scale": 1.0},
    "pruner": "optuna.pruners.SuccessiveHalvingPruner", "rows": 1221, "validation_mean": 0.582305,
    "measured_cost_factor": 2.17,
}
TEST_NOTE = ("the teacher scores 100.0% on the test split: it probably trained on these rows, and retention is "
             "measured against a teacher that saw them")


def trial_event(trial: dict, planned: int = 9) -> dict:
    """A trial event's payload as distillation/runner.py stores what the engine's search stage sends."""
    label = "labels only" if trial.get("reference") else f"T={trial['temperature']:g}, alpha={trial['alpha']:g}"
    return {"stage": "search", "trial": trial, "message": f"trial {trial['number'] + 1}/{planned} ({trial['design']}, "
            f"{label}): validation {trial['val_accuracy']:.4f} after {trial['epochs']} epochs, {trial['state']}"}


def running_search(job, trials=SEARCH["trials"][:4]):
    """The job leased and in its search stage, with these trials' events stored."""
    job, token = job_lease_acquire(job_id=job.job_id)
    job_event_append(job=job, type="stage", payload={"stage": "search", "message": "search"}, token=token,
                     fields={"progress": 12.0, "current_stage": "search"})
    for index, trial in enumerate(trials):
        job_event_append(job=job, type="trial", payload=trial_event(trial), token=token,
                         fields={"progress": 12.0 + index, "current_stage": "search"})
    job.refresh_from_db()
    return job, token


def _rows(body: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-trial="(\d+)"(.*?)</tr>', body, re.S))


def test_a_running_jobs_page_replays_its_stored_trials_into_the_table_and_chart(client, ada, new_job):  # noqa: F811
    job, _ = running_search(new_job(ada))
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()
    series = client.get(f"/jobs/{job.job_id}/search.json").json()

    assert 'id="search"' in body and 'data-level="quick"' in body and "Each trial appears here when it ends" in body
    rows = _rows(body)
    assert list(rows) == ["0", "1", "2", "3"]
    assert 'data-state="pruned"' in rows["3"] and "T 4 · alpha 0.3 · lr ×0.5" in rows["3"] and "0.2685" in rows["3"]
    assert "mlp-96" in rows["1"] and ">7210<" in rows["1"] and "0.7546" in rows["1"] and "complete" in rows["1"]
    assert "data-chosen" not in body and 'id="search-why"' not in body
    assert '<p class="muted" id="search-empty" hidden>' in body
    by_key = {line["key"]: line for line in series["series"]}
    assert list(by_key) == ["complete", "pruned", "reference"]  # no choice yet
    assert by_key["complete"]["x"] == [3610, 7210] and by_key["complete"]["y"] == [0.648148, 0.75463]
    assert by_key["pruned"]["x"] == [6938, 6938] and by_key["pruned"]["text"][1] == "trial 4: mlp-64x32x16, T 4 · alpha 0.3 · lr ×0.5"
    assert (series["x_type"], series["event_type"], series["last_seq"]) == ("log", "trial", job.last_seq)


def test_a_running_job_that_has_not_ended_a_trial_shows_an_empty_search(client, ada, new_job):  # noqa: F811
    job, _ = running_search(new_job(ada), trials=[])
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    assert 'id="search"' in body and not _rows(body)
    assert '<p class="muted" id="search-empty">No trial has ended yet.</p>' in body
    assert all(not line["x"] for line in client.get(f"/jobs/{job.job_id}/search.json").json()["series"])


def test_a_completed_job_draws_its_search_from_the_report_with_the_choice_marked(client, ada, completed):  # noqa: F811
    job = completed(ada, search=SEARCH)
    client.force_login(ada)

    body = " ".join(client.get(f"/jobs/{job.job_id}/").content.decode().split())  # the text as read
    series = client.get(f"/jobs/{job.job_id}/search.json").json()
    api = client.get(f"/api/v1/distillations/{job.job_id}/").json()

    rows = _rows(body)
    assert list(rows) == [str(n) for n in range(9)]
    assert rows["1"].startswith(' data-state="complete" data-chosen>') and '<span class="badge badge-passed">chosen</span>' in rows["1"]
    assert sum("data-chosen" in row for row in rows.values()) == 1
    assert "labels only (alpha 0)" in rows["8"]
    assert "A quick search ran 9 of 9 planned trials in 0.2 s" in body and "216 rows" in body
    assert "at most 2 of the final training's 6" in body and "2.2× the final training's time (planned: 2.0×)" in body
    why = re.search(r'<p id="search-why">(.*?)</p>', body, re.S).group(1)
    assert "<strong>Chosen: trial 2</strong> (mlp-96, T 4 · alpha 0.7 · lr ×1)" in why and "the fewest FLOPs" in why
    labels_only = re.search(r'<p id="search-labels-only">(.*?)</p>', body, re.S).group(1)
    assert "mlp-48 reached 0.7269" in labels_only and "the same design's best trial reached 0.6806" in labels_only
    assert "distillation lost <strong>0.0463</strong>" in labels_only and "The chosen student reached 0.7546" in labels_only
    by_key = {line["key"]: line for line in series["series"]}
    assert (by_key["chosen"]["x"], by_key["chosen"]["y"], by_key["chosen"]["symbol"]) == ([7210], [0.75463], "star")
    assert by_key["reference"]["x"] == [3610] and len(by_key["pruned"]["x"]) == 5 and len(by_key["complete"]["x"]) == 3
    assert api["report"]["search"]["chosen"] == 1  # the API exposes the same account


def test_the_table_and_the_chart_hold_the_same_trials(ada, completed):  # noqa: F811
    job = completed(ada, search=SEARCH)

    search, series = selectors.job_search(job), selectors.job_search_series(job)

    points = sorted((x, y) for line in series["series"] if line["key"] != "chosen"
                    for x, y in zip(line["x"], line["y"], strict=True))
    assert points == sorted((row["params"], row["val_accuracy"]) for row in search["trials"])


def test_a_job_that_does_not_search_shows_no_search(client, ada, new_job, completed):  # noqa: F811
    client.force_login(ada)
    off = new_job(ada, search="off")
    done_without = completed(ada)  # a report without "search" (the search off, or an engine before it)

    for job in (off, done_without):
        body = client.get(f"/jobs/{job.job_id}/").content.decode()
        assert 'id="search"' not in body and "search-chart" not in body
        assert all(not line["x"] for line in client.get(f"/jobs/{job.job_id}/search.json").json()["series"])


def test_someone_elses_search_is_not_found(client, ada, new_job):  # noqa: F811
    job, _ = running_search(new_job(ada))
    client.force_login(make_user("eve"))

    assert client.get(f"/jobs/{job.job_id}/search.json").status_code == 404


def test_the_teachers_note_on_the_test_split_is_shown_with_the_result(client, ada, completed):  # noqa: F811
    client.force_login(ada)
    noted = completed(ada, teacher_note=TEST_NOTE)
    plain = completed(ada)

    body = client.get(f"/jobs/{noted.job_id}/").content.decode()
    assert ('<p class="warnings" id="teacher-test-note"><strong>About the teacher\'s score:</strong> '
            f"{TEST_NOTE}.</p>") in body
    assert 'id="teacher-test-note"' not in client.get(f"/jobs/{plain.job_id}/").content.decode()


def test_a_job_that_failed_during_its_search_still_shows_the_trials_it_ran(client, ada, new_job):  # noqa: F811
    from distillation.services import job_fail

    job, token = running_search(new_job(ada), trials=SEARCH["trials"][:3])
    job_fail(job=job, token=token, message="The worker ran out of memory.", platform_fault=True, used_seconds=3)
    client.force_login(ada)

    body = " ".join(client.get(f"/jobs/{job.job_id}/").content.decode().split())

    assert list(_rows(body)) == ["0", "1", "2"]
    assert "A quick search ran these trials on the validation split before the job ended." in body


def test_each_finished_trials_deploy_checks_on_validation_are_shown_in_its_row(client, ada, completed):  # noqa: F811
    gated = [dict(t) for t in SEARCH["trials"]]
    gated[0]["gate"] = {"passed": False, "failed": ["robustness", "low_margin_agreement"], "checks": {}}
    gated[1]["gate"] = {"passed": True, "failed": [], "checks": {}}
    job = completed(ada, search={**SEARCH, "trials": gated})
    client.force_login(ada)

    rows = _rows(" ".join(client.get(f"/jobs/{job.job_id}/").content.decode().split()))

    assert "complete · fails robustness, low margin agreement" in rows["0"]
    assert "complete · deploy checks pass" in rows["1"]
    assert '<td data-label="Result">pruned</td>' in rows["2"]  # pruned trials are not checked
