"""The "try it" form: one text, one picture, or one row of features, in the shape the deployed model takes
(read from its job's report: the student's architecture config, as marketplace.usage reads it)."""

from __future__ import annotations

import csv
import io
import math

from django import forms
from django.conf import settings

IMAGE_TYPES = "image/png,image/jpeg"
MAX_TEXT_CHARS = 10_000
MAX_FEATURES = 512  # a wider row is pasted as CSV only: that many number inputs would help nobody


def try_shape(deployment) -> dict:
    """What one input of the model is: ``{"task", "features", "columns", "image_size", "channels"}``."""
    report = deployment.job.report or {}
    architecture = (report.get("student") or {}).get("architecture")
    config = (architecture.get("config") or {}) if isinstance(architecture, dict) else {}
    task = report.get("task", "")
    features = config.get("input_dim") if task == "tabular" else None
    columns = report.get("feature_names") or report.get("columns") or config.get("columns")
    if not (isinstance(columns, list) and features and len(columns) == features):
        columns = [f"feature {n}" for n in range(1, features + 1)] if features else []
    size = config.get("image_size") if task == "image" else None
    return {"task": task, "features": features if features and features <= MAX_FEATURES else None,
            "columns": [str(name) for name in columns] if features and features <= MAX_FEATURES else [],
            "image_size": size, "channels": config.get("in_channels", 1)}


class TryForm(forms.Form):
    """Fields by task: ``text``; ``image``; ``feature_<i>`` per known feature plus ``csv_row`` (a pasted
    row of comma-separated values, which wins when given). ``inputs()`` gives the model's one input."""

    def __init__(self, *args, shape: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.shape = shape
        task = shape["task"]
        if task == "text":
            self.fields["text"] = forms.CharField(label="Text", max_length=MAX_TEXT_CHARS, strip=True,
                                                  widget=forms.Textarea(attrs={"rows": 4}))
        elif task == "image":
            self.fields["image"] = forms.FileField(label="Picture (PNG or JPEG)", help_text=_image_help(shape),
                                                   widget=forms.ClearableFileInput(attrs={"accept": IMAGE_TYPES}))
        else:
            for index, name in enumerate(shape["columns"]):
                self.fields[f"feature_{index}"] = forms.FloatField(
                    label=name, required=False, widget=forms.NumberInput(attrs={"step": "any", "data-feature": index}))
            self.fields["csv_row"] = forms.CharField(
                label="Paste a CSV row", required=not shape["columns"], max_length=100_000,
                help_text=(f"{shape['features']} comma-separated values, in the training file's column order."
                           if shape["features"] else "The feature values, comma-separated, in the training file's column order."),
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "data-csv-row": ""}))

    def clean_image(self):
        image = self.cleaned_data["image"]
        if image.size > settings.PREDICT_MAX_BODY_BYTES:
            raise forms.ValidationError(f"The picture is {image.size:,} bytes; the most is {settings.PREDICT_MAX_BODY_BYTES:,}.")
        return image

    def clean(self):
        cleaned = super().clean()
        if self.shape["task"] in ("text", "image") or self.errors:
            return cleaned
        if cleaned.get("csv_row"):
            cleaned["row"] = self._csv_row(cleaned["csv_row"])
            return cleaned
        missing = [self.fields[f"feature_{i}"].label for i in range(len(self.shape["columns"]))
                   if cleaned.get(f"feature_{i}") is None]
        if missing:
            raise forms.ValidationError(f"Give a value for every feature ({len(missing)} empty: "
                                        f"{', '.join(missing[:3])}{'…' if len(missing) > 3 else ''}), or paste a CSV row.")
        cleaned["row"] = [cleaned[f"feature_{i}"] for i in range(len(self.shape["columns"]))]
        return cleaned

    def _csv_row(self, text: str) -> list[float]:
        rows = list(csv.reader(io.StringIO(text.strip())))
        if len(rows) != 1:
            raise forms.ValidationError({"csv_row": "Paste one row: the values on one line."})
        values = []
        for position, cell in enumerate(rows[0], start=1):
            try:
                value = float(cell.strip())
            except ValueError:
                raise forms.ValidationError({"csv_row": f"Value {position} ({cell.strip()[:20]!r}) is not a number."}) from None
            if not math.isfinite(value):
                raise forms.ValidationError({"csv_row": f"Value {position} is not a finite number."})
            values.append(value)
        expected = self.shape["features"]
        if expected and len(values) != expected:
            raise forms.ValidationError({"csv_row": f"The row has {len(values)} values; the model takes {expected}."})
        return values

    def inputs(self) -> list:
        task = self.shape["task"]
        if task == "text":
            return [self.cleaned_data["text"]]
        if task == "image":
            return [self.cleaned_data["image"].read()]
        return [self.cleaned_data["row"]]


def _image_help(shape: dict) -> str:
    size = shape.get("image_size")
    if not size:
        return "It is scaled to the size the model was trained on."
    colour = "greyscale" if shape.get("channels", 1) == 1 else "colour"
    return f"The model was trained on {colour} pictures of {size[1]}×{size[0]} pixels; others are resized."
