"""The Transformers backend: text classification students that are smaller transformers of the
teacher's own architecture, sharing its tokenizer, or the first layers of a pretrained base with
its own tokenizer (``student_base``, see ``bases``)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from ...adapters import SequenceAdapter, predict_logits
from ...data.types import TaskData
from ...errors import BadInput
from ...export.onnx import export_onnx, quantize_int8, verify_int8, verify_onnx
from ...export.preprocessing import describe
from ...students.design import Candidate
from ..base import Backend, Student
from . import bases, light, students, vocab
from .export import export_huggingface, export_state_dict
from .objective import TransformerObjective

MIN_STEPS = 300
MIN_CAPPED_COVERAGE = 0.85  # a capped vocabulary the search tries keeps this share of the texts' tokens


class TransformersBackend(Backend):
    name = "transformers"
    tasks = ("text",)
    formats = ("huggingface", "safetensors", "pth", "onnx", "onnx-int8")
    default_exports = formats

    def candidates(self, teacher, train: TaskData, base: str | None = None,
                   vocabulary_size: int | None = None) -> list[Candidate]:
        if base is None and getattr(teacher, "kind", "") != "huggingface":
            raise BadInput("a text student needs a Hugging Face teacher (its tokenizer and architecture), "
                           "or a student_base with its own tokenizer")
        source, max_length = self._source(teacher, base)
        self._length = typical_length(source.tokenizer, max_length, train)
        kept = self.vocabulary(source, train, max_length, vocabulary_size).get("kept_ids")
        if base is not None:
            return students.base_candidates(source, train.classes, max_length, kept)
        return students.candidates(teacher, train.classes, kept)

    def _source(self, teacher, base: str | None):
        """Where the student's tokenizer, vocabulary and first weights come from (the teacher, or
        the base), and its token limit."""
        if base is None:
            return teacher, teacher.adapter.max_length
        student_base = self._base(base)
        return student_base, _max_length(teacher, student_base)

    def _base(self, ref: str) -> bases.StudentBase:
        cache = self.__dict__.setdefault("_bases", {})
        if ref not in cache:
            cache.clear()
            cache[ref] = bases.load_base(ref)
        return cache[ref]

    def vocabulary(self, source, train: TaskData, max_length: int, cap: int | None) -> dict:
        """The trimmed vocabulary of ``source``'s tokenizer (a teacher's or a base's; see ``vocab``),
        worked out once per source and training rows; the same rows always give the same
        vocabulary, so a resumed run rebuilds the same student."""
        key = (source.ref, _rows_digest(train), max_length, cap)
        cache = self.__dict__.setdefault("_vocabularies", {})
        if key not in cache:
            if len(cache) >= 8:  # a search alternates between a few sources and caps
                cache.clear()
            cache[key] = vocab.trim_plan(source.tokenizer, list(train.texts), max_length, cap)
        return cache[key]

    def _layer_plan(self, teacher, train: TaskData, layers: int) -> dict:
        key = (teacher.ref, _rows_digest(train), layers)
        cache = self.__dict__.setdefault("_layer_plans", {})
        if key not in cache:
            cache.clear()
            cache[key] = students.teacher_layer_plan(teacher, train, layers)
        return cache[key]

    def search_candidates(self, teacher, train: TaskData, budget: int, base: str | None = None,
                          vocabulary_size: int | None = None, light_students: bool = True,
                          pretrained: bool = True) -> list[Candidate]:
        """Students of other families for the search: the light ones (``light``: bag, CNN, BiLSTM over
        the same trimmed vocabulary) and, where no base was named, the first layers of each built-in
        pretrained base (``bases``) that fit ``budget``."""
        out = []
        if light_students:
            source, max_length = self._source(teacher, base)
            kept = self.vocabulary(source, train, max_length, vocabulary_size).get("kept_ids")
            tokenizer = vocab.trimmed_tokenizer(source.tokenizer, kept) if kept is not None else source.tokenizer
            out += light.candidates(len(tokenizer), train.classes, tokenizer.pad_token_id or 0, budget)
        if pretrained and base is None:
            for ref in bases.SEARCH_BASES:
                out += self._base_cuts(teacher, train, budget, ref, vocabulary_size)
        return out

    def _base_cuts(self, teacher, train: TaskData, budget: int, ref: str, cap: int | None) -> list[Candidate]:
        """``ref``'s cuts within ``budget`` on the training texts' tokens; and, unless the request
        capped the vocabulary itself, the cut one layer deeper with the vocabulary capped to fit,
        where the cap still covers most of the texts' tokens (a layer against rare words: the
        search weighs them)."""
        try:
            source, max_length = self._source(teacher, ref)
        except BadInput:  # not installed here
            return []
        plan = self.vocabulary(source, train, max_length, cap)
        cuts = students.base_candidates(source, train.classes, max_length, plan.get("kept_ids"))
        for cut in cuts:
            cut.source = {"base": ref, **({"vocabulary_size": cap} if cap is not None else {})}
        out = [cut for cut in cuts if cut.params <= budget]
        deeper = [cut for cut in cuts if cut.params > budget]
        if cap is not None or not deeper:
            return out
        words = plan["kept"]
        capped = (words - math.ceil((deeper[0].params - budget) / source.config.hidden_size)) // 100 * 100
        try:
            capped_plan = self.vocabulary(source, train, max_length, capped) if capped > 0 else None
        except BadInput:  # the cap cannot hold the special tokens and single characters
            capped_plan = None
        if capped_plan is None or capped_plan.get("coverage", 0) < MIN_CAPPED_COVERAGE:
            return out
        for cut in students.base_candidates(source, train.classes, max_length, capped_plan["kept_ids"]):
            if cut.layers == deeper[0].layers and cut.params <= budget:
                cut.name += f"-v{capped}"
                cut.source = {"base": ref, "vocabulary_size": capped}
                out.append(cut)
        return out

    def measure(self, candidate: Candidate, teacher, train: TaskData) -> None:
        if light.family_of(candidate.architecture):
            light.measure(candidate, getattr(self, "_length", 32))
            return
        students.measure(candidate, teacher, getattr(self, "_length", 32))

    def copy_candidate(self, path: str, train: TaskData) -> Candidate:
        """A Hugging Face directory (a finished Transformers job's huggingface/ export, or a catalog
        teacher) kept whole: its own layers, width and tokenizer."""
        model = self._copy_source(path)
        config = model.module.config
        labels = [config.id2label[i] for i in range(config.num_labels)]
        if labels != list(train.classes):
            raise BadInput(f"student_from: the model's labels ({', '.join(labels)}) are not the data's "
                           f"({', '.join(train.classes)}); a copy keeps its outputs, so the labels must be the same")
        return Candidate(name=f"copy of {Path(path).name}", architecture=config.to_dict(),
                         params=int(sum(p.numel() for p in model.module.parameters())), layers=config.num_hidden_layers,
                         width=config.hidden_size, heads=config.num_attention_heads, source={"copy_of": str(path)})

    @staticmethod
    def _copy_source(path: str):
        """The model at ``path``, loaded as a teacher is (safetensors only, no custom code)."""
        from ...teachers import load_teacher

        model = load_teacher(str(path))
        if getattr(model, "kind", "") != "huggingface":
            raise BadInput(f"student_from: {path} is not a Hugging Face directory (a finished Transformers job's "
                           "huggingface/ export)")
        return model

    def build(self, candidate: Candidate, teacher, train: TaskData, seed: int, base: str | None = None,
              vocabulary_size: int | None = None) -> Student:
        from transformers import AutoConfig, AutoModelForSequenceClassification

        if (candidate.source or {}).get("copy_of"):
            import copy

            path = candidate.source["copy_of"]
            model = self._copy_source(path)
            module = copy.deepcopy(model.module).train()
            return Student(module=module, adapter=SequenceAdapter(model.tokenizer, model.adapter.max_length),
                           architecture=module.config.to_dict(), family="transformer",
                           extra={"initialised_from": {"copy_of": path}, "teacher_hidden": module.config.hidden_size,
                                  "kept_ids": None, "base": None, "copy": True})
        if light.family_of(candidate.architecture):
            return self.build_light(candidate, teacher, train, seed, base, vocabulary_size)
        torch.manual_seed(seed)
        config = AutoConfig.for_model(**candidate.architecture)
        module = AutoModelForSequenceClassification.from_config(config)
        source, max_length = self._source(teacher, base)
        plan = self.vocabulary(source, train, max_length, vocabulary_size)
        kept = plan.get("kept_ids")
        if (kept is not None and len(kept) != config.vocab_size) or (kept is None and config.vocab_size != source.config.vocab_size):
            raise BadInput("the student's vocabulary does not match its training rows: start the run again in a fresh folder")
        if base is not None:
            layers = list(range(config.num_hidden_layers))
            initialised = students.initialise_from_teacher(module, source.encoder(), layers, kept,
                                                           key_prefix=module.base_model_prefix + ".")
            initialised = {"base": base, "base_layers": initialised.pop("teacher_layers"), **initialised,
                           "layer_choice": {"rule": "the base's first layers (a pretrained stack cut from the top)"}}
        else:
            layer_plan = self._layer_plan(teacher, train, config.num_hidden_layers)
            initialised = students.initialise_from_teacher(module, teacher.module, layer_plan["teacher_layers"], kept)
            initialised["layer_choice"] = {k: v for k, v in layer_plan.items() if k != "teacher_layers"}
        initialised["vocabulary"] = {k: v for k, v in plan.items() if k != "kept_ids"}
        tokenizer = vocab.trimmed_tokenizer(source.tokenizer, kept) if kept is not None else source.tokenizer
        adapter = SequenceAdapter(tokenizer, max_length)
        return Student(module=module, adapter=adapter, architecture=config.to_dict(), family="transformer",
                       extra={"initialised_from": initialised, "teacher_hidden": source.config.hidden_size,
                              "kept_ids": kept, "base": base})

    def build_light(self, candidate: Candidate, teacher, train: TaskData, seed: int, base: str | None,
                     vocabulary_size: int | None) -> Student:
        torch.manual_seed(seed)
        module = light.build(candidate.architecture)
        source, max_length = self._source(teacher, base)
        plan = self.vocabulary(source, train, max_length, vocabulary_size)
        kept = plan.get("kept_ids")
        words = (source.encoder() if base is not None else teacher.module).get_input_embeddings().weight
        if kept is not None:
            words = words[torch.from_numpy(np.asarray(kept))]
        how = light.start_embeddings(module, words)
        tokenizer = vocab.trimmed_tokenizer(source.tokenizer, kept) if kept is not None else source.tokenizer
        initialised = {"word_embeddings": how, "family": candidate.architecture["kind"],
                       "vocabulary": {k: v for k, v in plan.items() if k != "kept_ids"}, **({"base": base} if base else {})}
        return Student(module=module, adapter=SequenceAdapter(tokenizer, max_length), architecture=candidate.architecture,
                       family=candidate.architecture["kind"],
                       extra={"initialised_from": initialised, "kept_ids": kept, "base": base, "light": True})

    def default_exports_for(self, student: Student) -> tuple[str, ...]:
        return light.FORMATS if student.extra.get("light") else self.default_exports

    def default_settings(self, student: Student, train_rows: int) -> dict:
        """A student whose layers start trained (the teacher's own at its width, or a pretrained
        base's) needs a gentle learning rate; a narrower one, with fresh layers, a larger one."""
        batch = 32
        if student.extra.get("light"):  # fresh layers over projected embeddings: a brisk rate, more steps
            epochs = min(40, max(5, math.ceil(2 * MIN_STEPS / math.ceil(train_rows / batch))))
            return {"learning_rate": 2e-3, "batch_size": batch, "epochs": epochs, "patience": max(3, epochs // 4)}
        pretrained = student.extra.get("base") is not None \
            or student.module.config.hidden_size == student.extra["teacher_hidden"]
        epochs = min(30, max(3, math.ceil(MIN_STEPS / math.ceil(train_rows / batch))))
        return {"learning_rate": 1e-4 if pretrained else 5e-4, "batch_size": batch, "epochs": epochs,
                "patience": max(3, epochs // 4)}

    def objective(self, student: Student, teacher, settings, transfer: list[str]):
        if student.extra.get("light"):
            if transfer != ["logits"]:
                raise BadInput(f"a {student.family} student has no layers to match the teacher's: transfer=['logits']")
            return super().objective(student, teacher, settings, transfer)
        if student.extra.get("base") is not None or student.extra.get("copy"):
            # its own tokenizer (a base's, a copied model's): logits only, cached from the teacher's
            # own encoding of each row
            if transfer != ["logits"]:
                raise BadInput(f"a student started from a copy of a model learns logits only: transfer=['logits'], "
                               f"not {transfer}")
            return super().objective(student, teacher, settings, transfer)
        if "attention" in transfer:
            for model in (student.module, teacher.module):
                model.set_attn_implementation("eager")  # sdpa kernels do not return attention maps
        return TransformerObjective(teacher.module, student.extra["initialised_from"]["teacher_layers"],
                                    student.module.config.hidden_size, teacher.config.hidden_size, transfer,
                                    settings.temperature, settings.alpha, teacher_ids=student.extra.get("kept_ids"))

    def export(self, student: Student, formats: list[str], folder: Path, root: Path, test: TaskData) -> dict:
        unknown = [f for f in formats if f not in self.formats]
        if unknown:
            raise BadInput(f"export format {unknown[0]!r} is not available for {self.name} students ({', '.join(self.formats)})")
        inputs = student.adapter.encode(test.subset(np.arange(min(len(test), 256))))
        expected = predict_logits(student.module, student.adapter, inputs)
        records: dict[str, dict] = {}
        if student.extra.get("light"):
            if "huggingface" in formats:
                raise BadInput(f"a {student.family} student has no Transformers format: export safetensors, pth or onnx")
            records.update(light.export_weights(student, formats, folder, root, inputs, expected))
        elif "huggingface" in formats or "safetensors" in formats:
            records.update(export_huggingface(student, folder / "huggingface", root, inputs, expected, formats))
        if "pth" in formats and not student.extra.get("light"):
            records["pth"] = export_state_dict(student, folder / "model.pth", root, inputs, expected)
        if "onnx" in formats or "onnx-int8" in formats:
            records.update(self._onnx(student, formats, folder, root, inputs, expected, test.labels[: len(expected)],
                                      describe(test, student.adapter)))
        return records

    def _onnx(self, student, formats, folder, root, inputs, expected, labels, preprocessing) -> dict:
        example = {name: array[:2, :8] for name, array in inputs.items()}
        classes = list(student.architecture["classes"]) if student.extra.get("light") else \
            [student.module.config.id2label[i] for i in range(student.module.config.num_labels)]
        path = export_onnx(student.module, student.adapter, example, folder / "model.onnx", classes, preprocessing)
        # the file's preprocessing names this folder: the tokenizer serves beside the .onnx
        student.adapter.tokenizer.save_pretrained(str(folder / preprocessing["tokenizer"]))
        records = {}
        if "onnx" in formats:
            records["onnx"] = verify_onnx(path, inputs, expected, root)
        if "onnx-int8" in formats:
            note = quantize_int8(path, folder / "model.int8.onnx")
            records["onnx-int8"] = verify_int8(folder / "model.int8.onnx", inputs, labels, expected, root, note)
        if "onnx" not in formats:
            path.unlink()
        return records


def _max_length(teacher, base) -> int:
    """The teacher's token limit, within the base's positions."""
    limit = getattr(getattr(teacher, "adapter", None), "max_length", None) or 128
    positions = getattr(base.config, "max_position_embeddings", None)
    return min(limit, positions) if positions else limit


def typical_length(tokenizer, max_length: int, train: TaskData) -> int:
    inputs = SequenceAdapter(tokenizer, max_length).encode(train.subset(np.arange(min(len(train), 512))))
    return students.typical_length(inputs)


def _rows_digest(rows: TaskData) -> str:
    return hashlib.sha256("\0".join(rows.texts).encode() + rows.labels.tobytes()).hexdigest()


BACKEND = TransformersBackend()
