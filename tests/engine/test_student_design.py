"""Student design: constraints are honoured, or refused before training naming the constraint."""

from __future__ import annotations

import pytest

from prsm.engine.errors import BadInput
from prsm.engine.students.design import Candidate, DesignRequest, choose


def candidates() -> list[Candidate]:
    return [Candidate(name=f"c{width}x{layers}", architecture={}, params=width * 100 * layers, layers=layers, width=width)
            for width in (1, 2, 4, 8) for layers in (1, 2)]


def fake_measure(candidate: Candidate) -> None:
    candidate.latency_ms = candidate.params / 1000
    candidate.memory_bytes = candidate.params * 4
    candidate.flops = candidate.params * 2


def test_accuracy_takes_the_largest_student_within_the_size_budget():
    chosen, record = choose(candidates(), DesignRequest("small", "accuracy"), teacher_params=20 * 800, measure=fake_measure)
    assert chosen.params == 800 and record["param_budget"] == 800
    assert all(c["params"] <= 800 for c in record["candidates"] if c["fits"])


def test_an_explicit_width_and_depth_are_honoured():
    request = DesignRequest("small", "accuracy", layer_count=2, hidden_size=2)
    chosen, _ = choose(candidates(), request, teacher_params=20 * 10_000, measure=fake_measure)
    assert (chosen.layers, chosen.width) == (2, 2)


def test_a_latency_limit_rules_out_slower_students():
    request = DesignRequest("small", "accuracy", max_latency_ms=0.45)
    chosen, _ = choose(candidates(), request, teacher_params=20 * 10_000, measure=fake_measure)
    assert chosen.latency_ms <= 0.45


@pytest.mark.parametrize("request_fields, named", [
    ({"max_latency_ms": 0.01}, "max_inference_latency"),
    ({"max_memory_bytes": 10}, "max_memory_usage"),
    ({"hidden_size": 3}, "hidden_size=3"),
])
def test_an_impossible_constraint_is_refused_naming_it(request_fields, named):
    with pytest.raises(BadInput, match=named):
        choose(candidates(), DesignRequest("small", "speed", **request_fields), teacher_params=20 * 10_000,
               measure=fake_measure)


def test_a_teacher_too_small_for_the_target_size_is_refused():
    with pytest.raises(BadInput, match="target_size=small"):
        choose(candidates(), DesignRequest("small"), teacher_params=100, measure=fake_measure)
