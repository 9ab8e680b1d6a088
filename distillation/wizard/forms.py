"""The wizard's step forms. They only shape what a browser sends (types, choices, labels, help); the
request's rules are ``DistillationRequest``'s, applied to the whole draft (drafts.py), so the
wizard cannot accept what the API refuses."""

from __future__ import annotations

from django import forms

from prsm.engine.config import cuda_present
from prsm.planning import STUDENT_BASES
from prsm.request import AUGMENTATIONS, EXPORT_FORMATS, MAX_SEARCH_SECONDS, DistillationRequest

from ..planning import SEARCH_DEFAULT

OWN_DATA = ""  # the data the catalog teacher was built on
BROWSER_EXPORTS = sorted(EXPORT_FORMATS)


class TeacherForm(forms.Form):
    teacher_model = forms.ChoiceField(label="Teacher", widget=forms.RadioSelect, required=False)
    ensemble_teachers = forms.MultipleChoiceField(
        label="Teach with these too", required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Their outputs are fused with the teacher's, equal weights; the student is built from the teacher "
                  "chosen above. Each teacher adds its fee and a pass over the data. They must take the same kind of data.")
    fusion_strategy = forms.ChoiceField(
        label="Fusion", required=False, initial="weighted_ensemble",
        choices=[("weighted_ensemble", "Mean of their outputs"), ("confidence", "Weighted by confidence"),
                 ("domain_routing", "By domain")],
        help_text="Mean: each teacher's probabilities by its weight. Confidence: on each example, a teacher counts "
                  "more where it is sure. By domain: each example to the teacher of its 'domain' column (give the "
                  "teachers' domains through the API).")
    knowledge_alignment = forms.BooleanField(
        label="Align the teachers' labels by name and calibrate each one", required=False,
        help_text="For teachers whose labels come in another order or include extra ones; each teacher's temperature "
                  "is fitted on the validation data before fusing.")

    source_model = forms.ChoiceField(
        label="Model to adapt", required=False,
        help_text="It teaches on your domain's data and the new model starts as a copy of it, so it keeps its size: "
                  "the teacher chosen above is not used. The next step asks for the domain's labelled examples and, "
                  "if you have them, unlabelled ones.")

    def __init__(self, *args, cards=(), adaptable=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.cards = list(cards)  # the page shows them: read once
        usable = [(card.ref, card.name) for card in cards if card.usable]
        self.fields["teacher_model"].choices = usable
        self.fields["ensemble_teachers"].choices = [(ref, f"Also {name}") for ref, name in usable]
        catalog = [(card.ref, f"{card.name} (catalog)") for card in cards if card.ref.startswith("catalog:")]
        self.fields["source_model"].choices = [("", "None: distil a new model")] + list(adaptable) + catalog

    def clean(self):
        data = super().clean()
        if not data.get("teacher_model") and not data.get("source_model"):
            self.add_error("teacher_model", "Choose a teacher, or a model to adapt.")
        return data

    def values(self) -> dict:
        """An adaptation when a model to adapt is chosen (its source is the teacher); else an ensemble
        only when another teacher is ticked, with its options only then."""
        data = dict(self.cleaned_data)
        if data.get("source_model"):
            return {"source_model": data["source_model"], "adaptation_strategy": "domain_transfer", "teacher_model": None,
                    "ensemble_teachers": None, "fusion_strategy": None, "knowledge_alignment": None}
        plain = {"source_model": None, "adaptation_strategy": None}
        others = [ref for ref in data.get("ensemble_teachers") or [] if ref != data.get("teacher_model")]
        if not others:
            return {"teacher_model": data.get("teacher_model"), "ensemble_teachers": None, "fusion_strategy": None,
                    "knowledge_alignment": None, **plain}
        return {"teacher_model": data.get("teacher_model"), "ensemble_teachers": others,
                "fusion_strategy": None if data.get("fusion_strategy") in ("", "weighted_ensemble") else data["fusion_strategy"],
                "knowledge_alignment": True if data.get("knowledge_alignment") else None, **plain}


class DataForm(forms.Form):
    dataset = forms.ChoiceField(label="Data", widget=forms.RadioSelect, required=False)
    # a domain adaptation's (asked only then)
    target_domain = forms.CharField(label="The domain", required=False, max_length=200,
                                    help_text="What the model is adapted to, in a few words, e.g. product reviews.")
    domain_corpus = forms.ChoiceField(label="Unlabelled examples of the domain", required=False,
                                      help_text="The model being adapted labels them for the new one; optional.")

    def __init__(self, *args, choices=(), own_data: str | None = None, adapting: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_choices = list(choices)  # the page shows them: read once
        self.adapting = adapting
        options = [(OWN_DATA, f"The teacher's own data ({own_data})")] if own_data else []
        listed = [(choice.ref, choice.name) for choice in self.data_choices]
        self.fields["dataset"].choices = options + listed
        if adapting:
            self.fields["domain_corpus"].choices = [("", "None")] + listed
        else:
            del self.fields["target_domain"], self.fields["domain_corpus"]

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        return {"dataset": data.get("dataset"), "target_domain": (data.get("target_domain") or "").strip() or None,
                "domain_corpus": data.get("domain_corpus") or None}


class GoalForm(forms.Form):
    target_size = forms.ChoiceField(label="Target size", widget=forms.RadioSelect, initial="small",
                                    choices=[("small", "Small"), ("medium", "Medium"), ("large", "Large")])
    optimization_target = forms.ChoiceField(label="Optimise for", widget=forms.RadioSelect, initial="speed",
                                            choices=[("speed", "Speed"), ("accuracy", "Accuracy"),
                                                     ("efficiency", "Efficiency")])
    domain = forms.CharField(label="Domain", required=False, max_length=200,
                             help_text="Free text, e.g. sentiment or vision; helps choose the backend. Default: general.")
    target_architecture = forms.ChoiceField(label="Student architecture", required=False, initial="auto",
                                            choices=[("auto", "Chosen for the data"), ("mlp", "MLP"), ("cnn", "CNN"),
                                                     ("transformer", "Transformer")])
    layer_count = forms.IntegerField(label="Layers", required=False, min_value=1, max_value=48,
                                     help_text="Exact student depth; empty: the planner chooses.")
    hidden_size = forms.IntegerField(label="Width", required=False, min_value=1, max_value=8192,
                                     help_text="Exact student width (hidden size); empty: the planner chooses.")
    attention_heads = forms.IntegerField(label="Attention heads", required=False, min_value=1, max_value=64,
                                         help_text="Transformer students only.")
    epochs = forms.IntegerField(label="Epochs", required=False, min_value=1, max_value=200,
                                help_text="Passes over the training data; empty: 10.")
    augmentation_techniques = forms.MultipleChoiceField(
        label="Augmentation", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(name, f"{name} ({task})") for name, task in AUGMENTATIONS.items()],
        help_text="Varied copies of the training inputs; choose those for your data's kind.")
    training_strategy = forms.ChoiceField(
        label="Training strategy", required=False, initial="basic",
        choices=[("basic", "Basic"), ("progressive", "Progressive"), ("adversarial", "Adversarial"),
                 ("curriculum", "Curriculum")],
        help_text="Progressive: a mid-sized assistant learns first and teaches the student, for a student much smaller "
                  "than its teacher. Adversarial: the student also learns on slightly perturbed inputs, so it holds up "
                  "under attack (the report measures it). Curriculum: easy examples first, by the teacher's confidence.")
    export_formats = forms.MultipleChoiceField(label="Export formats", required=False, widget=forms.CheckboxSelectMultiple,
                                               choices=[(name, name) for name in BROWSER_EXPORTS], initial=["safetensors", "onnx"],
                                               help_text="Files you can download; ONNX (or TFLite) is what a deployment serves. keras, "
                                                         "savedmodel and tflite train the student with TensorFlow.")
    backend = forms.ChoiceField(label="Backend", required=False, initial="auto",
                                choices=[("auto", "Chosen for the request"), ("pytorch", "PyTorch"),
                                         ("tensorflow", "TensorFlow (Keras)"), ("transformers", "Hugging Face Transformers")],
                                help_text="Auto: TensorFlow for a TensorFlow export or a phone, Transformers for text, "
                                          "PyTorch otherwise.")
    target_hardware = forms.MultipleChoiceField(
        label="Runs on", required=False, widget=forms.CheckboxSelectMultiple, initial=["cpu"],
        choices=[("cpu", "CPU"), ("mobile", "Phone (TFLite int8, one thread)")],
        help_text="Phone: the limits below hold for the int8 TFLite file on one thread, which is always exported "
                  "and served.")
    max_inference_latency = forms.CharField(label="Maximum latency", required=False, max_length=40,
                                            help_text="Per prediction on this CPU (on a phone target, the int8 file on "
                                                      "one thread), e.g. 5ms; empty: no limit.")
    max_memory_usage = forms.CharField(label="Maximum memory", required=False, max_length=40,
                                       help_text="Weights and activations, e.g. 50MB; empty: no limit.")
    quality_threshold = forms.FloatField(label="Quality threshold", required=False, min_value=0, max_value=1,
                                         initial=0.85, help_text="The least retention (student accuracy / teacher "
                                         "accuracy) to deploy or list the model, e.g. 0.85.")
    seed = forms.IntegerField(label="Seed", required=False, min_value=0, max_value=2**32 - 1,
                              help_text="The same seed repeats a run; default 0.")
    temperature = forms.FloatField(label="Temperature", required=False, min_value=0.01, max_value=100,
                                   help_text="Softens the teacher's outputs so the student sees how sure it is; "
                                             "empty: the search's choice (4 with the search off).")
    alpha = forms.FloatField(label="Alpha", required=False, min_value=0, max_value=1,
                             help_text="Weight of the teacher's outputs against the true labels (0 to 1); empty: "
                                       "the search's choice (0.7 with the search off).")
    search = forms.ChoiceField(label="Search for the best student", required=False, initial=SEARCH_DEFAULT,
                               choices=[("quick", "Quick (default)"), ("thorough", "Thorough"), ("off", "Off")],
                               help_text="Short trials of a few designs, temperatures, alphas and learning rates on "
                                         "the validation data; the best then trains fully. Adds time (the estimate "
                                         "says how much). Thorough tries more; off: the planner's design, "
                                         "temperature 4, alpha 0.7.")
    search_seconds = forms.FloatField(label="Search time limit (seconds)", required=False, min_value=1,
                                      max_value=MAX_SEARCH_SECONDS,
                                      help_text="No new trial starts after this long; empty: the search runs its plan.")
    unlabelled_data = forms.ChoiceField(label="Transfer set", required=False,
                                        help_text="Extra examples without labels that the teacher labels for the student.")
    max_unlabelled_examples = forms.IntegerField(label="Transfer set rows (at most)", required=False, min_value=1,
                                                 max_value=10_000_000, help_text="A seeded sample; empty: all.")
    text_variants = forms.IntegerField(label="Text variants", required=False, min_value=0, max_value=50,
                                       help_text="Text: new versions of each training text for the teacher to label.")
    vocabulary_size = forms.IntegerField(label="Vocabulary size", required=False, min_value=2, max_value=1_000_000,
                                         help_text="Text: the most tokens in the student's vocabulary; empty: every "
                                                   "token the training texts use.")
    student_base = forms.ChoiceField(label="Student base", required=False,
                                     choices=[("", "The teacher's own layers")] + [
                                         (f"builtin:{name}", name) for name in STUDENT_BASES],
                                     help_text="Text: a small pretrained model the student starts from.")

    base_model = forms.ChoiceField(label="Update a model of yours", required=False,
                                   help_text="The student starts as a copy of that job's model and learns this job's data "
                                             "(from the teacher chosen above); the marketplace lists it as the model's "
                                             "next version.")
    preserve_existing_knowledge = forms.BooleanField(
        label="Keep what it knew", required=False,
        help_text="The model's own training data is replayed beside the new data, with the model teaching it; the "
                  "report measures what was forgotten.")
    minimum_accuracy = forms.FloatField(label="Minimum accuracy", required=False, min_value=0, max_value=1,
                                        help_text="A specialty requirement on the test split, e.g. 0.9; a student "
                                                  "under it cannot be deployed.")
    minimum_class_accuracy = forms.FloatField(label="Minimum accuracy of every class", required=False, min_value=0,
                                              max_value=1, help_text="The weakest class on the test split, e.g. 0.8.")

    ADVANCED = ("domain", "target_architecture", "layer_count", "hidden_size", "attention_heads", "epochs",
                "training_strategy", "augmentation_techniques", "export_formats", "backend", "target_hardware", "max_inference_latency",
                "max_memory_usage", "quality_threshold", "seed", "search", "search_seconds", "temperature", "alpha", "unlabelled_data",
                "max_unlabelled_examples", "text_variants", "vocabulary_size", "student_base", "base_model",
                "preserve_existing_knowledge", "minimum_accuracy", "minimum_class_accuracy")
    # form fields that are not request fields: values() turns them into specialty_requirements
    SPECIALTY_FIELDS = {"minimum_accuracy": "accuracy", "minimum_class_accuracy": "per_class_accuracy"}

    # Options whose request default is None ("the engine's"), shown here as what the engine does then.
    ENGINE_DEFAULTS = {"search": SEARCH_DEFAULT}

    def __init__(self, *args, transfer_sets=(), updatable=(), **kwargs):
        initial = dict(kwargs.get("initial") or {})
        for item in initial.get("specialty_requirements") or []:  # a draft's requirements back into the two fields
            for field, name in self.SPECIALTY_FIELDS.items():
                if isinstance(item, dict) and item.get("name") == name and not item.get("data") and not item.get("class_name"):
                    initial[field] = item.get("minimum")
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.fields["base_model"].choices = [("", "None: a new model")] + list(updatable)
        if cuda_present():  # offered only where a job can have it
            self.fields["target_hardware"].choices += [("gpu", "GPU (CUDA)")]
        self.fields["unlabelled_data"].choices = [("", "None")] + [(choice.ref, choice.name) for choice in transfer_sets]

    def advanced_fields(self):
        return [self[name] for name in self.ADVANCED]

    def values(self) -> dict:
        """The draft's values: what the person changed from the defaults (the request applies those)."""
        fields = DistillationRequest.model_fields
        data = dict(self.cleaned_data)
        specialties = [{"name": name, "minimum": data.pop(field)} for field, name in self.SPECIALTY_FIELDS.items()
                       if data.get(field) is not None]
        for field in self.SPECIALTY_FIELDS:
            data.pop(field, None)
        data["specialty_requirements"] = specialties or None
        if data.get("base_model"):
            data["update_strategy"] = "incremental"
        else:
            data["base_model"] = data["preserve_existing_knowledge"] = None
        for name in self.ADVANCED:  # an advanced option left at the request's default is not sent
            if name in self.SPECIALTY_FIELDS or name not in data:
                continue
            default = self.ENGINE_DEFAULTS.get(name, fields[name].get_default(call_default_factory=True))
            if data.get(name) == default or (isinstance(default, list) and sorted(data.get(name) or []) == sorted(default)):
                data[name] = None
        return data


class BudgetForm(forms.Form):
    budget_ftns = forms.CharField(label="Budget (FTNS)", max_length=20,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                                  help_text="The most this job may cost, in whole FTNS. Only the measured cost is "
                                            "charged; the rest of the hold comes back.")

    def values(self) -> dict:
        budget = self.cleaned_data["budget_ftns"].strip()
        return {"budget_ftns": int(budget) if budget.isascii() and budget.isdigit() else budget}


class UploadForm(forms.Form):
    file = forms.FileField(label="File")
    name = forms.CharField(label="Name", required=False, max_length=200, help_text="Shown to you only; optional.")
