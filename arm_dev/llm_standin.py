"""A CPU stand-in for Ray Serve LLM's ``LLMServer``: the same ``chat`` method, no vLLM.

``LLMServer.chat(request)`` is an async generator that, for an unstreamed request, yields one
``ChatCompletionResponse``. This deployment does the same with a response of the same shape,
answering with the first sentence of the abstract in the prompt. Bound in place of the real
LLM deployment (``graph.build_app(args, llm=StandInLLMServer.bind())``) it lets the ``vllm``
summarizer backend run through a real ``serve.run`` on a machine without a GPU.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ray import serve

from arm_dev.openai_standin import chat_completion, first_sentence_of_prompt


@serve.deployment(name="StandInLLMServer", ray_actor_options={"num_cpus": 0.05})
class StandInLLMServer:
    """Answers ``chat`` like LLMServer; ``think`` wraps answers in a reasoning block."""

    def __init__(self, think: bool = True) -> None:
        self.think = think
        self.calls = 0

    async def chat(self, request: Any) -> AsyncIterator[dict[str, Any]]:
        self.calls += 1
        data = request.model_dump() if hasattr(request, "model_dump") else dict(request)
        answer = first_sentence_of_prompt(data["messages"])
        if self.think:
            answer = f"<think>Find the main claim.</think>\n\nTL;DR: {answer}"
        yield chat_completion(
            f"chatcmpl-standin-{self.calls}", data.get("model", "standin"), answer
        )

    async def check_health(self) -> None:
        """LLMServer's asks its engine; the stand-in has none to ask."""

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls}
