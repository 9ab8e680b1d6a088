"""Teachers over HTTP (``openai:MODEL``, ``endpoint:URL``) against a test server that answers with a
real local model (tests/support/openai_server.py): soft and hard targets, the answer cache, retries,
timeouts, the address allow-list, response limits and the personal-data policy."""

from __future__ import annotations

import numpy as np
import pytest

from prsm.engine.config import HttpTeacherConfig
from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.teachers.http import HttpOptions, HttpTeacher, teacher_secrets
from prsm.engine.teachers.http_transport import check_url
from tests.support.openai_server import OpenAIServer

from .test_student_base import tiny_base  # noqa: F401 - the student base fixture

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def server(tiny_bert_teacher):
    with OpenAIServer(tiny_bert_teacher) as running:
        yield running


@pytest.fixture(autouse=True)
def calm_server(server):
    server.fail_429, server.sleep_s, server.logprobs, server.oversize, server.invalid = 0, 0.0, True, False, False


def teacher(server, tmp_path, ref="openai:tiny-bert", pii_policy="refuse", **options) -> HttpTeacher:
    config = HttpTeacherConfig(base_url=server.base_url, allow_hosts=["127.0.0.1"], shared_cache=str(tmp_path / "shared"),
                               **options)
    made = HttpTeacher(ref, HttpOptions(config=config, pii_policy=pii_policy, cache_dir=tmp_path / "job"))
    made.classes = list(LABELS)
    return made


def distill(server, tiny_base, reviews_csv, out, shared, **extra):  # noqa: F811
    config = DistillConfig(teacher="openai:tiny-bert", data=str(reviews_csv), student_base=str(tiny_base), epochs=1,
                           target_size="large", max_train_examples=120, exports=["safetensors"], **extra,
                           teacher_http={"base_url": server.base_url, "allow_hosts": ["127.0.0.1"],
                                         "shared_cache": str(shared), "price_per_1k_tokens_units": 2000})
    with teacher_secrets(api_key="sk-test-secret"):
        return run_distillation(config, out)


@pytest.fixture(scope="module")
def soft_runs(server, tiny_base, reviews_csv, tmp_path_factory):  # noqa: F811
    shared = tmp_path_factory.mktemp("shared-answers")
    first = distill(server, tiny_base, reviews_csv, tmp_path_factory.mktemp("http-run"), shared)
    calls = server.calls
    # the rerun skips the after-training checks (they ask nothing new; the first run's asked the perturbed texts)
    second = distill(server, tiny_base, reviews_csv, tmp_path_factory.mktemp("http-rerun"), shared,
                     checks={"enabled": False})
    return first, second, calls, server.calls


@pytest.mark.slow
def test_a_distillation_learns_soft_targets_from_the_label_tokens_logprobs(soft_runs, server, tiny_bert_teacher,
                                                                            reviews_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.teachers import load_teacher

    report, _, _, _ = soft_runs
    section = report["teacher"]
    assert section["kind"] == "http" and section["targets"] == "soft" and section["params_known"] is False
    usage = section["usage"]
    assert usage["requests"] > 0 and usage["soft"] == usage["answers"] and usage["hard"] == 0
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] == usage["requests"]
    assert usage["cost_units"] == -(-usage["total_tokens"] * 2000 // 1000) > 0
    assert report["backend"] == "transformers" and report["latency_runtime"] == "http"
    assert server.headers.get("Authorization") == "Bearer sk-test-secret"
    assert "sk-test-secret" not in str(report)
    # the soft targets are the local model's own probabilities
    local = load_teacher(str(tiny_bert_teacher))
    test = stratified_split(load_data(str(reviews_csv)), 0, 0.15, 0.15, 120).test
    assert report["teacher"]["accuracy"] == pytest.approx((local.logits(test).argmax(1) == test.labels).mean(), abs=0.02)


@pytest.mark.slow
def test_a_rerun_takes_every_answer_from_the_cache(soft_runs):
    first, second, calls_after_first, calls_after_second = soft_runs
    assert calls_after_second == calls_after_first  # the server was not asked again
    usage = second["teacher"]["usage"]
    assert usage["requests"] == 0 and usage["cached"] == usage["answers"] > 0
    assert usage["prompt_tokens"] == 0 and usage["cost_units"] == 0
    assert second["teacher"]["accuracy"] == first["teacher"]["accuracy"]


def test_without_logprobs_the_answer_text_gives_hard_labels(server, tmp_path):
    server.logprobs = False
    made = teacher(server, tmp_path)
    probabilities = made.probabilities(["a great and lovely film", "a dull and tedious plot"])
    assert probabilities[0].tolist() == pytest.approx([0.05, 0.95]) and probabilities[1].tolist() == pytest.approx([0.95, 0.05])
    assert made.report_extra()["targets"] == "hard"


def test_soft_targets_match_the_models_probabilities(server, tmp_path):
    made = teacher(server, tmp_path)
    got = made.probabilities(["the movie was superb and charming"])[0]
    expected = server.probabilities("the movie was superb and charming")
    assert got.tolist() == pytest.approx([expected["negative"], expected["positive"]], rel=1e-4)


def test_a_429_is_retried_after_its_retry_after(server, tmp_path):
    server.fail_429 = 1
    before = server.requests
    made = teacher(server, tmp_path)
    made.policy.backoff_s = 0.01
    assert made.probabilities(["a fun story"]).shape == (1, 2)
    assert server.requests - before == 2 and made.usage["requests"] == 1


def test_a_timeout_is_reported_clearly(server, tmp_path):
    server.sleep_s = 0.6
    made = teacher(server, tmp_path, timeout_s=0.2, max_retries=1)
    made.policy.backoff_s = 0.01
    with pytest.raises(BadInput, match=r"no answer within 0.2 s after 2 tries"):
        made.probabilities(["a boring plot"])


def test_a_loopback_address_is_refused_unless_allowed(server, tmp_path, monkeypatch):
    monkeypatch.delenv("PRSM_TEACHER_HOSTS_ALLOW", raising=False)
    config = HttpTeacherConfig(base_url=server.base_url, shared_cache=str(tmp_path))
    with pytest.raises(BadInput, match=r"127\.0\.0\.1.*loopback.*PRSM_TEACHER_HOSTS_ALLOW"):
        HttpTeacher("openai:tiny-bert", HttpOptions(config=config))
    monkeypatch.setenv("PRSM_TEACHER_HOSTS_ALLOW", "127.0.0.0/8")
    HttpTeacher("openai:tiny-bert", HttpOptions(config=config))


@pytest.mark.parametrize("address", ["10.0.0.7", "169.254.169.254", "192.168.1.2", "::1", "224.0.0.1", "0.0.0.0",
                                     "::ffff:127.0.0.1"])
def test_private_link_local_multicast_and_reserved_addresses_are_refused(address):
    resolve = lambda host, port, type=0: [(2, 1, 6, "", (address, port))]  # noqa: E731
    with pytest.raises(BadInput, match="private, loopback"):
        check_url("https://teacher.example/v1/chat/completions", [], resolve=resolve)


def test_one_private_address_among_public_ones_is_refused():
    resolve = lambda host, port, type=0: [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.1.2.3", port))]  # noqa: E731
    with pytest.raises(BadInput, match="10.1.2.3"):
        check_url("https://teacher.example/v1", [], resolve=resolve)
    target = check_url("https://teacher.example/v1", [], resolve=lambda h, p, type=0: [(2, 1, 6, "", ("93.184.216.34", p))])
    assert target.address == "93.184.216.34" and target.port == 443


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://teacher.example/", "https://user:pw@teacher.example/"])
def test_only_plain_http_and_https_urls_are_taken(url):
    with pytest.raises(BadInput):
        check_url(url, [], resolve=lambda h, p, type=0: [(2, 1, 6, "", ("93.184.216.34", p))])


def test_an_oversized_or_invalid_answer_is_refused(server, tmp_path):
    server.oversize = True
    with pytest.raises(BadInput, match="byte limit"):
        teacher(server, tmp_path).probabilities(["a lovely film"])
    server.oversize, server.invalid = False, True
    with pytest.raises(BadInput, match="choices"):
        teacher(server, tmp_path).probabilities(["a lovely film"])
    with pytest.raises(BadInput, match="outputs"):
        teacher(server, tmp_path, ref=f"endpoint:{server.predict_url}").probabilities(["a lovely film"])


def test_personal_data_is_refused_or_redacted_before_it_is_sent(server, tmp_path):
    text = "great film, write to me at jane.doe@example.com"
    with pytest.raises(BadInput, match=r"personal data \(email\).*pii_policy='redact'"):
        teacher(server, tmp_path).probabilities([text])
    assert not any("jane.doe" in sent for sent in server.texts)
    made = teacher(server, tmp_path, pii_policy="redact")
    made.probabilities([text])
    assert server.texts[-1] == "great film, write to me at [EMAIL]"
    assert made.report_extra()["usage"]["redacted_texts"] == 1


def test_an_endpoint_teacher_reads_a_prsm_predict_answer_with_its_token(server, tmp_path):
    made = teacher(server, tmp_path, ref=f"endpoint:{server.predict_url}")
    texts = [f"the film was superb number {i}" for i in range(20)]
    with teacher_secrets(token="prsm-token-1"):
        probabilities = made.probabilities(texts)
    assert server.headers.get("Authorization") == "Token prsm-token-1"
    expected = server.probabilities(texts[3])
    assert probabilities[3].tolist() == pytest.approx([expected["negative"], expected["positive"]], rel=1e-4)
    assert made.usage["requests"] == 2  # 16 texts a call
    assert np.allclose(probabilities.sum(1), 1)


def test_an_openai_teacher_without_a_provider_says_what_to_configure(monkeypatch):
    monkeypatch.delenv("PRSM_OPENAI_BASE_URL", raising=False)
    with pytest.raises(BadInput, match="PRSM_OPENAI_BASE_URL and PRSM_OPENAI_API_KEY"):
        HttpTeacher("openai:gpt-4", HttpOptions())

