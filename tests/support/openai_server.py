"""A TEST SERVER, used by the tests only: a small OpenAI-compatible chat-completions service (and a
PRSM-style predict route) that answers with a real local model's outputs.

``OpenAIServer(model_folder)`` loads a Hugging Face text classifier (the tiny BERT teacher of
``tests/engine/conftest.py``), listens on 127.0.0.1 on a free port in a thread, and answers:

- ``POST /v1/chat/completions``: reads the label set from the system prompt's ``- label`` lines and
  the text from the user message, runs the model, and answers the most likely label as the content,
  with ``logprobs.content[0].top_logprobs`` holding each label's first three letters (a stand-in for
  its first token) at the model's log-probability, plus some unrelated tokens; ``usage`` counts
  words as tokens.
- ``POST /api/v1/models/{id}/predict/``: ``{"inputs": [texts]}`` -> ``{"outputs": [{"label",
  "probabilities"}]}``, the shape of this platform's own predict API.

Knobs for the tests: ``fail_429`` (answer 429 with ``Retry-After: 0`` that many times first),
``sleep_s`` (sleep before answering, to pass a client's timeout), ``logprobs`` (False: the answer text
only, hard labels), ``oversize`` (an answer past 1 MiB), ``invalid`` (a body of the wrong shape).
``calls`` counts the model answers given; ``requests`` every request received; ``headers`` the last ones.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OpenAIServer:
    def __init__(self, model_folder) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.model = AutoModelForSequenceClassification.from_pretrained(model_folder).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model_folder)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.fail_429 = 0
        self.sleep_s = 0.0
        self.logprobs = True
        self.oversize = False
        self.invalid = False
        self.calls = 0
        self.requests = 0
        self.headers: dict = {}
        self.texts: list[str] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def predict_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v1/models/test-model/predict/"

    def __enter__(self) -> OpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def probabilities(self, text: str) -> dict[str, float]:
        with self._lock, self.torch.inference_mode():
            encoded = self.tokenizer([text], return_tensors="pt", truncation=True, max_length=64)
            values = self.model(**encoded).logits.softmax(-1)[0].tolist()
            self.calls += 1
            self.texts.append(text)
        return {self.id2label[i]: p for i, p in enumerate(values)}

    def chat(self, body: dict) -> dict:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        labels = re.findall(r"^- (.+)$", system, flags=re.MULTILINE)
        model = self.probabilities(user)
        probabilities = {label: model.get(label, 1e-6) for label in labels}
        answer = max(probabilities, key=probabilities.get)
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        if self.logprobs and body.get("logprobs"):
            top = [{"token": label[:3], "logprob": math.log(p)} for label, p in probabilities.items()]
            top += [{"token": word, "logprob": -12.0} for word in ("The", " I", "Label")]
            choice["logprobs"] = {"content": [{"token": answer[:3], "logprob": math.log(probabilities[answer]),
                                               "top_logprobs": top}]}
        return {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"), "choices": [choice],
                "usage": {"prompt_tokens": len((system + " " + user).split()), "completion_tokens": 1,
                          "total_tokens": len((system + " " + user).split()) + 1}}

    def predict(self, body: dict) -> dict:
        outputs = []
        for text in body["inputs"]:
            probabilities = self.probabilities(text)
            outputs.append({"label": max(probabilities, key=probabilities.get), "probabilities": probabilities})
        return {"model_id": "test-model", "version": "1", "outputs": outputs}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet in tests
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests += 1
                    server.headers = dict(self.headers)
                    failing = server.fail_429 > 0
                    if failing:
                        server.fail_429 -= 1
                if failing:
                    return self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                if server.sleep_s:
                    time.sleep(server.sleep_s)
                if server.invalid:
                    return self._send(200, {"choices": "nope", "outputs": "nope"})
                if self.path.endswith("/chat/completions"):
                    answer = server.chat(body)
                elif self.path.endswith("/predict/"):
                    answer = server.predict(body)
                else:
                    return self._send(404, {"error": "no such route"})
                if server.oversize:
                    answer["padding"] = "x" * (1 << 20)
                self._send(200, answer)

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler
