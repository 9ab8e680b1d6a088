"""Catalog and built-in data tests: every build goes to a temporary PRSM_HOME.

Downloaded sources (the vaderSentiment sdist, the MPNet wheels) are shared with the real cache
through a link, so that tests neither download them again nor write into the user's catalog.
"""

from __future__ import annotations

import pytest

from prsm.engine.data.builtin import BuiltinSourceMissing, downloads_dir, fashion_mnist_dir, vader_sdist_path

REAL_DOWNLOADS = downloads_dir()


@pytest.fixture
def prsm_home(tmp_path, monkeypatch):
    home = tmp_path / "prsm-home"
    home.mkdir()
    REAL_DOWNLOADS.mkdir(parents=True, exist_ok=True)
    (home / "downloads").symlink_to(REAL_DOWNLOADS, target_is_directory=True)
    monkeypatch.setenv("PRSM_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def needs_movie_reviews():
    try:
        vader_sdist_path()
    except BuiltinSourceMissing as missing:
        pytest.skip(f"movie reviews unavailable (run scripts/install-data.sh): {missing}")


@pytest.fixture(scope="session")
def needs_fashion_mnist():
    if not (fashion_mnist_dir() / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"Fashion-MNIST is not installed in {fashion_mnist_dir()}: "
                    "apt-get install dataset-fashion-mnist (scripts/install-data.sh does it)")
