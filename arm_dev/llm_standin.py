"""A CPU stand-in for Ray Serve LLM's ``LLMServer``: the same ``chat`` method, no engine.

``LLMServer.chat(request)`` takes Ray Serve LLM's ``ChatCompletionRequest`` and, for an unstreamed
request, yields one ``ChatCompletionResponse``. This deployment takes and yields the same types
(so it needs Ray Serve LLM installed: ``pip install .[vllm]`` or ``make test-vllm-cpu``), and
answers with the first sentence of the abstract in the prompt, instantly. Bound in place of the
real LLM deployment (``graph.build_app(args, llm=StandInLLMServer.bind())``) it runs the
``vllm`` summarizer backend through a real ``serve.run`` without loading a model.
``tests/graph/test_vllm_engine.py`` runs the real engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ray import serve
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ChatCompletionResponse

from arm_dev.openai_standin import chat_completion, first_sentence_of_prompt


@serve.deployment(name="StandInLLMServer", ray_actor_options={"num_cpus": 0.05})
class StandInLLMServer:
    """Answers ``chat`` like LLMServer; ``think`` wraps answers in a reasoning block."""

    def __init__(self, think: bool = True) -> None:
        self.think = think
        self.calls = 0

    async def chat(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionResponse]:
        if not isinstance(request, ChatCompletionRequest):
            raise TypeError(f"LLMServer.chat takes a ChatCompletionRequest, not {type(request)}")
        self.calls += 1
        messages = [dict(m) for m in request.model_dump()["messages"]]
        answer = first_sentence_of_prompt(messages)
        if self.think:
            answer = f"<think>Find the main claim.</think>\n\nTL;DR: {answer}"
        body = chat_completion(f"chatcmpl-standin-{self.calls}", request.model or "", answer)
        yield ChatCompletionResponse.model_validate(body)

    async def check_health(self) -> None:
        """LLMServer's asks its engine; the stand-in has none to ask."""

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls}
