import numpy as np
import pytest

from prsm.engine.data.builtin import FASHION_MNIST_CLASSES, BuiltinSourceMissing, load_builtin


def test_fashion_mnist_loads_official_train_and_test_images_in_0_to_1(needs_fashion_mnist):
    data = load_builtin("builtin:fashion-mnist")
    assert data.task == "image"
    assert data.images.shape == (70000, 1, 28, 28) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert data.meta["splits"] == {"train": [0, 60000], "test": [60000, 70000]}
    test_labels = data.labels[60000:]
    assert np.bincount(test_labels, minlength=10).tolist() == [1000] * 10


def test_fashion_mnist_keeps_the_official_class_order(needs_fashion_mnist):
    data = load_builtin("fashion-mnist")
    assert data.classes == FASHION_MNIST_CLASSES
    assert data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"


def test_fashion_mnist_hash_is_stable(needs_fashion_mnist):
    assert load_builtin("fashion-mnist").sha256 == load_builtin("fashion-mnist").sha256


def test_missing_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PRSM_FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(BuiltinSourceMissing) as error:
        load_builtin("fashion-mnist")
    assert "dataset-fashion-mnist" in str(error.value) and str(tmp_path) in str(error.value)
