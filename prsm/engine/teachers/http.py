"""Teachers reached over HTTP, for text classification: ``endpoint:URL`` and ``openai:MODEL``.

- ``endpoint:URL`` is another PRSM deployment's predict URL (``POST .../api/v1/models/{id}/predict/``
  with ``{"inputs": [texts]}``, answering ``{"outputs": [{"label", "probabilities": {label: p}}]}``),
  called with ``Authorization: Token KEY``; the probabilities are the soft targets (their logs are
  the logits).
- ``openai:MODEL`` is an OpenAI-compatible ``POST {base_url}/chat/completions``. The prompt gives the
  label set (the data's classes) and asks for one label; with ``logprobs`` the label tokens'
  log-probabilities are read (each label by its first token, renormalised over the labels: soft
  targets), and where the service gives none, the answer text (hard labels, 95% on the answer; the
  report says ``targets: "hard"``).

Only the data's texts are sent, after the personal-data check: a text holding PII refuses the run,
or is redacted first when the config's checks say ``redact_pii`` (the request's ``pii_policy``).
Answers are cached on disk by content hash (the job's cache folder and a shared one), so a rerun
or a resumed run pays nothing twice. Keys never live in a config: ``teacher_secrets(...)`` around
the run, or the environment (``PRSM_OPENAI_API_KEY``, ``PRSM_TEACHER_TOKEN``).
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checks.pii import find_pii, redact
from ..config import HttpTeacherConfig
from ..data.types import TaskData
from ..errors import BadInput
from .base import Teacher
from .http_transport import (AnswerCache, Policy, RateLimit, TeacherHttpError, allowed_hosts, answer_key, check_url,
                             post_with_retries)

ENDPOINT, OPENAI = "endpoint:", "openai:"
PROMPT_VERSION = "v1"  # part of every cache key: a changed prompt asks again
ENDPOINT_BATCH = 16  # texts per predict call
HARD_TARGET = 0.95  # the answer's share when only a label came back (the rest spread over the others)
UNKNOWN_PARAMS = 10**11  # a remote teacher's size is unknown: any student fits under it (params_known: false)
FLOOR = 1e-8
_secrets: contextvars.ContextVar[dict] = contextvars.ContextVar("prsm_teacher_secrets", default={})


def is_http_ref(ref: str) -> bool:
    return ref.startswith((ENDPOINT, OPENAI))


@contextmanager
def teacher_secrets(**values: str):
    """Keys for HTTP teachers during a run (``api_key``, ``base_url`` for openai; ``token`` for an
    endpoint), held in memory only: never in the config, the report or a log line."""
    token = _secrets.set({k: v for k, v in values.items() if v})
    try:
        yield
    finally:
        _secrets.reset(token)


def _secret(name: str, env: str) -> str:
    return _secrets.get().get(name) or os.environ.get(env, "")


def openai_base_url(config: HttpTeacherConfig) -> str:
    return (config.base_url or _secret("base_url", "PRSM_OPENAI_BASE_URL")).rstrip("/")


@dataclass
class HttpOptions:
    """What the run adds to the config's ``teacher_http``: the PII policy and the job's cache folder."""

    config: HttpTeacherConfig = field(default_factory=HttpTeacherConfig)
    pii_policy: str = "refuse"  # refuse | redact
    cache_dir: Path | None = None


class HttpTeacher(Teacher):
    """A remote text classifier; ``classes`` are the data's (the label set sent in each prompt)."""

    kind = "http"
    runtime = "http"
    task = "text"

    def __init__(self, ref: str, options: HttpOptions) -> None:
        super().__init__(ref)
        self.options, config = options, options.config
        self.protocol = _OpenAIChat(ref, config) if ref.startswith(OPENAI) else _Endpoint(ref)
        self.target = check_url(self.protocol.url, allowed_hosts(config.allow_hosts))
        self.policy = Policy(timeout_s=config.timeout_s, max_retries=config.max_retries,
                             max_response_bytes=config.max_response_bytes)
        self.limit = RateLimit(config.requests_per_second)
        shared = Path(config.shared_cache) if config.shared_cache else _prsm_home() / "teacher-answers"
        self.cache = AnswerCache([p for p in (options.cache_dir, shared) if p is not None])
        self.usage = {"requests": 0, "answers": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0,
                      "soft": 0, "hard": 0, "unmatched": 0, "redacted_texts": 0}  # answers by kind, cached too
        self.latencies_ms: list[float] = []
        self._lock = threading.Lock()

    def check(self, data: TaskData) -> None:
        if data.task != "text":
            raise BadInput(f"{self.ref}: a teacher over HTTP labels texts; the data is {data.task}")

    def describe(self) -> dict:
        return {"params": UNKNOWN_PARAMS, "size_bytes": 0, "layers": None, "width": None, "heads": None}

    def encode(self, data: TaskData):
        return {"texts": np.array(list(data.texts), dtype=object)}

    def logits_of(self, inputs, batch_size: int = 256) -> np.ndarray:
        probabilities = self.probabilities([str(t) for t in inputs["texts"]])
        return np.log(np.clip(probabilities, FLOOR, 1.0)).astype(np.float32)

    def logits(self, data: TaskData, batch_size: int = 256) -> np.ndarray:
        return self.logits_of(self.encode(data), batch_size)

    def runner(self, inputs, batch: int):
        raise BadInput(f"{self.ref}: a teacher over HTTP is timed by its requests, not run locally")

    # --- answers

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """``[n, classes]`` probabilities, from the cache where asked before, else from the service."""
        labels = list(self.classes or [])
        if not labels:
            raise BadInput(f"{self.ref}: the label set is not known yet (align the teacher with the data first)")
        sent = [self._safe(text, index) for index, text in enumerate(texts)]
        keys = [answer_key(self.protocol.identity, PROMPT_VERSION, json.dumps(labels), text) for text in sent]
        out = np.zeros((len(texts), len(labels)), dtype=np.float64)
        missing = []
        for row, key in enumerate(keys):
            found = self.cache.get(key)
            if found is not None and len(found.get("probabilities", ())) == len(labels):
                out[row] = found["probabilities"]
                self._count(cached=1, answers=1, **{found.get("mode", "soft"): 1})
                with self._lock:
                    self.latencies_ms.append(float(found.get("latency_ms", 0.0)))
            else:
                missing.append(row)
        same: dict[str, list[int]] = {}
        for row in missing:  # a text asked once however often it occurs
            same.setdefault(keys[row], []).append(row)
        groups = self.protocol.groups([rows[0] for rows in same.values()])
        headers = self.protocol.headers()  # read here: the key lives in this thread's context, not the pool's
        with ThreadPoolExecutor(max_workers=self.options.config.concurrency) as pool:
            asked = pool.map(lambda rows: self._ask([sent[r] for r in rows], labels, headers), groups)
            for rows, answers in zip(groups, asked):
                for row, answer in zip(rows, answers):
                    self.cache.put(keys[row], answer)
                    out[same[keys[row]]] = answer["probabilities"]
        return out

    def _safe(self, text: str, index: int) -> str:
        """The text as it may leave the machine: refused or redacted when it holds personal data."""
        findings = find_pii(text)
        if not findings:
            return text
        if self.options.pii_policy != "redact":
            kinds = ", ".join(sorted({f.kind for f in findings}))
            raise BadInput(f"{self.ref}: text {index} holds personal data ({kinds}); it is not sent to a remote "
                           "teacher. Remove it, or ask for pii_policy='redact' to replace it before sending")
        self._count(redacted_texts=1)
        return redact(text)

    def _ask(self, texts: list[str], labels: list[str], headers: dict) -> list[dict]:
        payload = self.protocol.payload(texts, labels)
        answer = post_with_retries(self.target, payload, headers, self.policy, self.limit,
                                   f"teacher {self.ref}")
        try:
            body = json.loads(answer.body)
        except ValueError:
            raise TeacherHttpError(f"teacher {self.ref}: the answer is not JSON") from None
        results = self.protocol.read(body, texts, labels)
        each_ms = answer.seconds * 1000 / max(1, len(texts))
        with self._lock:
            self.usage["requests"] += 1
            self.latencies_ms.extend([each_ms] * len(texts))
        for result in results:
            result["latency_ms"] = each_ms
            self._count(answers=1, prompt_tokens=result.get("prompt_tokens", 0),
                        completion_tokens=result.get("completion_tokens", 0), **{result["mode"]: 1})
        return results

    def _count(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self.usage[name] += amount

    # --- what the report says

    def report_extra(self) -> dict:
        usage = dict(self.usage)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        price = self.options.config.price_per_1k_tokens_units
        usage["price_per_1k_tokens_units"] = price
        usage["cost_units"] = -(-usage["total_tokens"] * price // 1000)  # rounded up to a unit
        soft, hard = usage["soft"], usage["hard"] + usage["unmatched"]
        targets = "soft" if not hard else "hard" if not soft else "mixed"
        return {"targets": targets, "usage": usage, "params_known": False, "host": self.target.host,
                "pii_policy": self.options.pii_policy}

    def cost(self, inputs=None) -> dict:
        """Latency per example of the calls made (the cache's record where all were cached)."""
        times = np.array(self.latencies_ms or [0.0])
        return {"latency_ms_p50": float(np.percentile(times, 50)), "latency_ms_p95": float(np.percentile(times, 95)),
                "runtime": "http", "threads": self.options.config.concurrency, "peak_memory_bytes": None,
                "flops_per_example": None}


class _Endpoint:
    """Another PRSM deployment's predict URL."""

    def __init__(self, ref: str) -> None:
        self.url = ref.removeprefix(ENDPOINT)
        self.identity = f"endpoint {self.url}"

    def headers(self) -> dict:
        token = _secret("token", "PRSM_TEACHER_TOKEN")
        return {"Authorization": f"Token {token}"} if token else {}

    def groups(self, rows: list[int]) -> list[list[int]]:
        return [rows[i:i + ENDPOINT_BATCH] for i in range(0, len(rows), ENDPOINT_BATCH)]

    def payload(self, texts: list[str], labels: list[str]) -> dict:
        return {"inputs": texts}

    def read(self, body, texts: list[str], labels: list[str]) -> list[dict]:
        outputs = body.get("outputs") if isinstance(body, dict) else None
        if not isinstance(outputs, list) or len(outputs) != len(texts):
            raise TeacherHttpError(f"teacher {self.url}: expected {{\"outputs\": [...]}} with {len(texts)} entries")
        return [{"probabilities": _distribution(output, labels, self.url), "mode": "soft"} for output in outputs]


def _distribution(output, labels: list[str], where: str) -> list[float]:
    probabilities = output.get("probabilities") if isinstance(output, dict) else None
    if not isinstance(probabilities, dict) or not probabilities:
        raise TeacherHttpError(f"teacher {where}: an output without probabilities")
    unknown = [name for name in probabilities if name not in labels]
    if unknown:
        raise TeacherHttpError(f"teacher {where}: label {unknown[0]!r} is not one of the data's ({', '.join(labels)})")
    values = [probabilities.get(name, 0.0) for name in labels]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1 + 1e-6
               for v in values) or sum(values) <= 0:
        raise TeacherHttpError(f"teacher {where}: probabilities must be finite numbers in 0..1 with a positive sum")
    total = sum(values)
    return [v / total for v in values]


class _OpenAIChat:
    """An OpenAI-compatible chat-completions service; one request per text."""

    def __init__(self, ref: str, config: HttpTeacherConfig) -> None:
        self.model = ref.removeprefix(OPENAI)
        base = openai_base_url(config)
        if not self.model or not base:
            raise BadInput(f"{ref}: no OpenAI-compatible provider is configured: the operator sets PRSM_OPENAI_BASE_URL "
                           "and PRSM_OPENAI_API_KEY, or a user saves a provider credential (base URL and key)")
        self.url = f"{base}/chat/completions"
        self.identity = f"openai {base} {self.model}"

    def headers(self) -> dict:
        key = _secret("api_key", "PRSM_OPENAI_API_KEY")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def groups(self, rows: list[int]) -> list[list[int]]:
        return [[row] for row in rows]

    def payload(self, texts: list[str], labels: list[str]) -> dict:
        listed = "\n".join(f"- {label}" for label in labels)
        system = ("You are a text classifier. Classify the user's text into exactly one of these labels:\n"
                  f"{listed}\nAnswer with the label only, exactly as written above.")
        return {"model": self.model, "messages": [{"role": "system", "content": system},
                                                  {"role": "user", "content": texts[0]}],
                "temperature": 0, "max_tokens": 16, "logprobs": True, "top_logprobs": 20}

    def read(self, body, texts: list[str], labels: list[str]) -> list[dict]:
        try:
            choice = body["choices"][0]
            content = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise TeacherHttpError(f"teacher openai:{self.model}: the answer has no choices[0].message.content") from None
        if not isinstance(content, str):
            raise TeacherHttpError(f"teacher openai:{self.model}: the answer's content is not text")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        tokens = {name: _count(usage.get(name)) for name in ("prompt_tokens", "completion_tokens")}
        soft = _label_logprobs(choice.get("logprobs"), labels)
        if soft is not None:
            return [{"probabilities": soft, "mode": "soft", **tokens}]
        answer = _answer_label(content, labels)
        if answer is None:
            return [{"probabilities": [1 / len(labels)] * len(labels), "mode": "unmatched", **tokens}]
        rest = (1 - HARD_TARGET) / max(1, len(labels) - 1)
        return [{"probabilities": [HARD_TARGET if label == answer else rest for label in labels], "mode": "hard", **tokens}]


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0


def _label_logprobs(logprobs, labels: list[str]) -> list[float] | None:
    """Each label's probability from the first answer token's top log-probabilities (the label's
    first token: the longest listed token the label starts with), renormalised over the labels."""
    try:
        top = logprobs["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    seen: dict[str, float] = {}
    for entry in top if isinstance(top, list) else []:
        token, value = (entry.get("token"), entry.get("logprob")) if isinstance(entry, dict) else (None, None)
        if isinstance(token, str) and isinstance(value, (int, float)) and math.isfinite(value) and value <= 0:
            key = token.strip().lower()
            if key:
                seen[key] = seen.get(key, 0.0) + math.exp(value)
    if not seen:
        return None
    first = {}
    for label in labels:
        prefixes = [token for token in seen if label.lower().startswith(token)]
        if prefixes:
            first[label] = max(prefixes, key=len)
    if not first:
        return None
    sharing = {token: sum(1 for t in first.values() if t == token) for token in first.values()}
    floor = max(FLOOR, min(seen.values()) / 2)
    values = [seen[first[label]] / sharing[first[label]] if label in first else floor for label in labels]
    total = sum(values)
    return [v / total for v in values]


def _answer_label(content: str, labels: list[str]) -> str | None:
    said = content.strip().strip(".\"'` ").lower()
    for label in labels:
        if said == label.lower():
            return label
    named = [label for label in labels if re.search(rf"(?<!\w){re.escape(label.lower())}(?!\w)", said)]
    return named[0] if len(named) == 1 else None


def _prsm_home() -> Path:
    return Path(os.environ.get("PRSM_HOME") or Path.home() / ".cache" / "prsm").expanduser()
