"""The stage list is written once: the stages a run runs are the stages its progress spans."""

from __future__ import annotations

import inspect

import pytest

from prsm.engine import stages
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.stages import STAGES, stages_for
from tests.engine.events import Recorder


@pytest.fixture(scope="module")
def run_events(tmp_path_factory, digits_teacher, digits_csv):
    recorder = Recorder()
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_train_examples=200, epochs=1,
                           baseline=True, exports=["safetensors"])
    report = run_distillation(config, tmp_path_factory.mktemp("run"), recorder)
    return report, recorder.events, stages_for(config)


def _starts(run_stages) -> dict[str, float]:
    """Where each stage's share of 0..100 begins, from the weights of the stages the run runs."""
    total, cumulative, starts = sum(stage.weight for stage in run_stages), 0, {}
    for stage in run_stages:
        starts[stage.name] = round(100 * cumulative / total, 2)
        cumulative += stage.weight
    return starts


def test_every_stage_a_run_runs_begins_where_its_span_in_the_one_list_begins(run_events):
    report, events, run_stages = run_events
    begun = [e for e in events if e["type"] == "stage" and e.get("message") != "completed"]
    # a teacher from a folder, basic distillation: every stage but the catalog build and the
    # progressive strategy's assistant, in the list's order
    assert [stage.name for stage in run_stages] == [stage.name for stage in STAGES
                                                    if stage.name not in ("build_teacher", "assistant")]
    assert [e["stage"] for e in begun] == [stage.name for stage in run_stages] == list(report["stages"])
    # the running order survives a store that sorts keys (PostgreSQL's jsonb)
    assert [record["order"] for record in report["stages"].values()] == list(range(len(run_stages)))
    starts = _starts(run_stages)
    assert [e["progress"] for e in begun] == [starts[e["stage"]] for e in begun]
    assert all(stage.weight > 0 for stage in STAGES)
    assert events[-1]["message"] == "completed" and events[-1]["progress"] == 100


def test_every_stage_function_the_package_exports_is_in_the_list():
    functions = {name for name in stages.__all__ if inspect.isfunction(getattr(stages, name))} - {"stages_for"}
    assert functions == {stage.run.__name__ for stage in STAGES}
    assert len({stage.name for stage in STAGES}) == len(STAGES)
