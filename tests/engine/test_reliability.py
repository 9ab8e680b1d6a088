"""The reliability diagram's points and the ECE come from the same bins."""

import numpy as np

from prsm.engine.evaluation.metrics import expected_calibration_error, reliability


def test_each_bin_holds_its_mean_confidence_accuracy_and_count_and_the_ece_weighs_their_gaps():
    # two classes; confidences 0.9, 0.9 (one right) and 0.6 (right)
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]])
    logits = np.log(probabilities)
    labels = np.array([0, 1, 1])

    table = reliability(logits, labels, bins=10)

    assert table["count"] == [1, 2]
    assert np.allclose(table["confidence"], [0.6, 0.9]) and table["accuracy"] == [1.0, 0.5]
    assert np.isclose(expected_calibration_error(logits, labels, bins=10), 1 / 3 * 0.4 + 2 / 3 * 0.4)
