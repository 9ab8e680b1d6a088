import pytest

from prsm.planning import backend_choose


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


def test_a_mobile_target_falls_back_to_pytorch_and_says_why():
    chosen, reason = backend_choose(domain="mobile camera app", teacher_kind="zoo", task="image")

    assert chosen == "pytorch"
    assert "TensorFlow Lite" in reason and "not available yet" in reason


def test_a_tensorflow_format_picks_the_tensorflow_backend_for_tabular_and_image_students():
    for task in ("tabular", "image"):
        chosen, reason = backend_choose(domain="anything", teacher_kind="onnx", task=task, exports=["onnx", "tflite-int8"])
        assert chosen == "tensorflow" and "tflite-int8" in reason
    # a text teacher keeps its backend: the engine refuses the format before training
    assert backend_choose(domain="reviews", teacher_kind="huggingface", task="text", exports=["tflite"])[0] == "transformers"
