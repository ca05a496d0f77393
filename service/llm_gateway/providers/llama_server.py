"""llama.cpp's `llama-server` (the `local` provider's upstream): OpenAI's API with a few
differences, each normalised here or refused, so callers get what OpenAI would send.

- `n > 1`: the server counts one choice's completion tokens in a whole answer, and sends one
  usage chunk per choice in a stream. Whole answers are asked for as `n` requests of one choice
  (seeds `seed`, `seed + 1`, ...: still deterministic, and each choice differs) whose choices
  and usage are joined; a stream's usage chunks are joined into one at its end.
- `/v1/completions` logprobs come in the chat shape (`content: [{token, logprob, ...}]`): they
  are given OpenAI's completions shape (`tokens`, `token_logprobs`, `top_logprobs`,
  `text_offset`, offsets into the choice's text).
- `echo` is ignored by the server: it is refused (400 naming `echo`) rather than dropped, and
  so is an embeddings request's `dimensions` (the server always gives the model's own).
- A message with tool calls has `content: ""`: it becomes `null`, as OpenAI sends it.

Passed on as they are: tool call ids (32 random characters, without OpenAI's `call_`; they are
opaque to clients and round-trip), the server's `timings` object, `system_fingerprint`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

from llm_gateway.model.canonical import CanonicalAnswer, CanonicalChunk, CanonicalRequest
from llm_gateway.model.request import AUDIO_ENDPOINTS, IMAGE_ENDPOINTS, Endpoint
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.openai import OpenAICompatibleProvider
from llm_gateway.providers.translation import no_such_api, unsupported


def _json(answer: CanonicalAnswer | CanonicalChunk) -> dict[str, Any]:
    """The server's answer or chunk as the JSON it is, to be made good field by field."""
    return cast(dict[str, Any], answer)


def _choices(body: Mapping[str, Any]) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and n > 1 else 1


def _one_of(body: CanonicalRequest, index: int) -> CanonicalRequest:
    """The request for choice `index` alone."""
    single: dict[str, Any] = dict(body)
    single["n"] = 1
    seed = single.get("seed")
    if index and isinstance(seed, int):
        single["seed"] = seed + index
    return cast(CanonicalRequest, single)


def _joined_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """One usage for several choices of one prompt: the prompt once, every choice's tokens."""
    joined = dict(usages[0])
    completion = sum(int(u.get("completion_tokens") or 0) for u in usages)
    joined["completion_tokens"] = completion
    joined["total_tokens"] = int(joined.get("prompt_tokens") or 0) + completion
    return joined


def _joined(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One answer with the first choice of each answer, in order."""
    joined = dict(answers[0])
    choices = []
    for index, answer in enumerate(answers):
        choices += [{**choice, "index": index} for choice in (answer.get("choices") or [])[:1]]
    joined["choices"] = choices
    usages = [a["usage"] for a in answers if isinstance(a.get("usage"), dict)]
    if len(usages) == len(answers):
        joined["usage"] = _joined_usage(usages)
    else:  # one answer without usage: none is better than a wrong count
        joined.pop("usage", None)
    return joined


def _completion_logprobs(logprobs: Any, offset: int) -> tuple[Any, int]:
    """Chat-shaped logprobs in OpenAI's completions shape, offsets counted from `offset`;
    returns them and the offset after their last token."""
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return logprobs, offset
    tokens, token_logprobs, top, offsets = [], [], [], []
    for entry in logprobs["content"]:
        token = str(entry.get("token", ""))
        tokens.append(token)
        token_logprobs.append(entry.get("logprob"))
        top.append(
            {str(t.get("token", "")): t.get("logprob") for t in entry.get("top_logprobs") or ()}
        )
        offsets.append(offset)
        offset += len(token)
    shaped = {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }
    return shaped, offset


def _null_content_with_tool_calls(choice: dict[str, Any]) -> None:
    message = choice.get("message")
    if isinstance(message, dict) and message.get("tool_calls") and message.get("content") == "":
        message["content"] = None


def _refuse_echo(body: Mapping[str, Any]) -> None:
    if body.get("echo"):
        raise unsupported("echo", "llama-server", "It would be ignored: leave it out.")


def _refuse_dimensions(body: Mapping[str, Any]) -> None:
    if body.get("dimensions") is not None:
        raise unsupported(
            "dimensions", "llama-server", "It gives the model's own size: leave it out."
        )


def _refuse_other_apis(endpoint: Endpoint) -> None:
    """llama-server has no moderations, image or audio API."""
    if endpoint is Endpoint.MODERATIONS or endpoint in IMAGE_ENDPOINTS:
        raise no_such_api("llama-server", endpoint.value.partition("/")[0])
    if endpoint in AUDIO_ENDPOINTS:
        raise no_such_api("llama-server", "audio")


class LlamaServerProvider(OpenAICompatibleProvider):
    """The OpenAI-compatible provider, with llama-server's differences made good.

    OpenAI callers are served through the canonical path too (no passthrough): that is where
    the differences are made good."""

    passthrough = False

    async def create(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> CanonicalAnswer:
        """Posts the request (as one request per choice when `n > 1`) and returns the answer
        in OpenAI's shape."""
        if endpoint is Endpoint.EMBEDDINGS:
            _refuse_dimensions(body)
            return await super().create(endpoint, body, call)
        _refuse_other_apis(endpoint)
        _refuse_echo(body)
        n = _choices(body)
        if n == 1:
            answer = _json(await super().create(endpoint, body, call))
        else:
            try:
                async with asyncio.TaskGroup() as group:  # one failure cancels the others
                    tasks = [
                        group.create_task(
                            super(LlamaServerProvider, self).create(
                                endpoint, _one_of(body, i), call
                            )
                        )
                        for i in range(n)
                    ]
            except ExceptionGroup as failures:  # the caller gets the first, as from one call
                raise failures.exceptions[0] from None
            answer = _joined([_json(task.result()) for task in tasks])
        for choice in answer.get("choices") or ():
            if endpoint is Endpoint.COMPLETIONS:
                choice["logprobs"], _ = _completion_logprobs(choice.get("logprobs"), 0)
            else:
                _null_content_with_tool_calls(choice)
        return cast(CanonicalAnswer, answer)

    async def stream(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> AsyncGenerator[CanonicalChunk, None]:
        """Yields the upstream's chunks, with completions logprobs reshaped and, for `n > 1`,
        the usage chunks of each choice joined into one sent last."""
        _refuse_other_apis(endpoint)  # speech always streams
        _refuse_echo(body)
        several = _choices(body) > 1
        usage_chunks: list[dict[str, Any]] = []
        offsets: dict[int, int] = {}
        async for typed in super().stream(endpoint, body, call):
            chunk = _json(typed)
            if several and isinstance(chunk.get("usage"), dict) and not chunk.get("choices"):
                usage_chunks.append(chunk)
                continue
            if endpoint is Endpoint.COMPLETIONS:
                for choice in chunk.get("choices") or ():
                    index = int(choice.get("index") or 0)
                    choice["logprobs"], offsets[index] = _completion_logprobs(
                        choice.get("logprobs"), offsets.get(index, 0)
                    )
            yield typed
        if usage_chunks:
            last = dict(usage_chunks[-1])
            last["usage"] = _joined_usage([c["usage"] for c in usage_chunks])
            yield cast(CanonicalChunk, last)
