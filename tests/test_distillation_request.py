"""DistillationRequest: every seed field accepted or refused by name, with its own message."""

import pytest
from pydantic import ValidationError

from prsm.request import DistillationRequest, parse_duration_ms, parse_size_bytes, request_errors


def _errors(**fields) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        DistillationRequest(**fields)
    return {e["field"]: e["message"] for e in request_errors(caught.value)}


def test_the_seed_example_is_a_valid_request():
    request = DistillationRequest(
        teacher_model="catalog:sentiment-minilm",
        domain="sentiment",
        target_size="small",
        optimization_target="speed",
        budget_ftns=1000,
        quality_threshold=0.85,
    )

    assert request.teacher == "catalog:sentiment-minilm"
    assert DistillationRequest.model_validate_json(request.model_dump_json()) == request


@pytest.mark.parametrize(
    ("text", "milliseconds"), [("100ms", 100.0), ("0.5s", 500.0), ("2 seconds", 2000.0), (250, 250.0), ("750us", 0.75)]
)
def test_latency_limits_parse_to_milliseconds(text, milliseconds):
    assert parse_duration_ms(text) == milliseconds


@pytest.mark.parametrize(("text", "size"), [("1GB", 10**9), ("512MiB", 512 * 2**20), ("64 kb", 64_000), (2048, 2048)])
def test_memory_limits_parse_to_bytes(text, size):
    assert parse_size_bytes(text) == size


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"max_inference_latency": "100 parsecs"}, "max_inference_latency", "is not a duration"),
        ({"max_inference_latency": "-5ms"}, "max_inference_latency", "is not a duration"),
        ({"max_memory_usage": "1 GB of RAM"}, "max_memory_usage", "is not a size"),
        ({"quality_threshold": 1.5}, "quality_threshold", "between 0 and 1"),
        ({"budget_ftns": "lots"}, "budget_ftns", "valid integer"),
        ({"budget_ftns": 0}, "budget_ftns", "greater than or equal to 1"),
        ({"target_size": "huge"}, "target_size", "'small', 'medium' or 'large'"),
        ({"export_formats": ["gguf"]}, "export_formats", "unknown export format 'gguf'"),
        ({"huggingface_hub_push": True}, "huggingface_hub_push", "runs offline"),
        ({"training_strategy": "distillation"}, "training_strategy", "'basic', 'progressive', 'adversarial' or 'curriculum'"),
        ({"target_hardware": "tpu"}, "target_hardware", "'tpu' is not one of cpu, mobile, gpu"),
        ({"target_hardware": []}, "target_hardware", "give a hardware name or a list"),
        ({"target_hardware": ["mobile"], "export_formats": ["onnx"]}, "target_hardware",
         "export format 'onnx' is not one of its"),
        ({"colour": "blue"}, "colour", "unknown field"),
    ],
)
def test_each_bad_field_is_named_with_its_own_message(fields, field, fragment):
    errors = _errors(teacher_model="catalog:digits-mlp", **fields)

    assert field in errors
    assert fragment in errors[field]


def test_teacher_weights_must_sum_to_one():
    errors = _errors(teacher_models=[{"model": "a", "weight": 0.5}, {"model": "b", "weight": 0.4}])

    assert errors == {"teacher_models": "teacher weights must sum to 1; they sum to 0.9"}


def test_a_teacher_is_required_and_only_one_way():
    assert "teacher_model" in _errors()
    assert "not both" in _errors(teacher_model="a", teacher_models=[{"model": "a", "weight": 1}])["teacher_models"]


def test_a_single_weighted_teacher_is_the_teacher():
    assert DistillationRequest(teacher_models=[{"model": "catalog:digits-mlp", "weight": 1.0}]).teacher == "catalog:digits-mlp"


def test_every_seed_field_is_accepted_in_its_own_shape():
    update = DistillationRequest(base_model="runs/digits", update_strategy="incremental", preserve_existing_knowledge=True,
                                 new_knowledge_domains=["moved digits"], dataset="new.csv")
    assert update.update_kind == "incremental" and update.teacher == "runs/digits"
    adaptation = DistillationRequest(source_model="catalog:sentiment-minilm", target_domain="product reviews",
                                     domain_corpus="reviews.txt", adaptation_strategy="domain_transfer",
                                     dataset="labelled.csv", specialty_requirements=[
                                         {"name": "per_class_accuracy", "minimum": 0.8, "class_name": "neg"}])
    assert adaptation.update_kind == "adaptation" and adaptation.teacher == "catalog:sentiment-minilm"
    assert DistillationRequest.model_validate_json(adaptation.model_dump_json()) == adaptation


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"teacher_model": "t", "update_strategy": "incremental"}, "update_strategy", "give base_model"),
        ({"teacher_model": "t", "preserve_existing_knowledge": True}, "preserve_existing_knowledge", "give base_model"),
        ({"teacher_model": "t", "domain_corpus": "c.txt"}, "domain_corpus", "give source_model"),
        ({"base_model": "b", "source_model": "s", "dataset": "d"}, "source_model", "give one"),
        ({"source_model": "s", "teacher_model": "t", "dataset": "d"}, "source_model", "the source is the teacher"),
        ({"source_model": "s"}, "dataset", "labelled examples"),
        ({"base_model": "b"}, "dataset", "learns new data"),
        ({"base_model": "b", "dataset": "d", "update_strategy": "rewrite"}, "update_strategy", "'incremental'"),
        ({"teacher_model": "t", "specialty_requirements": {"medical_terminology": 0.9}}, "specialty_requirements[0].name",
         "unknown specialty check 'medical_terminology'"),
        ({"teacher_model": "t", "specialty_requirements": ["accuracy"]}, "specialty_requirements", "needs a minimum"),
        ({"teacher_model": "t", "specialty_requirements": ["legal_terms"]}, "specialty_requirements",
         "unknown specialty check 'legal_terms'"),
    ],
)
def test_an_update_or_adaptation_that_cannot_be_made_is_refused_naming_the_field(fields, field, fragment):
    errors = _errors(**fields)
    assert field in errors, errors
    assert fragment in errors[field]


def test_a_mobile_target_exports_the_int8_tflite_file_the_phone_runs():
    request = DistillationRequest(teacher_model="catalog:digits-mlp", target_hardware=["CPU", "mobile"])
    assert request.target_hardware == ["cpu", "mobile"]
    assert request.export_formats == ["keras", "tflite", "tflite-int8"]
    assert DistillationRequest.model_validate_json(request.model_dump_json()) == request
    named = DistillationRequest(teacher_model="catalog:digits-mlp", target_hardware="mobile", export_formats=["savedmodel"])
    assert named.target_hardware == ["mobile"] and named.export_formats == ["savedmodel", "tflite-int8"]
    assert DistillationRequest(teacher_model="catalog:digits-mlp").target_hardware == ["cpu"]


def test_a_gpu_target_is_refused_where_no_cuda_device_is_present(monkeypatch):
    import prsm.engine.config as engine_config

    monkeypatch.setattr(engine_config, "cuda_present", lambda: False)
    assert "gpu needs a CUDA device" in _errors(teacher_model="catalog:digits-mlp", target_hardware="gpu")["target_hardware"]
    monkeypatch.setattr(engine_config, "cuda_present", lambda: True)
    assert DistillationRequest(teacher_model="catalog:digits-mlp", target_hardware="gpu").target_hardware == ["gpu"]



def test_an_ensemble_of_weighted_teachers_is_designed_from_the_heaviest_and_goes_to_the_engine():
    from prsm.planning import request_to_config

    request = DistillationRequest(teacher_models=[{"model": "catalog:a", "weight": 0.3},
                                                 {"model": "catalog:b", "weight": 0.7}],
                                  ensemble_teachers=True, fusion_strategy="confidence", knowledge_alignment=True)
    assert request.teacher == "catalog:b" and request.is_ensemble
    config = request_to_config(request, teacher="/stored/b", dataset="builtin:digits", backend="pytorch", epochs=2,
                               engine_teachers={"catalog:a": "/stored/a", "catalog:b": "/stored/b"})
    assert config["teacher"] == "/stored/b"
    assert config["ensemble"] == {"members": [{"teacher": "/stored/a", "weight": 0.3, "domain": None},
                                              {"teacher": "/stored/b", "weight": 0.7, "domain": None}],
                                  "fusion": "confidence", "align": True}
    assert DistillationRequest.model_validate_json(request.model_dump_json()) == request


def test_ensemble_teachers_as_a_list_adds_equal_teachers_after_teacher_model():
    request = DistillationRequest(teacher_model="catalog:a", ensemble_teachers=["catalog:b", "catalog:c"])
    assert request.teachers == [("catalog:a", 1 / 3, None), ("catalog:b", 1 / 3, None), ("catalog:c", 1 / 3, None)]
    assert request.teacher == "catalog:a"
    alone = DistillationRequest(ensemble_teachers=["catalog:b", "catalog:c"])
    assert alone.teacher == "catalog:b"
    assert abs(sum(m["weight"] for m in alone.ensemble_config()["members"]) - 1) < 1e-12
    assert DistillationRequest(teacher_model="catalog:a").ensemble_config() is None


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"teacher_model": "catalog:a", "ensemble_teachers": True}, "ensemble_teachers", "two teachers or more"),
        ({"teacher_model": "catalog:a", "fusion_strategy": "confidence"}, "fusion_strategy", "two or more"),
        ({"teacher_model": "catalog:a", "knowledge_alignment": True}, "knowledge_alignment", "two or more"),
        ({"teacher_model": "catalog:a", "fusion_strategy": "vote"}, "fusion_strategy", "'weighted_ensemble'"),
        ({"teacher_model": "catalog:a", "ensemble_teachers": ["catalog:a"]}, "teacher_models", "named twice"),
        ({"teacher_models": [{"model": "a", "weight": 0.5}, {"model": "b", "weight": 0.5}],
          "ensemble_teachers": ["c"]}, "ensemble_teachers", "in one place"),
        ({"ensemble_teachers": ["a", "b"], "fusion_strategy": "domain_routing"}, "fusion_strategy", "give a domain"),
        ({"teacher_models": [{"model": "a", "weight": 0.5, "domain": "law"}, {"model": "b", "weight": 0.5}]},
         "teacher_models", "domain_routing"),
        ({"ensemble_teachers": ["catalog:digits-mlp", "b"], "augmentation_techniques": ["noise"]},
         "augmentation_techniques", "once per example"),
        ({"ensemble_teachers": ["catalog:a", "gpt-4"]}, "teacher_models", "over HTTP"),
    ],
)
def test_an_ensemble_that_cannot_be_made_is_refused_naming_the_field(fields, field, fragment):
    errors = _errors(**fields)
    assert field in errors, errors
    assert fragment in errors[field]


def test_the_seeds_strategies_reach_the_engine_from_training_strategy_and_augmentation_names():
    from prsm.planning import request_to_config

    request = DistillationRequest(teacher_model="catalog:digits-mlp", training_strategy="progressive",
                                  augmentation_techniques=["adversarial", "curriculum"])
    assert request.strategies == ["progressive", "adversarial", "curriculum"]
    assert request.augmentation_task is None  # strategies, not augmentations of the data
    config = request_to_config(request, teacher="catalog:digits-mlp", dataset="builtin:digits", backend="pytorch",
                               epochs=2)
    assert config["strategies"] == ["progressive", "adversarial", "curriculum"] and config["augment"] is False


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"augmentation_techniques": ["paraphrase"]}, "augmentation_techniques", "none can be had offline"),
        ({"training_strategy": "adversarial", "augmentation_techniques": ["noise"]}, "training_strategy",
         "use one or the other"),
        ({"augmentation_techniques": ["curriculum", "noise"]}, "augmentation_techniques", "use one or the other"),
        ({"adversarial_epsilon": 0.1}, "adversarial_epsilon", "training_strategy='adversarial'"),
        ({"training_strategy": "curriculum", "alpha": 0}, "alpha", "labels alone"),
    ],
)
def test_a_strategy_that_cannot_be_had_is_refused_naming_the_field(fields, field, fragment):
    errors = _errors(teacher_model="catalog:digits-mlp", **fields)
    assert field in errors, errors
    assert fragment in errors[field]


def test_adversarial_training_of_a_text_teacher_is_a_strategy_of_the_request():
    request = DistillationRequest(teacher_model="catalog:sentiment-minilm", augmentation_techniques=["adversarial"])
    assert request.strategies == ["adversarial"] and request.augmentation_task is None
