import pytest

from prsm.planning import BackendRefused, backend_choose


@pytest.mark.parametrize(
    ("domain", "kind", "task", "backend"),
    [
        ("sentiment", "huggingface", "text", "transformers"),
        ("anything at all", "huggingface", None, "transformers"),
        ("customer reviews", "onnx", None, "transformers"),
        ("sentiment", "zoo", "tabular", "pytorch"),  # the teacher's own task outranks a word in the domain
        ("fashion photos", "zoo", None, "pytorch"),
        ("credit risk", "onnx", None, "pytorch"),
    ],
)
def test_the_backend_follows_the_teacher_first_and_the_domain_second(domain, kind, task, backend):
    chosen, reason = backend_choose(domain=domain, teacher_kind=kind, task=task)

    assert chosen == backend
    assert reason


def test_a_mobile_target_picks_tensorflow_and_a_word_in_the_domain_does_not():
    chosen, reason = backend_choose(domain="digits", teacher_kind="zoo", task="tabular", target_hardware=["cpu", "mobile"])
    assert chosen == "tensorflow" and "int8 TFLite" in reason
    assert backend_choose(domain="mobile camera app", teacher_kind="zoo", task="image")[0] == "pytorch"


def test_a_mobile_target_or_a_tensorflow_format_for_a_text_teacher_gets_a_keras_bag_unless_it_is_remote():
    for fields in ({"target_hardware": ["mobile"]}, {"exports": ["tflite-int8"]}):
        chosen, reason = backend_choose(domain="reviews", teacher_kind="huggingface", task="text", **fields)
        assert chosen == "tensorflow" and "embedding-bag student in Keras" in reason
    with pytest.raises(BackendRefused, match="a teacher over HTTP has none here") as refused:
        backend_choose(domain="reviews", teacher_kind="http", task="text", target_hardware=["mobile"])
    assert refused.value.field == "target_hardware"


@pytest.mark.parametrize(
    ("requested", "kind", "task", "fields", "fragment"),
    [
        ("pytorch", "huggingface", "text", {}, "this teacher reads text"),
        ("transformers", "onnx", "tabular", {}, "takes tabular data or images"),
        ("pytorch", "zoo", "image", {"target_hardware": ["mobile"]}, "a mobile target"),
        ("transformers", "huggingface", "text", {"exports": ["tflite"]}, "has no TensorFlow form"),
    ],
)
def test_a_named_backend_that_cannot_serve_the_request_is_refused_with_the_reason(requested, kind, task, fields,
                                                                                   fragment):
    with pytest.raises(BackendRefused, match=fragment) as refused:
        backend_choose(domain="anything", teacher_kind=kind, task=task, requested=requested, **fields)
    assert refused.value.field in ("backend", "target_hardware")


def test_a_named_backend_that_can_serve_the_request_is_taken_and_said_to_be_asked_for():
    assert backend_choose(domain="digits", teacher_kind="zoo", task="tabular", requested="tensorflow") == \
        ("tensorflow", "asked for (backend=tensorflow)")
    assert backend_choose(domain="photos", teacher_kind="onnx", task="image", requested="pytorch")[0] == "pytorch"
    # a PyTorch student is copied into Keras for a TensorFlow format
    chosen, reason = backend_choose(domain="digits", teacher_kind="zoo", task="tabular", requested="pytorch",
                                    exports=["onnx", "tflite-int8"])
    assert chosen == "pytorch" and "tflite-int8 export copied into Keras" in reason
    assert backend_choose(domain="reviews", teacher_kind="huggingface", task="text", requested="tensorflow") == \
        ("tensorflow", "asked for (backend=tensorflow): an embedding-bag student in Keras")


def test_a_tensorflow_format_picks_the_tensorflow_backend_for_tabular_and_image_students():
    for task in ("tabular", "image"):
        chosen, reason = backend_choose(domain="anything", teacher_kind="onnx", task=task, exports=["onnx", "tflite-int8"])
        assert chosen == "tensorflow" and "tflite-int8" in reason
    assert backend_choose(domain="reviews", teacher_kind="huggingface", task="text", exports=["onnx"])[0] == "transformers"
