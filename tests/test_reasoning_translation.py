"""Reasoning text crosses the translations: Anthropic `thinking` blocks and Gemini `thought`
parts become OpenAI's `reasoning_content` and back, whole and streamed."""

from __future__ import annotations

import orjson
import pytest

from llm_gateway.api.anthropic.request import translation
from llm_gateway.api.anthropic.response import message
from llm_gateway.api.anthropic.stream import AnthropicStreamEncoder
from llm_gateway.api.gemini.response import GeminiStreamEncoder, generate_content_response
from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import ChatRequest
from llm_gateway.model.tool_calls import GEMINI_FOREIGN_THOUGHT_SIGNATURE
from llm_gateway.model.wire import ApiFamily
from llm_gateway.providers.anthropic.request import messages_request
from llm_gateway.providers.anthropic.response import chat_completion as from_anthropic
from llm_gateway.providers.anthropic.stream import StreamTranslator as AnthropicTranslator
from llm_gateway.providers.gemini.request import generate_content_request
from llm_gateway.providers.gemini.response import StreamTranslator as GeminiTranslator
from llm_gateway.providers.gemini.response import chat_completion as from_gemini
from llm_gateway.providers.sse import SseDecoder


def payloads(data: bytes) -> list[dict[str, object]]:
    decoder = SseDecoder()
    return [orjson.loads(event) for event in decoder.feed(data) + decoder.finish()]


def test_anthropic_thinking_whole_and_streamed() -> None:
    wire = {
        "id": "msg_1",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "Paris."},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    answer = from_anthropic(wire)
    assert answer["choices"][0]["message"]["reasoning_content"] == "Let me think."
    back = message(answer)
    assert [block["type"] for block in back["content"]] == ["thinking", "text"]
    assert back["content"][0]["thinking"] == "Let me think."

    encoder = AnthropicStreamEncoder("claude")
    chunks = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"reasoning_content": "Hm"}}]},
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"reasoning_content": "m."}}]},
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "Paris."}}]},
    ]
    events = payloads(b"".join(encoder.chunk(c) for c in chunks) + encoder.end())
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]  # type: ignore[index]
    assert starts == ["thinking", "text"]
    translator = AnthropicTranslator()
    again = [c for e in events for c in translator.translate(e)]
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in again if c["choices"]
    )
    assert reasoning == "Hmm."


def test_gemini_thoughts_whole_and_streamed() -> None:
    wire = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Think.", "thought": True}, {"text": "Paris."}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 2,
            "candidatesTokenCount": 1,
            "thoughtsTokenCount": 4,
        },
    }
    answer = from_gemini(wire)
    assert answer["choices"][0]["message"]["content"] == "Paris."
    assert answer["choices"][0]["message"]["reasoning_content"] == "Think."
    assert answer["usage"]["completion_tokens"] == 5  # thinking tokens count as completion
    assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4
    parts = generate_content_response(answer)["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "Think.", "thought": True}, {"text": "Paris."}]

    encoder = GeminiStreamEncoder(sse=True)
    chunk = {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": {"reasoning_content": "Hm."}}],
    }
    translator = GeminiTranslator()
    again = [
        c for p in payloads(encoder.chunk(chunk) + encoder.end()) for c in translator.translate(p)
    ]
    assert again[0]["choices"][0]["delta"]["reasoning_content"] == "Hm."


def test_anthropic_output_config_fields_without_counterpart_are_refused() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}],
        "output_config": {"verbosity": "high"},
    }
    with pytest.raises(GatewayError) as caught:
        translation(body)
    assert caught.value.status == 400 and caught.value.param == "output_config.verbosity"


def test_a_provider_takes_back_only_its_own_familys_signature() -> None:
    """No API accepts another's signature: a canonical turn signed by Anthropic reaches
    Gemini with Gemini's documented stand-in, and one signed by Gemini reaches Anthropic
    without a rebuilt thinking block."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

    def turn(signature: str) -> ChatRequest:
        return {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call],  # type: ignore[list-item]
                    "reasoning_content": "thought",
                    "reasoning_signature": signature,
                },
            ],
        }

    gemini_parts = generate_content_request(turn("anthropic:sig-a"))["contents"][1]["parts"]
    assert gemini_parts[0]["thoughtSignature"] == GEMINI_FOREIGN_THOUGHT_SIGNATURE
    assert (
        generate_content_request(turn("gemini:sig-g"))["contents"][1]["parts"][0][
            "thoughtSignature"
        ]
        == "sig-g"
    )
    anthropic_turn = messages_request(turn("gemini:sig-g"), 1024)["messages"][1]["content"]
    assert [block["type"] for block in anthropic_turn] == ["tool_use"]
    rebuilt = messages_request(turn("anthropic:sig-a"), 1024)["messages"][1]["content"][0]
    assert rebuilt == {"type": "thinking", "thinking": "thought", "signature": "sig-a"}


def test_a_callers_malformed_signature_is_no_signature() -> None:
    """A caller's `reasoning_signature` of another type is not one (never a 500)."""
    assert reasoning.signature_for(ApiFamily.ANTHROPIC, 7) is None
    assert reasoning.signature_for(ApiFamily.GEMINI, None) is None
    assert reasoning.signature_for(ApiFamily.GEMINI, "gemini:") is None
    assert reasoning.signature_for(ApiFamily.GEMINI, "gemini:s") == "s"


def test_one_signed_thinking_block_is_carried_and_interleaved_ones_are_not() -> None:
    """One signature covers one block's text: the canonical message carries it only when the
    answer has one signed block (several, as interleaved thinking gives, cannot be rebuilt
    from one joined text)."""

    def answer(blocks: int) -> dict[str, object]:
        thinking = [
            {"type": "thinking", "thinking": f"t{i}", "signature": f"s{i}"} for i in range(blocks)
        ]
        return {
            "id": "msg_1",
            "model": "claude",
            "content": [*thinking, {"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }

    one = from_anthropic(answer(1))["choices"][0]["message"]
    assert one.get("reasoning_signature") == "anthropic:s0"
    two = from_anthropic(answer(2))["choices"][0]["message"]
    assert two["reasoning_content"] == "t0t1" and "reasoning_signature" not in two
