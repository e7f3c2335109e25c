"""A local OpenAI-compatible chat server: ``POST /v1/chat/completions`` in OpenAI's schema.

It stands in for a remote ``vllm serve`` on machines without a GPU. Its answer is the first
sentence of the abstract in the prompt, wrapped the way chatty models wrap answers when
``chatty`` is on (a ``<think>`` block and a preamble) so the arm's cleaning is exercised. Calls are
served concurrently, each after ``latency_s``, like a batching LLM server.

    POST /_control {"mode": "ok"|"500"|"503"|"429"|"empty", "latency_s": S, "chatty": bool,
                    "retry_after_s": S, "fail_times": N}

``429`` and ``503`` carry ``Retry-After: retry_after_s`` when it is set. With ``fail_times`` N,
the mode holds for the next N chat calls, then the server answers "ok" again (a blip).
    GET  /_stats   {"calls": N, "max_concurrent": N}

Run it: ``python -m arm_dev.openai_standin --port 8082 --latency 0.5``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from arm_dev.background_server import BackgroundServer


def first_sentence_of_prompt(messages: list[dict[str, str]]) -> str:
    """The stand-ins' "model": the first sentence of the abstract in the arm's TLDR prompt."""
    prompt = messages[-1]["content"]
    abstract = prompt.split("Abstract:", 1)[-1].split("TLDR:", 1)[0].strip()
    return re.split(r"(?<=[.!?])\s+", abstract, maxsplit=1)[0]


def chat_completion(
    completion_id: str, model: str, content: str, prompt_tokens: int = 0
) -> dict[str, Any]:
    """A ChatCompletionResponse body in OpenAI's schema (tokens counted as words)."""
    completion_tokens = len(content.split())
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class OpenAIStandIn(BackgroundServer):
    """State and server; ``with OpenAIStandIn() as s: s.base_url``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0, chatty: bool = False
    ) -> None:
        self.latency_s = latency_s
        self.chatty = chatty
        self.mode = "ok"
        self.retry_after_s: float | None = None
        self.fail_times: int | None = None  # None: the mode holds until changed
        self.lock = threading.Lock()
        self.calls = 0
        self.active = 0
        self.max_concurrent = 0
        super().__init__(host, port, _handler_for(self), queue_size=256)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, headers) of one chat call."""
        with self.lock:
            self.calls += 1
            self.active += 1
            self.max_concurrent = max(self.max_concurrent, self.active)
            mode, latency, chatty = self.mode, self.latency_s, self.chatty
            if self.fail_times is not None:
                if self.fail_times <= 0:
                    mode = "ok"
                self.fail_times -= 1
        try:
            time.sleep(latency)
            held = {"Retry-After": f"{self.retry_after_s:g}"} if self.retry_after_s else {}
            if mode == "500":
                return 500, {"error": {"message": "model crashed", "type": "server_error"}}, {}
            if mode == "503":
                return 503, {"error": {"message": "loading", "type": "server_error"}}, held
            if mode == "429":
                error = {"message": "rate limited", "type": "rate_limit_exceeded"}
                return 429, {"error": error}, held
            prompt = body["messages"][-1]["content"]
            first = first_sentence_of_prompt(body["messages"])
            content = "" if mode == "empty" else first
            if chatty and content:
                content = f"<think>The user wants a TLDR.</think>\nSure! Here is a TLDR:\n{content}"
            return (
                200,
                {
                    **chat_completion(
                        f"chatcmpl-{self.calls}", body.get("model", "standin"), content
                    ),
                    "usage": {
                        "prompt_tokens": len(prompt.split()),
                        "completion_tokens": len(content.split()),
                        "total_tokens": len(prompt.split()) + len(content.split()),
                    },
                },
                {},
            )
        finally:
            with self.lock:
                self.active -= 1


def _handler_for(state: OpenAIStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            return

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_stats":
                self._json(200, {"calls": state.calls, "max_concurrent": state.max_concurrent})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "standin", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(
                self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            )
            if self.path == "/v1/chat/completions":
                self._json(*state.answer(body))
            elif self.path == "/_control":
                with state.lock:
                    state.mode = str(body.get("mode", state.mode))
                    state.latency_s = float(body.get("latency_s", state.latency_s))
                    state.chatty = bool(body.get("chatty", state.chatty))
                    if "retry_after_s" in body:
                        state.retry_after_s = body["retry_after_s"]
                    if "fail_times" in body:
                        state.fail_times = body["fail_times"]
                self._json(200, {})
            else:
                self._json(404, {"error": {"message": "not found"}})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible chat stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--chatty", action="store_true")
    args = parser.parse_args()
    state = OpenAIStandIn(args.host, args.port, args.latency, args.chatty)
    print(f"OpenAI stand-in on {state.base_url}", flush=True)
    state.server.serve_forever()


if __name__ == "__main__":
    main()
