"""A local HTTP server speaking the OpenAI chat-completions and embeddings wire format, for
tests of the LLM path through litellm (nothing leaves 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FakeOpenAI:
    base_url: str
    reply: str = "Dear Ada,\n\nYour wire will arrive in two business days [1].\n\nKind regards"
    down: bool = False
    requests: list[dict] = field(default_factory=list)

    def config(self, **overrides):
        from crm_app.ai.llm import LlmConfig

        values = {
            "chat_model": "openai/fake-chat",
            "api_base": self.base_url,
            "api_key": "sk-test-fake",
            "timeout_seconds": 5,
            "max_retries": 0,
        }
        values.update(overrides)
        return LlmConfig(**values)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    state: FakeOpenAI

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            state.requests.append(
                {"path": self.path, "body": body, "auth": self.headers.get("authorization", "")}
            )
            if state.down:
                self._send(503, {"error": {"message": "overloaded", "type": "server_error"}})
                return
            if self.path.endswith("/embeddings"):
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": [float(len(t) % 7 + 1), 1.0, float(i + 1)],
                    }
                    for i, t in enumerate(inputs)
                ]
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body.get("model"),
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )
                return
            self._send(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": state.reply},
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                },
            )

        def _send(self, status: int, payload: dict) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeOpenAI(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
