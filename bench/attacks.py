"""Attack files: every kind of malicious file the safety tests make, fed through the real entry points.

    .venv/bin/python bench/attacks.py [--only WORD ...] [--fast] [--list]

Each attack builds its file(s) in a fresh folder, then hands them to what a user's file really
meets: the engine's own functions without Django (``safe_convert``, ``pickle_scan``,
``onnx_files.check_onnx_file``, ``teachers.load_teacher``, ``data.load_data``), and the upload
service's functions (``distillation.uploads.receive`` + ``teacher_store`` / ``dataset_store``, and
``distillation.archives.extract_archive``) under the test settings with a throwaway MEDIA_ROOT; no
server, no database rows. Every file comes from ``tests/hostile_files.py``, the makers the safety
tests use too; this script only aims them (at the canary, at the upload's folder) and feeds them in.

An attack is refused when the entry point raises its refusal (``BadInput`` and its subclasses,
``UploadError``, ``ArchiveError``, or Pillow's ``DecompressionBombError``). Returning normally is
"accepted"; any other exception is a crash (stopped, but with no message a user could act on).
Both count as not refused. Every payload that can act writes a canary file (pickles, custom code,
archive entries aimed at it); the canaries are checked after each attack and again at the end.

Exit status 1 if any attack is not refused or any canary appears. tests/test_bench_attacks.py runs
every attack once; record the figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pickle
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # ahead of bench/, whose ledger.py would hide the ledger app

from bench._common import print_machine, table  # noqa: E402
from tests import hostile_files as hostile  # noqa: E402

UPLOAD_ID = "attack"  # every upload lands in MEDIA_ROOT/uploads/<kind>/attack/


@dataclass(frozen=True)
class Attack:
    name: str
    entry: str  # the entry point the file is fed to
    run: Callable[[Path, Path], object]  # (its own folder, its canary path); raises when refused
    slow: bool = False  # starts a child process or imports transformers: left out by --fast


@dataclass
class Outcome:
    attack: str
    entry: str
    refused: bool
    message: str
    seconds: float
    canary_path: Path
    canary: bool = False  # the canary file appeared: a payload ran, or an entry landed where it was aimed

    def row(self) -> dict:
        return {"attack": self.attack, "entry point": self.entry, "refused": "yes" if self.refused else "NO",
                "message": self.message, "time (s)": round(self.seconds, 3),
                **({"canary": "WRITTEN"} if self.canary else {})}


# --- running


def refusal_types() -> tuple[type[BaseException], ...]:
    from PIL import Image

    from prsm.engine.errors import BadInput

    types: list[type[BaseException]] = [BadInput, Image.DecompressionBombError]
    if "distillation.uploads" in sys.modules:  # only once an upload row set Django up: engine rows run without it
        from distillation.archives import ArchiveError
        from distillation.uploads import UploadError

        types += [UploadError, ArchiveError]
    return tuple(types)


def run_attack(attack: Attack, work: Path) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="attack-", dir=work))
    canary = folder / "canary"
    start = time.perf_counter()
    try:
        with _quiet():
            attack.run(folder, canary)
    except refusal_types() as error:
        refused, message = True, _one_line(str(error))
    except Exception as error:  # noqa: BLE001 - a crash is an outcome to report, not to hide
        refused, message = False, f"crashed: {type(error).__name__}: {_one_line(str(error))}"
    else:
        refused, message = False, "accepted"
    message = message.replace(str(work), "$TMP")
    return Outcome(attack.name, attack.entry, refused, message, time.perf_counter() - start, canary,
                   canary.exists())


def run_attacks(attacks: list[Attack], work: Path | None = None) -> list[Outcome]:
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="prsm-attacks-")))
        stack.enter_context(_env("PRSM_HOME", str(work / "prsm-home")))  # converted copies land here, not in ~/.prsm
        outcomes = [run_attack(attack, work) for attack in attacks]
        time.sleep(0.2)  # a payload that started a process gets a moment to write
        for outcome in outcomes:  # checked again at the end, before the folder goes
            outcome.canary = outcome.canary or outcome.canary_path.exists()
    return outcomes


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@contextlib.contextmanager
def _env(name: str, value: str):
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _quiet():
    """Progress bars and warnings from the libraries would bury the table."""
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


# --- Django, only for the upload rows


def _django_ready() -> bool:
    """Set up Django with the test settings (SQLite unless DATABASE_URL says otherwise) once."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prsm_site.settings.test")
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/prsm-bench-attacks.sqlite3")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        django.setup()
    return True


def upload(folder: Path, kind: str, filename: str, content: bytes) -> None:
    """``receive`` then ``teacher_store`` / ``dataset_store``, as ``*_upload_create`` calls them."""
    _django_ready()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.utils import override_settings

    from distillation import uploads

    with override_settings(MEDIA_ROOT=folder / "media"):
        target = uploads.upload_folder(kind, UPLOAD_ID)
        limit = settings.UPLOAD_MAX_TEACHER_BYTES if kind == "teachers" else settings.UPLOAD_MAX_DATASET_BYTES
        try:
            received = uploads.receive(SimpleUploadedFile(filename, content), target, max_bytes=limit)
            (uploads.teacher_store if kind == "teachers" else uploads.dataset_store)(received, target)
        finally:
            uploads.discard(target)


def upload_dest(folder: Path, kind: str) -> Path:
    """Where an upload's archive is extracted (``_extract``'s dest), to aim entries at the canary."""
    return folder / "media" / "uploads" / kind / UPLOAD_ID / ("model" if kind == "teachers" else "images")


def aimed_at(canary: Path, folder: Path, kind: str) -> str:
    """The entry name that would land on ``canary`` if the extraction followed it: ``../../../../../canary``."""
    return os.path.relpath(canary, upload_dest(folder, kind))


# --- engine attacks (no Django)


def pickle_attack(payload: str, layout: str):
    def run(folder: Path, canary: Path):
        from prsm.engine.safe_convert import convert_pickle_to_safetensors

        path = hostile.save({"weights": getattr(hostile, payload)(canary)}, folder / "model.pth", layout)
        return convert_pickle_to_safetensors(path, folder / "out")
    return run


def poisoned_checkpoint(layout: str):
    def run(folder: Path, canary: Path):
        from prsm.engine.safe_convert import convert_pickle_to_safetensors

        poisoned = {**hostile.state_dict(), "num_batches_tracked": hostile.Exec(canary)}
        path = hostile.save({"state_dict": poisoned, "epoch": 3}, folder / "checkpoint.pt", layout)
        return convert_pickle_to_safetensors(path, folder / "out")
    return run


def scanned(content: Callable[[Path], bytes]):
    """``pickle_scan.scan_checkpoint`` of ``model.bin`` holding ``content(canary)``."""
    def run(folder: Path, canary: Path):
        from prsm.engine.pickle_scan import scan_checkpoint

        (folder / "model.bin").write_bytes(content(canary))
        return scan_checkpoint(folder / "model.bin")
    return run


def plain_pickle(protocol: int):
    return scanned(lambda canary: pickle.dumps(hostile.System(canary), protocol=protocol))


def payload_in_another_member(folder: Path, canary: Path):
    from prsm.engine.pickle_scan import scan_checkpoint

    path = hostile.save(hostile.state_dict(), folder / "model.pth", "zip")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model/extra.pkl", pickle.dumps(hostile.Exec(canary), protocol=2))
    return scan_checkpoint(path)


def scan_bypassed(folder: Path, canary: Path):
    """Were the scan fooled, the confined child's ``torch.load(weights_only=True)`` refuses the global too."""
    import torch

    from prsm.engine.safe_convert import ConvertLimits, convert_in_child

    path = hostile.save({"w": torch.ones(2), "x": hostile.System(canary)}, folder / "model.pth", "zip")
    return convert_in_child(path, folder / "out", name="model.safetensors", layout="zip", limits=ConvertLimits(),
                            label="model.pth")


def storage_claiming_memory(folder: Path, canary: Path):
    from prsm.engine.safe_convert import ConvertLimits, convert_pickle_to_safetensors

    path = folder / "huge.pth"
    path.write_bytes(hostile.legacy_checkpoint_claiming(1 << 29))  # 2 GiB of floats
    return convert_pickle_to_safetensors(path, folder / "out", limits=ConvertLimits(memory_headroom_bytes=256 << 20))


def poisoned_zoo_teacher(folder: Path, canary: Path):
    from prsm.engine.teachers import load_teacher

    hostile.zoo_folder_with_pth(folder / "mlp", payload=hostile.Exec(canary))
    return load_teacher(str(folder / "mlp"))


def hf_teacher(kind: str):
    def run(folder: Path, canary: Path):
        from prsm.engine.teachers import load_teacher

        model = folder / "tiny-bert"
        if kind == "auto_map":
            hostile.tiny_hf_dir(model, config_extra=hostile.AUTO_MAP,
                                files={"modeling_evil.py": hostile.code_writing(canary)})
        elif kind == "py":
            hostile.tiny_hf_dir(model, files={"modeling_evil.py": hostile.code_writing(canary)})
        else:
            hostile.tiny_hf_dir(model)
            (model / "model.safetensors").unlink()
            hostile.save({"w": hostile.Exec(canary)}, model / "pytorch_model.bin", "zip")
        return load_teacher(str(model))
    return run


def onnx_external(location: str | None, *, link: bool = False, subgraph: bool = False):
    def run(folder: Path, canary: Path):
        import onnx

        from prsm.engine.teachers import load_teacher

        path = hostile.save_split(hostile.linear_model(), folder / "model")
        (folder / "secret").write_bytes((folder / "model" / "model.onnx.data").read_bytes())
        if link:
            os.symlink(folder / "secret", folder / "model" / "weights.bin")
        if subgraph:
            path = folder / "model" / "sub.onnx"
            onnx.save(hostile.with_external_constant(location, subgraph=True), str(path))
        else:
            hostile.point_at(path, location)
        return load_teacher(str(path))
    return run


def engine_teacher_file(filename: str, content: bytes):
    def run(folder: Path, canary: Path):
        from prsm.engine.teachers import load_teacher

        (folder / filename).write_bytes(content)
        return load_teacher(str(folder / filename))
    return run


def engine_data_file(filename: str, content: bytes | Callable[[], bytes]):
    def run(folder: Path, canary: Path):
        from prsm.engine.data.loaders import load_data

        (folder / filename).write_bytes(content() if callable(content) else content)
        return load_data(str(folder / filename))
    return run


def engine_image_folder(folder: Path, canary: Path):
    from prsm.engine.data.loaders import load_data

    for label, content in (("a", hostile.png_bomb()), ("b", hostile.png())):
        (folder / "images" / label).mkdir(parents=True)
        (folder / "images" / label / "1.png").write_bytes(content)
    return load_data(str(folder / "images"))


ENGINE = [
    *[Attack(f"pickle __reduce__ {label}, {layout} layout", "engine: safe_convert.convert_pickle_to_safetensors",
             pickle_attack(payload, layout))
      for payload, label in (("Exec", "exec"), ("System", "os.system"), ("Popen", "subprocess.Popen"))
      for layout in ("zip", "legacy")],
    *[Attack(f"poisoned checkpoint, {layout} layout", "engine: safe_convert.convert_pickle_to_safetensors",
             poisoned_checkpoint(layout)) for layout in ("zip", "legacy")],
    *[Attack(f"plain pickle protocol {p}, os.system", "engine: pickle_scan.scan_checkpoint", plain_pickle(p))
      for p in range(6)],
    Attack("pickle STACK_GLOBAL read back from the memo", "engine: pickle_scan.scan_checkpoint",
           scanned(lambda canary: hostile.MEMO_STACK_GLOBAL)),
    Attack("pickle STACK_GLOBAL with a computed name", "engine: pickle_scan.scan_checkpoint",
           scanned(lambda canary: hostile.COMPUTED_STACK_GLOBAL)),
    Attack("torch zip, payload in another member", "engine: pickle_scan.scan_checkpoint", payload_in_another_member),
    Attack("pickle os.system, scan skipped", "engine: safe_convert.convert_in_child (confined child)", scan_bypassed,
           slow=True),
    Attack("legacy checkpoint claiming 2 GiB storage", "engine: safe_convert.convert_pickle_to_safetensors",
           storage_claiming_memory, slow=True),
    Attack("zoo folder with poisoned model.pth", "engine: teachers.load_teacher", poisoned_zoo_teacher),
    Attack("HF dir with auto_map", "engine: teachers.load_teacher", hf_teacher("auto_map"), slow=True),
    Attack("HF dir with modeling_evil.py", "engine: teachers.load_teacher", hf_teacher("py"), slow=True),
    Attack("HF dir, pytorch_model.bin payload", "engine: teachers.load_teacher", hf_teacher("bin"), slow=True),
    Attack("ONNX external data ../secret", "engine: teachers.load_teacher", onnx_external("../secret")),
    Attack("ONNX external data /etc/passwd", "engine: teachers.load_teacher", onnx_external("/etc/passwd")),
    Attack("ONNX external data via a symlink", "engine: teachers.load_teacher", onnx_external("weights.bin", link=True)),
    Attack("ONNX subgraph constant at ../secret", "engine: teachers.load_teacher",
           onnx_external("../secret", subgraph=True)),
    Attack("ELF binary named model.onnx", "engine: teachers.load_teacher", engine_teacher_file("model.onnx", hostile.ELF)),
    Attack("PNG named data.csv", "engine: data.load_data", engine_data_file("data.csv", hostile.png)),
    Attack("CSV with a 300,000-char field", "engine: data.load_data",
           engine_data_file("data.csv", hostile.HUGE_FIELD_CSV)),
    Attack("JSONL nested 100,000 deep", "engine: data.load_data", engine_data_file("data.jsonl", hostile.DEEP_JSONL)),
    Attack("PNG bomb (400 Mpx) in an image folder", "engine: data.load_data", engine_image_folder),
    Attack("PNG bomb (400 Mpx) in an image zip", "engine: data.load_data",
           engine_data_file("images.zip", hostile.images_zip_with_a_bomb)),
]


# --- upload attacks (distillation.uploads under the test settings)


def teacher_upload(filename: str, make: Callable[[Path, Path], bytes]):
    return lambda folder, canary: upload(folder, "teachers", filename, make(folder, canary))


def dataset_upload(filename: str, make: Callable[[Path, Path], bytes]):
    return lambda folder, canary: upload(folder, "datasets", filename, make(folder, canary))


def same(content: bytes | Callable[[], bytes]) -> Callable[[Path, Path], bytes]:
    """A maker that ignores the folder and the canary."""
    return lambda folder, canary: content() if callable(content) else content


def zoo_zip(folder: Path, canary: Path) -> bytes:
    hostile.zoo_folder_with_pth(folder / "mlp", payload=hostile.System(canary))
    return hostile.zip_of({f"mlp/{p.name}": p.read_bytes() for p in (folder / "mlp").iterdir()})


def onnx_archive(location: str, *, tar: bool) -> Callable[[Path, Path], bytes]:
    def make(folder: Path, canary: Path) -> bytes:
        path = hostile.point_at(hostile.save_split(hostile.linear_model(), folder / "model"), location)
        files = {"pack/m/model.onnx": path.read_bytes(), "pack/secret": (folder / "model" / "model.onnx.data").read_bytes()}
        return hostile.tar_of(files) if tar else hostile.zip_of(files)
    return make


def onnx_with_link(folder: Path, canary: Path) -> bytes:
    path = hostile.point_at(hostile.save_split(hostile.linear_model(), folder / "model"), "weights.bin")
    return hostile.zip_of({"m/model.onnx": path.read_bytes()}, symlinks={"m/weights.bin": "/etc/passwd"})


def traversal(kind: str, *, tar: bool = False, absolute: bool = False):
    def make(folder: Path, canary: Path) -> bytes:
        name = str(canary) if absolute else aimed_at(canary, folder, kind)
        files = {"a/1.png": hostile.png(), name: b"pwned"}
        return hostile.tar_of(files) if tar else hostile.zip_of(files)
    return make


def linked(link_type: bytes | None = None):
    """A zip or tar symlink ``b`` to the canary's folder, then ``b/canary`` that would land there
    through it; or a tar hard link to the canary."""
    def make(folder: Path, canary: Path) -> bytes:
        image = {"a/1.png": hostile.png()}
        if link_type == tarfile.LNKTYPE:
            return hostile.tar_of(image, extra=[hostile.tar_member("b", link_type, str(canary))])
        if link_type == tarfile.SYMTYPE:
            link = hostile.tar_member("b", link_type, str(canary.parent))
            return hostile.tar_of(image, extra=[link, tarfile.TarInfo("b/canary")])
        return hostile.zip_through_link(str(canary.parent), image)
    return make


def device(kind_byte: bytes):
    return same(lambda: hostile.tar_of({"a/1.png": hostile.png()}, gz=True,
                                       extra=[hostile.tar_member("a/null", kind_byte)]))


def bomb_past_the_cap(folder: Path, canary: Path):
    """Only the cap stops it: the ratio check is relaxed to 10,000x (the upload's own cap, 1 GiB)."""
    _django_ready()
    from django.conf import settings

    from distillation.archives import ArchiveLimits, extract_archive

    path = folder / "upload.part"
    path.write_bytes(hostile.zip_bomb("a/zeros.png", 1100))
    limits = ArchiveLimits(max_entries=settings.UPLOAD_MAX_ARCHIVE_ENTRIES,
                           max_total_bytes=settings.UPLOAD_MAX_DATASET_UNCOMPRESSED_BYTES, max_ratio=10_000)
    return extract_archive(path, folder / "out", limits)


def too_many_entries(folder: Path, canary: Path) -> bytes:
    _django_ready()
    from django.conf import settings

    return hostile.many_entries_zip(settings.UPLOAD_MAX_ARCHIVE_ENTRIES + 1)


HF_CONFIG = {"model_type": "bert", "architectures": ["BertForSequenceClassification"]}

UPLOADS = [
    Attack("pickle __reduce__ exec, protocol 2, as model.pth", "upload: teacher_store",
           teacher_upload("model.pth", lambda folder, canary: hostile.pickle_payload(canary, 2))),
    Attack("torch zip layout, exec payload, as model.pt", "upload: teacher_store",
           teacher_upload("model.pt", lambda folder, canary: hostile.torch_zip_payload(canary))),
    Attack("torch legacy layout, os.system payload", "upload: teacher_store", teacher_upload(
        "model.pth", lambda folder, canary: hostile.torch_bytes({"x": hostile.System(canary)}, "legacy"))),
    Attack("zoo folder zip, poisoned model.pth", "upload: teacher_store", teacher_upload("mlp.zip", zoo_zip)),
    Attack("HF dir zip with auto_map", "upload: teacher_store",
           teacher_upload("bert.zip", same(lambda: hostile.hf_dir_zip(config={**HF_CONFIG, **hostile.AUTO_MAP})))),
    Attack("HF dir zip with modeling_evil.py", "upload: teacher_store", teacher_upload(
        "bert.zip", lambda folder, canary: hostile.hf_dir_zip(
            extra={"modeling_evil.py": hostile.code_writing(canary).encode()}))),
    Attack("HF dir zip, pytorch_model.bin payload", "upload: teacher_store", teacher_upload(
        "bert.zip", lambda folder, canary: hostile.hf_dir_zip(
            extra={"pytorch_model.bin": hostile.pickle_payload(canary, 2)}))),
    Attack("ONNX in a tar, external data ../secret", "upload: teacher_store",
           teacher_upload("model.tar", onnx_archive("../secret", tar=True))),
    Attack("ONNX in a zip, external data /etc/passwd", "upload: teacher_store",
           teacher_upload("model.zip", onnx_archive("/etc/passwd", tar=False))),
    Attack("ONNX in a zip, data file is a symlink", "upload: teacher_store", teacher_upload("model.zip", onnx_with_link)),
    Attack("zip bomb, 1.1 MB -> 1.1 GiB", "upload: dataset_store",
           dataset_upload("images.zip", same(lambda: hostile.zip_bomb("a/zeros.png", 1100)))),
    Attack("zip bomb, 1.1 MB -> 1.1 GiB, ratio check off", "upload: archives.extract_archive", bomb_past_the_cap),
    Attack("tar.gz bomb, 1.1 MB -> 1.1 GiB", "upload: dataset_store",
           dataset_upload("images.tgz", same(lambda: hostile.tar_gz_bomb("a/zeros.png", 1100)))),
    Attack("zip with ../ entry", "upload: dataset_store", dataset_upload("images.zip", traversal("datasets"))),
    Attack("zip with an absolute entry", "upload: dataset_store",
           dataset_upload("images.zip", traversal("datasets", absolute=True))),
    Attack("tar with ../ entry", "upload: teacher_store", teacher_upload("model.tar", traversal("teachers", tar=True))),
    Attack("tar with an absolute entry", "upload: teacher_store",
           teacher_upload("model.tar", traversal("teachers", tar=True, absolute=True))),
    Attack("zip with a symlink", "upload: dataset_store", dataset_upload("images.zip", linked())),
    Attack("tar with a symlink", "upload: dataset_store", dataset_upload("images.tar", linked(tarfile.SYMTYPE))),
    Attack("tar with a hard link", "upload: dataset_store", dataset_upload("images.tar", linked(tarfile.LNKTYPE))),
    Attack("tar.gz with a character device", "upload: dataset_store", dataset_upload("images.tgz", device(tarfile.CHRTYPE))),
    Attack("tar.gz with a block device", "upload: dataset_store", dataset_upload("images.tgz", device(tarfile.BLKTYPE))),
    Attack("tar.gz with a FIFO", "upload: dataset_store", dataset_upload("images.tgz", device(tarfile.FIFOTYPE))),
    Attack("zip with one entry too many", "upload: dataset_store", dataset_upload("images.zip", too_many_entries),
           slow=True),
    Attack("zip whose header understates an entry", "upload: dataset_store",
           dataset_upload("images.zip", same(hostile.forged_zip))),
    Attack("PNG named data.csv", "upload: dataset_store", dataset_upload("data.csv", same(hostile.png))),
    Attack("exec pickle named data.csv", "upload: dataset_store",
           dataset_upload("data.csv", lambda folder, canary: hostile.pickle_payload(canary, 4))),
    Attack("CSV named model.onnx", "upload: teacher_store", teacher_upload("model.onnx", same(hostile.tabular_csv))),
    Attack("ELF binary named model.onnx", "upload: teacher_store", teacher_upload("model.onnx", same(hostile.ELF))),
    Attack("CSV with a 300,000-char field", "upload: dataset_store",
           dataset_upload("data.csv", same(hostile.HUGE_FIELD_CSV))),
    Attack("JSONL nested 100,000 deep", "upload: dataset_store", dataset_upload("data.jsonl", same(hostile.DEEP_JSONL))),
    Attack("PNG bomb (400 Mpx) in an image zip", "upload: dataset_store",
           dataset_upload("images.zip", same(hostile.images_zip_with_a_bomb))),
]


ATTACKS = ENGINE + UPLOADS


# --- the command


def select(attacks: list[Attack], only: list[str] | None = None, fast: bool = False) -> list[Attack]:
    words = [word.lower() for word in only or []]
    return [a for a in attacks if not (fast and a.slow)
            and (not words or any(w in f"{a.name} {a.entry}".lower() for w in words))]


def summary(outcomes: list[Outcome]) -> str:
    refused = sum(o.refused for o in outcomes)
    canaries = sum(o.canary for o in outcomes)
    crashed = sum(o.message.startswith("crashed:") for o in outcomes)
    accepted = sum(o.message == "accepted" for o in outcomes)
    return (f"{len(outcomes)} tried, {refused} refused ({accepted} accepted, {crashed} crashed), "
            f"{canaries} canaries, {sum(o.seconds for o in outcomes):.1f} s")


def main(argv: list[str] | None = None, attacks: list[Attack] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="WORD", help="attacks whose name or entry point holds a word")
    parser.add_argument("--fast", action="store_true", help="leave out the attacks that start processes or load models")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    args = parser.parse_args(argv)
    chosen = select(ATTACKS if attacks is None else attacks, args.only, args.fast)
    if args.list:
        print(table([{"attack": a.name, "entry point": a.entry, "slow": "yes" if a.slow else ""} for a in chosen]))
        return 0
    print_machine(f"bench/attacks.py {' '.join(argv if argv is not None else sys.argv[1:])}".strip())
    outcomes = run_attacks(chosen)
    print(table([o.row() for o in outcomes]))
    print()
    print(summary(outcomes))
    bad = [o for o in outcomes if not o.refused or o.canary]
    for outcome in bad:
        print(f"NOT REFUSED: {outcome.attack} via {outcome.entry}: {outcome.message}"
              + (" (canary written)" if outcome.canary else ""), file=sys.stderr)
    return 1 if bad or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
