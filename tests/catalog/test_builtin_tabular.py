import numpy as np
import pytest
from sklearn import datasets

from prsm.engine.data.builtin import BUILTIN_NAMES, load_builtin
from prsm.engine.errors import BadInput

SKLEARN = {"digits": datasets.load_digits, "breast-cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_a_scikit_learn_data_set_loads_as_raw_tabular_features(name):
    data = load_builtin(f"builtin:{name}")
    bunch = SKLEARN[name]()
    assert data.task == "tabular"
    assert data.features.dtype == np.float32
    assert data.features.shape == bunch.data.shape
    np.testing.assert_allclose(data.features, bunch.data, rtol=1e-6)
    assert data.feature_names == [str(n) for n in bunch.feature_names]


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_classes_are_sorted_names_and_every_label_keeps_its_meaning(name):
    data = load_builtin(name)
    bunch = SKLEARN[name]()
    assert data.classes == sorted(data.classes)
    original = [str(bunch.target_names[t]) for t in bunch.target]
    assert [data.classes[i] for i in data.labels] == original


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_the_sha256_is_stable_across_loads_and_records_a_source(name):
    first, second = load_builtin(name), load_builtin(name)
    assert len(first.sha256) == 64 and first.sha256 == second.sha256
    assert "scikit-learn" in first.source


def test_different_data_sets_have_different_hashes():
    hashes = {name: load_builtin(name).sha256 for name in SKLEARN}
    assert len(set(hashes.values())) == len(hashes)


def test_an_unknown_name_is_refused_with_the_list_of_names():
    with pytest.raises(BadInput) as error:
        load_builtin("builtin:iris-flowers")
    assert "iris-flowers" in str(error.value)
    assert all(name in str(error.value) for name in BUILTIN_NAMES)
