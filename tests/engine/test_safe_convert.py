"""PyTorch pickles: scanned without unpickling, converted once in a confined child, used only as safetensors.

Every malicious file is generated here. Each payload would write a canary file if it were ever
unpickled; no test may find the canary.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile

import pytest
import torch
from safetensors.torch import load_file

from prsm.engine.errors import BadInput
from prsm.engine.pickle_scan import PickleRefused, ScanLimits, scan_checkpoint
from prsm.engine.safe_convert import (
    ConversionFailed,
    ConvertLimits,
    _convert,
    convert_pickle_to_safetensors,
    safetensors_name,
)


class Exec:
    def __init__(self, canary) -> None:
        self.canary = str(canary)

    def __reduce__(self):
        return exec, (f"open({self.canary!r}, 'w').write('unpickled')",)


class System(Exec):
    def __reduce__(self):
        return os.system, (f"touch {self.canary}",)


class Popen(Exec):
    def __reduce__(self):
        return subprocess.Popen, (["touch", self.canary],)


PAYLOADS = {"builtins.exec": Exec, f"{os.system.__module__}.system": System, "subprocess.Popen": Popen}


def state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3))
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def save(obj, path, layout: str):
    """``torch.save`` itself, in the zip layout or the legacy single-file one (pickling never runs a payload)."""
    torch.save(obj, path, _use_new_zipfile_serialization=layout == "zip")
    return path


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    yield path
    assert not path.exists(), "a payload ran"


# --- the scan


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("forbidden", list(PAYLOADS))
def test_a_reduce_payload_is_refused_naming_the_import(tmp_path, canary, layout, forbidden):
    path = save({"weights": PAYLOADS[forbidden](canary)}, tmp_path / "model.pth", layout)

    with pytest.raises(PickleRefused) as refused:
        convert_pickle_to_safetensors(path, tmp_path / "out")

    assert str(refused.value) == f"model.pth: refused: the pickle imports {forbidden}, which is not a tensor type"
    assert refused.value.imports == (forbidden,)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_poisoned_checkpoint_is_refused(tmp_path, canary, layout):
    poisoned = {**state_dict(), "num_batches_tracked": Exec(canary)}
    path = save({"state_dict": poisoned, "epoch": 3}, tmp_path / "checkpoint.pt", layout)

    with pytest.raises(PickleRefused, match="imports builtins.exec"):
        convert_pickle_to_safetensors(path, tmp_path / "out")


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_a_plain_pickle_of_any_protocol_is_read_without_running_it(tmp_path, canary, protocol):
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps(System(canary), protocol=protocol))

    with pytest.raises(PickleRefused, match=f"imports {os.system.__module__}.system"):
        scan_checkpoint(path)


def test_stack_global_names_read_back_from_the_memo_are_still_seen(tmp_path, canary):
    # protocol 4: push "builtins", memoize it, push "exec", then read "builtins" back from the memo
    ops = (b"\x80\x04" + b"\x8c\x08builtins\x94" + b"\x8c\x04exec\x94" + b"0" + b"h\x00" + b"h\x01" + b"\x93"
           + b"\x8c\x05print\x85R.")
    assert [op.name for op, _, _ in pickletools.genops(ops)][-3:] == ["TUPLE1", "REDUCE", "STOP"]
    path = tmp_path / "model.bin"
    path.write_bytes(ops)

    with pytest.raises(PickleRefused, match="imports builtins.exec"):
        scan_checkpoint(path)


def test_a_stack_global_whose_names_are_computed_is_refused(tmp_path):
    # the module name is the result of a call, which only running the pickle would reveal
    ops = (b"\x80\x04" + b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R" + b"\x8c\x04exec\x93" + b")R.")
    path = tmp_path / "model.bin"
    path.write_bytes(ops)

    with pytest.raises(PickleRefused, match="a name computed while unpickling") as refused:
        scan_checkpoint(path)
    assert refused.value.imports  # a likely attack: flagged


def test_a_torch_zip_with_the_payload_in_another_pickle_member_is_refused(tmp_path, canary):
    path = save(state_dict(), tmp_path / "model.pth", "zip")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model/extra.pkl", pickle.dumps(Exec(canary), protocol=2))

    with pytest.raises(PickleRefused, match="builtins.exec"):
        scan_checkpoint(path)


def test_what_a_plain_state_dict_imports_is_allowed(tmp_path):
    for layout in ("zip", "legacy"):
        scan = scan_checkpoint(save(state_dict(), tmp_path / f"{layout}.pth", layout))
        assert scan.layout == layout
        assert scan.imports == {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage",
                                "torch.LongStorage"}


def test_files_past_the_limits_are_refused_before_anything_is_read(tmp_path):
    path = save(state_dict(), tmp_path / "model.pth", "zip")
    members = len(zipfile.ZipFile(path).namelist())

    with pytest.raises(PickleRefused, match="more than the 100 accepted"):
        scan_checkpoint(path, ScanLimits(max_file_bytes=100))
    with pytest.raises(PickleRefused, match="zip members"):
        scan_checkpoint(path, ScanLimits(max_members=members - 1))
    with pytest.raises(PickleRefused, match="once uncompressed"):
        scan_checkpoint(path, ScanLimits(max_uncompressed_bytes=100))
    with pytest.raises(PickleRefused, match="larger than the scan accepts"):
        scan_checkpoint(save(state_dict(), tmp_path / "legacy.pth", "legacy"), ScanLimits(max_pickle_bytes=100))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_a_torchscript_archive_and_a_zip_that_is_no_checkpoint_are_refused(tmp_path):
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
    other = tmp_path / "other.pt"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(PickleRefused, match="TorchScript"):
        scan_checkpoint(script)
    with pytest.raises(PickleRefused, match="no single <name>/data.pkl"):
        scan_checkpoint(other)


# --- the conversion


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_benign_state_dict_converts_and_the_tensors_match_exactly(tmp_path, layout):
    weights = state_dict()
    weights["transposed"] = torch.arange(12.0).reshape(3, 4).t()  # not contiguous
    weights["slice"] = weights["0.weight"][1:]  # shares storage with 0.weight
    weights["tied"] = weights["2.weight"]  # the same tensor under two names
    path = save({"state_dict": weights, "epoch": 7}, tmp_path / "model.pth", layout)

    out = convert_pickle_to_safetensors(path, tmp_path / "out")

    assert out == tmp_path / "out" / "model.safetensors"
    loaded = load_file(out)
    assert set(loaded) == set(weights) - {"tied"}
    for name, tensor in loaded.items():
        assert torch.equal(tensor, weights[name]) and tensor.dtype == weights[name].dtype, name
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.safetensors"]  # no partial file left


def test_something_other_than_a_state_dict_is_refused_with_the_reason(tmp_path):
    for content, reason in (([torch.ones(2)], "holds list, not a state dict"), ({"w": torch.ones(2), "lr": 0.1},
                                                                               "'lr' is a float, not a tensor")):
        path = save(content, tmp_path / "model.pth", "zip")
        with pytest.raises(ConversionFailed, match=reason):
            convert_pickle_to_safetensors(path, tmp_path / "out")


def test_past_the_scan_the_guarded_load_still_refuses_code(tmp_path, canary):
    """Were the scan ever fooled, ``torch.load(weights_only=True)`` in the child refuses the global too."""
    path = save({"w": torch.ones(2), "x": System(canary)}, tmp_path / "model.pth", "zip")

    with pytest.raises(ConversionFailed, match=f"unsupported GLOBAL {os.system.__module__}.system"):
        _convert(path, tmp_path / "out", "model.safetensors", "zip", ConvertLimits(), "model.pth")


class _Storage:
    pass


class _HugeTensor:
    def __init__(self, storage, numel: int) -> None:
        self.storage, self.numel = storage, numel

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict())


def legacy_checkpoint_claiming(numel: int) -> bytes:
    """The legacy layout by hand: its storage record claims ``numel`` floats, which the loader
    allocates before reading a byte of them."""
    storage = _Storage()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj is storage else None

    buffer = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, buffer, protocol=2)
    Pickler(buffer, protocol=2).dump({"w": _HugeTensor(storage, numel)})
    pickle.dump(["0"], buffer, protocol=2)
    return buffer.getvalue()


def test_a_storage_claiming_more_memory_than_allowed_stops_the_child_not_the_caller(tmp_path):
    path = tmp_path / "huge.pth"
    path.write_bytes(legacy_checkpoint_claiming(1 << 29))  # 2 GiB of floats: past the limit below, not the machine
    assert scan_checkpoint(path).layout == "legacy"  # nothing forbidden: only the limits stop it

    with pytest.raises(ConversionFailed, match="more memory than the conversion is allowed"):
        convert_pickle_to_safetensors(path, tmp_path / "out", limits=ConvertLimits(memory_headroom_bytes=256 << 20))

    # the caller carries on: the next file converts
    good = convert_pickle_to_safetensors(save(state_dict(), tmp_path / "good.pth", "zip"), tmp_path / "out")
    assert set(load_file(good)) == set(state_dict())


def test_a_conversion_past_its_wall_clock_limit_is_stopped(tmp_path):
    path = save(state_dict(), tmp_path / "model.pth", "zip")

    with pytest.raises(ConversionFailed, match="took longer than 0.2 s"):
        convert_pickle_to_safetensors(path, tmp_path / "out", limits=ConvertLimits(wall_seconds=0.2))


CONFINED = """
import json, os, socket, sys
from pathlib import Path
from prsm.engine.safe_convert import _confine
out = Path(sys.argv[1])
_confine(out, {"file_bytes": 1000, "memory_headroom_bytes": 1 << 30, "max_memory_bytes": 2 << 30, "cpu_seconds": 30,
               "open_files": 64, "max_output_bytes": 1 << 20})
results = {}
for name, attempt in {
    "socket": lambda: socket.socket(),
    "connect": lambda: socket.create_connection(("127.0.0.1", 5432)),
    "system": lambda: os.system("touch " + sys.argv[2]),
    "popen": lambda: __import__("subprocess").Popen(["touch", sys.argv[2]]),
    "write elsewhere": lambda: open(sys.argv[2], "w"),
    "write the output": lambda: open(out, "w").close(),
}.items():
    try:
        attempt()
        results[name] = "allowed"
    except (PermissionError, OSError) as error:
        results[name] = "blocked"
print(json.dumps(results))
"""


def test_the_child_cannot_open_sockets_start_processes_or_write_outside_its_output(tmp_path, canary):
    out = tmp_path / "out" / "model.safetensors"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-I", "-c", CONFINED, str(out), str(canary)], capture_output=True, text=True,
                            timeout=60)

    assert json.loads(result.stdout.splitlines()[-1]) == {
        "socket": "blocked", "connect": "blocked", "system": "blocked", "popen": "blocked",
        "write elsewhere": "blocked", "write the output": "allowed"}, result.stderr


def test_hugging_face_names_are_kept():
    assert safetensors_name("pytorch_model.bin") == "model.safetensors"
    assert safetensors_name("pytorch_model-00001-of-00002.bin") == "model-00001-of-00002.safetensors"
    assert safetensors_name("model.pth") == "model.safetensors"


# --- teachers given by a local path


@pytest.fixture
def prsm_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("PRSM_HOME", str(home))
    return home


def zoo_folder_with_pth(folder, payload=None):
    from prsm.engine.zoo import build_model

    architecture = {"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": ["a", "b", "c"],
                    "config": {"input_dim": 5, "hidden": [4], "dropout": 0.0}}
    torch.manual_seed(1)
    weights = build_model(architecture).state_dict()
    folder.mkdir(parents=True)
    (folder / "architecture.json").write_text(json.dumps(architecture))
    save({**weights, **({"extra": payload} if payload else {})}, folder / "model.pth", "zip")
    return weights


def test_a_zoo_teacher_with_pth_weights_loads_from_a_converted_copy(tmp_path, prsm_home):
    from prsm.engine.teachers import load_teacher

    folder = tmp_path / "mlp"
    weights = zoo_folder_with_pth(folder)

    teacher = load_teacher(str(folder))
    again = load_teacher(str(folder / "model.pth"))  # the weights file names its folder

    assert teacher.kind == "zoo" and teacher.path.parent == prsm_home / "converted"
    assert sorted(p.name for p in teacher.path.iterdir()) == ["architecture.json", "model.safetensors"]
    for name, tensor in teacher.module.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
    assert again.path == teacher.path  # converted once, then reused
    assert sorted(p.name for p in folder.iterdir()) == ["architecture.json", "model.pth"]  # the original is untouched


def test_a_zoo_teacher_with_poisoned_weights_is_refused(tmp_path, prsm_home, canary):
    from prsm.engine.teachers import load_teacher

    folder = tmp_path / "mlp"
    zoo_folder_with_pth(folder, payload=Exec(canary))

    with pytest.raises(BadInput, match="model.pth: refused: the pickle imports builtins.exec"):
        load_teacher(str(folder))
    assert not any((prsm_home / "converted").glob("mlp-*"))


def test_a_hugging_face_teacher_with_pytorch_model_bin_loads_from_a_converted_copy(tmp_path, prsm_home, canary):
    from prsm.engine.teachers import load_teacher

    from .conftest import tiny_bert_classifier

    folder = tmp_path / "tiny-bert"
    model, tokenizer = tiny_bert_classifier(seed=2)
    tokenizer.save_pretrained(folder)
    model.config.save_pretrained(folder)
    save(model.state_dict(), folder / "pytorch_model.bin", "zip")
    (folder / "training_args.bin").write_bytes(pickle.dumps(Exec(canary), protocol=2))  # never read

    teacher = load_teacher(str(folder))

    assert teacher.kind == "huggingface" and teacher.classes == ["neg", "pos"]
    assert (teacher.path / "model.safetensors").is_file() and not list(teacher.path.glob("*.bin"))
    expected = model.state_dict()
    for name, tensor in teacher.module.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_pickled_weights_alone_are_not_a_teacher(tmp_path):
    from prsm.engine.teachers import load_teacher

    path = save(state_dict(), tmp_path / "model.pth", "zip")

    with pytest.raises(BadInput, match="pickled weights alone are not a teacher"):
        load_teacher(str(path))
