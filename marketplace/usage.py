"""Usage documentation for a listing: one short, working Python snippet per verified export, built from
what the engine stores with it (prsm/engine/export/): the ONNX graph's input names and the class labels in
its metadata, the zoo student's design for the weights files, the Hugging Face folder for text students.
Each snippet runs as written next to the downloaded file (tests/test_usage_snippets.py runs them)."""

from __future__ import annotations

import json
import pprint
from pathlib import PurePosixPath

TITLES = {"onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime (int8)", "huggingface": "Transformers",
          "safetensors": "PyTorch with safetensors", "pth": "PyTorch state dict"}
SAMPLE_TEXTS = ["a great film, really fun", "the plot was dull and tedious"]
ROWS = 2  # the example batch every snippet predicts


def listing_usage(*, listing) -> list[dict]:
    """The snippets for the listing's verified exports, in a stable order."""
    exports = list(listing.job.artifacts.filter(verified=True).order_by("format").values_list("format", "path"))
    return usage_snippets(exports=exports, report=listing.job.report or {})


def usage_snippets(*, exports: list[tuple[str, str]], report: dict) -> list[dict]:
    """``exports``: (format, path) of each verified export; ``report``: the job's report.json."""
    files = {name: PurePosixPath(path).name for name, path in exports}
    snippets = []
    for name in sorted(files, key=lambda n: list(TITLES).index(n) if n in TITLES else len(TITLES)):
        code = _snippet(name, files, report)
        if code:
            snippets.append({"format": name, "id": f"usage-{name}", "title": TITLES.get(name, name),
                             "file": files[name], "code": code})
    return snippets


def _snippet(name: str, files: dict[str, str], report: dict) -> str | None:
    task = report.get("task")
    architecture = (report.get("student") or {}).get("architecture")
    if task == "text" and isinstance(architecture, dict) and architecture.get("format") == "prsm-text/1":
        return _light_text(name, files, architecture)
    if name in ("onnx", "onnx-int8"):
        return _onnx_text(files[name], files.get("huggingface")) if task == "text" else _onnx(files[name], task, architecture)
    if name == "huggingface":
        return _transformers(files[name])
    if name in ("safetensors", "pth") and isinstance(architecture, dict):
        if task == "text":
            return _torch_text(name, files[name], architecture, files.get("huggingface"))
        if architecture.get("kind") in ("mlp", "cnn"):
            return _torch_zoo(name, files[name], architecture)
    return None


def _example_input(task: str | None, architecture) -> tuple[str, str]:
    """(a comment on what a row is, the numpy expression of an example batch)."""
    config = (architecture.get("config") or {}) if isinstance(architecture, dict) else {}
    if task == "image" and config.get("image_size"):
        channels, (height, width) = config.get("in_channels", 1), config["image_size"]
        return (f"# one row per picture: {channels} channel{'s' if channels > 1 else ''} "
                f"({'greyscale' if channels == 1 else 'RGB'}) of {height}x{width} pixels scaled to 0..1,\n"
                f"# e.g. np.asarray(Image.open(path).convert(\"{'L' if channels == 1 else 'RGB'}\")"
                f".resize(({width}, {height})), dtype=np.float32) / 255",
                f"np.zeros(({ROWS}, {channels}, {height}, {width}), dtype=np.float32)")
    features = config.get("input_dim")
    return ("# one row per example: the training CSV's feature columns in file order, raw values\n"
            "# (any scaling lives inside the model)",
            f"np.zeros(({ROWS}, {features}), dtype=np.float32)" if features else None)


def _onnx(file: str, task: str | None, architecture) -> str:
    comment, batch = _example_input(task, architecture)
    if batch is None:  # the width comes from the graph itself
        batch = f"np.zeros(({ROWS}, session.get_inputs()[0].shape[1]), dtype=np.float32)"
    return (
        "import json\n\nimport numpy as np\nimport onnxruntime as ort\n\n"
        f'session = ort.InferenceSession("{file}", providers=["CPUExecutionProvider"])\n'
        "labels = json.loads(session.get_modelmeta().custom_metadata_map[\"labels\"])  # the class order\n"
        f"{comment}\n"
        f"x = {batch}\n"
        'logits = session.run(None, {"x": x})[0]  # [batch, classes]\n'
        "print(logits.shape, [labels[i] for i in logits.argmax(axis=1)])\n")


def _onnx_text(file: str, folder: str | None, where: str = "in its Transformers export") -> str:
    folder = folder or "PATH/TO/THE/HUGGINGFACE/EXPORT"
    return (
        "import json\n\nimport numpy as np\nimport onnxruntime as ort\nfrom transformers import AutoTokenizer\n\n"
        f'session = ort.InferenceSession("{file}", providers=["CPUExecutionProvider"])\n'
        "labels = json.loads(session.get_modelmeta().custom_metadata_map[\"labels\"])  # the class order\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")  # the student\'s tokenizer, {where}\n'
        f"texts = {SAMPLE_TEXTS!r}\n"
        'encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="np")\n'
        "feed = {i.name: encoded[i.name].astype(np.int64) for i in session.get_inputs()}\n"
        "logits = session.run(None, feed)[0]  # [batch, classes]\n"
        "print(logits.shape, [labels[i] for i in logits.argmax(axis=1)])\n")


def _transformers(folder: str) -> str:
    return (
        f"# the download is {folder}.zip: unzip it here first (it holds the folder {folder}/)\n"
        "import torch\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer\n\n"
        f'model = AutoModelForSequenceClassification.from_pretrained("{folder}").eval()\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")\n'
        f"texts = {SAMPLE_TEXTS!r}\n"
        'encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")\n'
        "with torch.inference_mode():\n    logits = model(**encoded).logits  # [batch, classes]\n"
        "print(tuple(logits.shape), [model.config.id2label[i] for i in logits.argmax(-1).tolist()])\n")


def _load_line(name: str, file: str) -> tuple[str, str]:
    if name == "safetensors":
        return "from safetensors.torch import load_file\n", f'load_file("{file}")'
    return "", f'torch.load("{file}", map_location="cpu", weights_only=True)'


def _torch_zoo(name: str, file: str, architecture: dict) -> str:
    """The student's design written out in plain PyTorch (no project code), its weights loaded strictly."""
    imports, load = _load_line(name, file)
    config, classes = architecture["config"], architecture["classes"]
    design = _mlp_design(config, len(classes)) if architecture["kind"] == "mlp" else _cnn_design(config, len(classes))
    comment, batch = _example_input(architecture.get("task"), architecture)
    return (
        f"import numpy as np\nimport torch\n{imports}from torch import nn\n\n"
        f"CLASSES = {json.dumps(classes)}\n\n\n{design}\n\n"
        f"model = Student()\nmodel.load_state_dict({load}, strict=True)\nmodel.eval()\n"
        f"{comment}\n"
        f"x = torch.from_numpy({batch})\n"
        "with torch.inference_mode():\n    logits = model(x)  # [batch, classes]\n"
        "print(tuple(logits.shape), [CLASSES[i] for i in logits.argmax(1).tolist()])\n")


def _mlp_design(config: dict, classes: int) -> str:
    widths = [config["input_dim"], *config["hidden"]]
    return (
        "class Student(nn.Module):\n"
        '    """The student\'s design (an MLP): raw features in, scaled inside by the stored mean and std."""\n\n'
        "    def __init__(self):\n        super().__init__()\n"
        f"        self.register_buffer(\"mean\", torch.zeros({config['input_dim']}))\n"
        f"        self.register_buffer(\"std\", torch.ones({config['input_dim']}))\n"
        f"        widths, layers = {widths!r}, []\n"
        "        for before, after in zip(widths, widths[1:]):\n"
        "            layers += [nn.Linear(before, after), nn.ReLU(), nn.Dropout()]\n"
        f"        layers.append(nn.Linear(widths[-1], {classes}))\n"
        "        self.net = nn.Sequential(*layers)\n\n"
        "    def forward(self, x):\n        return self.net((x - self.mean) / self.std.clamp_min(1e-6))\n")


def _cnn_design(config: dict, classes: int) -> str:
    height, width = config["image_size"]
    channels = config["channels"]
    flat = channels[-1] * (height // 2 ** len(channels)) * (width // 2 ** len(channels)) if channels else config["in_channels"] * height * width
    hidden = config.get("hidden") or 0
    head = (f"nn.Flatten(), nn.Dropout(), nn.Linear({flat}, {hidden}), nn.ReLU(), nn.Dropout(), nn.Linear({hidden}, {classes})"
            if hidden else f"nn.Flatten(), nn.Dropout(), nn.Linear({flat}, {classes})")
    return (
        "class Student(nn.Module):\n"
        '    """The student\'s design (a CNN): conv3x3-BN-ReLU-maxpool blocks, then a dense head."""\n\n'
        "    def __init__(self):\n        super().__init__()\n"
        f"        widths, blocks = {[config['in_channels'], *channels]!r}, []\n"
        "        for before, after in zip(widths, widths[1:]):\n"
        "            blocks += [nn.Conv2d(before, after, 3, padding=1, bias=False), nn.BatchNorm2d(after), nn.ReLU(),\n"
        "                       nn.MaxPool2d(2)]\n"
        "        self.features = nn.Sequential(*blocks)\n"
        f"        self.head = nn.Sequential({head})\n\n"
        "    def forward(self, x):\n        return self.head(self.features(x))\n")


def _torch_text(name: str, file: str, architecture: dict, folder: str | None) -> str:
    """A Transformers student's weights into a model built from its stored configuration; the tokenizer
    comes from the Transformers export (the weights alone do not carry it)."""
    imports, load = _load_line(name, file)
    folder = folder or "PATH/TO/THE/HUGGINGFACE/EXPORT"
    return (
        f"import torch\n{imports}from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer\n\n"
        f"config = AutoConfig.for_model(**{pprint.pformat(architecture, width=100, sort_dicts=False)})\n"
        "model = AutoModelForSequenceClassification.from_config(config)\n"
        f"model.load_state_dict({load}, strict=True)\nmodel.eval()\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")  # the student\'s tokenizer, in its Transformers export\n'
        f"texts = {SAMPLE_TEXTS!r}\n"
        'encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")\n'
        "with torch.inference_mode():\n    logits = model(**encoded).logits  # [batch, classes]\n"
        "print(tuple(logits.shape), [model.config.id2label[i] for i in logits.argmax(-1).tolist()])\n")


def _light_text(name: str, files: dict[str, str], architecture: dict) -> str | None:
    """A student of another family than the transformer (an embedding bag, a CNN, a BiLSTM): its
    design written out in plain PyTorch; its tokenizer travels in its safetensors folder."""
    from prsm.engine.backends.transformers import light

    folder = files.get("safetensors")
    tokenizer = f"{folder}/tokenizer" if folder else "PATH/TO/THE/SAFETENSORS/EXPORT/tokenizer"
    if name in ("onnx", "onnx-int8"):
        return _onnx_text(files[name], tokenizer, "in its safetensors export (a folder)")
    if name not in ("safetensors", "pth"):
        return None
    if name == "safetensors":
        imports, load = "import json\n\nfrom safetensors.torch import load_file\n", \
            f'load_file("{folder}/{light.WEIGHTS_FILE}")'
        design = f'architecture = json.load(open("{folder}/{light.ARCHITECTURE_FILE}"))\n'
    else:
        imports, load = "", f'torch.load("{files[name]}", map_location="cpu", weights_only=True)'
        design = f"architecture = {pprint.pformat(architecture, width=100, sort_dicts=False)}\n"
    c = "architecture[\"config\"]"
    return (
        f"{imports}import torch\nfrom torch import nn\nfrom transformers import AutoTokenizer\n"
        "from transformers.modeling_outputs import SequenceClassifierOutput\n\n"
        f"FAMILIES, WINDOWS = {light.FAMILIES!r}, {light.WINDOWS!r}\n\n\n"
        f"{light.source()}\n\n"
        f"{design}"
        f"model = LightTextClassifier(architecture[\"kind\"], {c}[\"vocab_size\"], {c}[\"dim\"], {c}[\"hidden\"],\n"
        f"                            len(architecture[\"classes\"]), {c}[\"padding_id\"])\n"
        f"model.load_state_dict({load}, strict=True)\nmodel.eval()\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{tokenizer}")  # the student\'s tokenizer, in its safetensors export\n'
        f"texts = {SAMPLE_TEXTS!r}\n"
        'encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")\n'
        "with torch.inference_mode():\n"
        '    logits = model(encoded["input_ids"], encoded["attention_mask"]).logits  # [batch, classes]\n'
        'print(tuple(logits.shape), [architecture["classes"][i] for i in logits.argmax(-1).tolist()])\n')
