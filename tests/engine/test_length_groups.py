"""Token rows train in batches of similar length (``epoch_order``): every row once an epoch, the
same order on a resume, far less padding than random batches, and unchanged order for other inputs."""

import numpy as np

from prsm.engine.training.loop import GROUP_BATCHES, epoch_order, token_lengths


def _padded_tokens(order: np.ndarray, lengths: np.ndarray, batch: int) -> int:
    """Tokens the student computes: each batch is trimmed to its longest row."""
    return sum(int(lengths[order[i:i + batch]].max()) * len(order[i:i + batch]) for i in range(0, len(order), batch))


def test_every_row_once_and_the_same_order_each_time_for_the_same_seed_and_epoch():
    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 65, size=1_003)
    order = epoch_order(7, 2, 1_003, 32, lengths)
    assert sorted(order.tolist()) == list(range(1_003))
    assert np.array_equal(order, epoch_order(7, 2, 1_003, 32, lengths))  # a resume rebuilds the same order
    assert not np.array_equal(order, epoch_order(7, 3, 1_003, 32, lengths))  # each epoch its own


def test_batches_hold_rows_of_similar_length_and_far_fewer_padded_tokens():
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(np.log(26), 0.5, size=4_000).astype(int), 2, 64)  # like movie-review sentences
    plain = epoch_order(0, 0, 4_000, 32)
    grouped = epoch_order(0, 0, 4_000, 32, lengths)
    real = int(lengths.sum())
    assert _padded_tokens(grouped, lengths, 32) < 1.15 * real
    assert _padded_tokens(plain, lengths, 32) > 1.6 * real
    # the batch order is still random: not sorted by length across the epoch
    firsts = [int(lengths[grouped[i]]) for i in range(0, 32 * GROUP_BATCHES, 32)]
    assert firsts != sorted(firsts)


def test_only_the_last_batch_of_the_epoch_is_short_so_every_batch_is_one_window():
    lengths = np.arange(1, 250) % 60 + 1
    order = epoch_order(1, 0, 249, 8, lengths)
    # with 8-row batches a window is 400 rows: one window of 31 full batches and a short last one
    batches = [order[i:i + 8] for i in range(0, 249, 8)]
    assert [len(b) for b in batches[:-1]] == [8] * 31 and len(batches[-1]) == 1
    assert all(lengths[b].max() - lengths[b].min() <= 3 for b in batches[:-1])


def test_inputs_without_an_attention_mask_keep_the_plain_permutation():
    assert token_lengths({"x": np.zeros((10, 3), dtype=np.float32)}) is None
    expected = np.random.default_rng([5, 1]).permutation(100)
    assert np.array_equal(epoch_order(5, 1, 100, 16), expected)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    assert token_lengths({"input_ids": mask, "attention_mask": mask}).tolist() == [2, 1]
