"""Merged batches answer exactly as each request alone (token batches padded correctly)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from prsm.serving.batching import DynamicBatcher, length_groups, merge_feeds
from prsm.serving.errors import InputError
from prsm.serving.model import ServedModel

TEXTS = [["great"], ["the film was really quite boring and the plot was dull and tedious", "fun"],
         ["a lovely moving story"], ["awful acting", "it is very charming and delightful and brilliant"]]


def test_token_batches_of_different_lengths_merge_without_changing_any_logits(text_export):
    model = ServedModel.load(text_export)
    feeds = [model.encode(texts) for texts in TEXTS]
    assert len({feed["input_ids"].shape[1] for feed in feeds}) > 2

    merged = merge_feeds(feeds, *model.pad_token())

    alone = np.concatenate([model.run(feed) for feed in feeds])
    np.testing.assert_allclose(model.run(merged), alone, atol=1e-5)
    assert merged["attention_mask"].sum() == sum(feed["attention_mask"].sum() for feed in feeds)


def test_texts_run_in_groups_of_similar_length_and_answer_as_alone(text_export):
    model = ServedModel.load(text_export)
    texts = [text for request in TEXTS for text in request] * 2
    merged = merge_feeds([model.encode([text]) for text in texts], *model.pad_token())
    runs: list[tuple[int, int]] = []
    run = model.run
    model.run = lambda feed: runs.append(feed["input_ids"].shape) or run(feed)
    batcher = DynamicBatcher(model, max_batch=8)

    logits = batcher._run(merged)

    model.run = run
    np.testing.assert_allclose(logits, np.concatenate([model.run(model.encode([text])) for text in texts]), atol=1e-5)
    padded, real = sum(rows * length for rows, length in runs), int(merged["attention_mask"].sum())
    assert len(runs) > 1 and all(rows <= 8 for rows, _ in runs)
    assert padded <= 1.25 * real < merged["input_ids"].size  # one padded batch would run far more tokens


def test_length_groups_bound_the_padding_and_the_rows():
    lengths = np.array([30, 3, 4, 29, 3, 31, 5, 3])

    groups = length_groups(lengths, max_rows=3)

    assert sorted(int(i) for group in groups for i in group) == list(range(8))
    assert all(len(group) <= 3 for group in groups)
    for group in groups:
        assert lengths[group].max() * len(group) <= 1.25 * lengths[group].sum()
    assert [sorted(lengths[g].tolist()) for g in groups] == [[3, 3, 3], [4, 5], [29, 30, 31]]


def test_left_padding_pads_on_the_left():
    feeds = [{"input_ids": np.array([[5, 6, 7]]), "attention_mask": np.array([[1, 1, 1]])},
             {"input_ids": np.array([[8]]), "attention_mask": np.array([[1]])}]
    merged = merge_feeds(feeds, pad_id=3, side="left")
    np.testing.assert_array_equal(merged["input_ids"], [[5, 6, 7], [3, 3, 8]])
    np.testing.assert_array_equal(merged["attention_mask"], [[1, 1, 1], [0, 0, 1]])


async def concurrently(batcher: DynamicBatcher, requests: list[list]) -> list:
    return await asyncio.gather(*(batcher.predict(inputs) for inputs in requests), return_exceptions=True)


@pytest.mark.parametrize("kind", ["text", "tabular"])
def test_concurrent_requests_run_in_shared_batches_and_answer_as_alone(kind, text_export, digits_export):
    model = ServedModel.load(text_export if kind == "text" else digits_export)
    requests = TEXTS * 4 if kind == "text" else [[[float(i % 16)] * 64] * (1 + i % 3) for i in range(12)]
    with ThreadPoolExecutor(2) as executor:
        batcher = DynamicBatcher(model, executor, max_batch=8, max_wait_ms=20)
        answers = asyncio.run(concurrently(batcher, requests))

    for inputs, answer in zip(requests, answers):
        alone = model.predict(inputs)
        assert [a["label"] for a in answer] == [a["label"] for a in alone]
        for got, want in zip(answer, alone):
            assert max(abs(got["probabilities"][k] - want["probabilities"][k]) for k in model.labels) < 1e-5
    stats = batcher.stats.as_dict()
    assert stats["requests"] == len(requests) and stats["batches"] < len(requests)
    assert 1 < stats["largest_batch"] <= 8


def test_a_bad_request_fails_alone_and_a_large_one_runs_in_chunks(digits_export):
    model = ServedModel.load(digits_export)
    requests = [[[1.0] * 64], [[1.0] * 3], [[2.0] * 64] * 20]
    with ThreadPoolExecutor(2) as executor:
        batcher = DynamicBatcher(model, executor, max_batch=8, max_wait_ms=5)
        answers = asyncio.run(concurrently(batcher, requests))

    assert len(answers[0]) == 1 and len(answers[2]) == 20
    assert isinstance(answers[1], InputError) and "input 0" in str(answers[1])
    assert batcher.stats.largest_batch <= 8
