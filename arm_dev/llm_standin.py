"""A CPU stand-in for Ray Serve LLM's ``LLMServer``: the same ``chat`` method, no vLLM.

``LLMServer.chat(request)`` is an async generator that, for an unstreamed request, yields one
``ChatCompletionResponse``. This deployment does the same with a response of the same shape,
answering with the first sentence of the abstract in the prompt. Bound in place of the real
LLM deployment (``graph.build_app(args, llm=StandInLLMServer.bind())``) it lets the ``vllm``
summarizer backend run through a real ``serve.run`` on a machine without a GPU.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

from ray import serve


@serve.deployment(name="StandInLLMServer", ray_actor_options={"num_cpus": 0.05})
class StandInLLMServer:
    """Answers ``chat`` like LLMServer; ``think`` wraps answers in a reasoning block."""

    def __init__(self, think: bool = True) -> None:
        self.think = think
        self.calls = 0

    async def chat(self, request: Any) -> AsyncIterator[dict[str, Any]]:
        self.calls += 1
        data = request.model_dump() if hasattr(request, "model_dump") else dict(request)
        prompt = data["messages"][-1]["content"]
        abstract = prompt.split("Abstract:", 1)[-1].split("TLDR:", 1)[0].strip()
        answer = re.split(r"(?<=[.!?])\s+", abstract, maxsplit=1)[0]
        if self.think:
            answer = f"<think>Find the main claim.</think>\n\nTL;DR: {answer}"
        yield {
            "id": f"chatcmpl-standin-{self.calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data.get("model", "standin"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer},
                }
            ],
        }

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls}
