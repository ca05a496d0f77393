"""The typed API's conversions: every modelled request field is forwarded, answers keep theirs."""

from __future__ import annotations

from google.protobuf import struct_pb2

from llm_gateway.api.grpc import requests, responses
from llm_gateway.model import RequestValidator
from llm_gateway.model.validation import CHAT_FIELDS, COMPLETION_FIELDS
from llm_gateway.v1 import chat_pb2, common_pb2, completions_pb2
from tests.support.scripted_upstream import stream_chunks, whole_answer

VALIDATOR = RequestValidator("reject")


def struct(**values: object) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def full_chat_request() -> chat_pb2.ChatCompletionRequest:
    text = chat_pb2.ContentPart(text="t")
    return chat_pb2.ChatCompletionRequest(
        model="m",
        messages=[
            chat_pb2.ChatMessage(role="developer", text="d"),
            chat_pb2.ChatMessage(
                role="user",
                name="u",
                parts=chat_pb2.ContentParts(
                    parts=[
                        text,
                        chat_pb2.ContentPart(
                            input_audio=chat_pb2.InputAudio(data="AA", format="wav")
                        ),
                        chat_pb2.ContentPart(
                            file=chat_pb2.FileInput(file_id="f1"),
                            prompt_cache_breakpoint=struct(mode="explicit"),
                        ),
                    ]
                ),
            ),
            chat_pb2.ChatMessage(
                role="assistant",
                refusal="no",
                tool_calls=[
                    chat_pb2.ToolCall(
                        id="c1",
                        type="function",
                        function=chat_pb2.FunctionCall(name="f", arguments="{}"),
                    )
                ],
                audio=chat_pb2.AudioReference(id="a1"),
            ),
            chat_pb2.ChatMessage(role="tool", tool_call_id="c1", text="r"),
        ],
        temperature=0.0,
        top_p=1.0,
        n=1,
        stream=True,
        stream_options=common_pb2.StreamOptions(include_usage=True),
        stop=common_pb2.StopSequences(sequences=["a", "b"]),
        max_tokens=5,
        max_completion_tokens=5,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        logit_bias={"1": 2},
        logprobs=True,
        top_logprobs=1,
        seed=3,
        user="u",
        tools=[
            chat_pb2.Tool(
                type="function",
                function=chat_pb2.FunctionDefinition(
                    name="f", description="d", parameters=struct(type="object"), strict=True
                ),
            )
        ],
        tool_choice=chat_pb2.ToolChoice(
            allowed_tools=chat_pb2.AllowedTools(
                mode="auto", tools=[struct(type="function", function={"name": "f"})]
            )
        ),
        parallel_tool_calls=True,
        response_format=chat_pb2.ResponseFormat(
            type="json_schema",
            json_schema=(
                chat_pb2.JsonSchemaFormat(name="s", schema=struct(type="object"), strict=True)
            ),
        ),
        metadata={"k": "v"},
        store=False,
        service_tier="auto",
        reasoning_effort="low",
        modalities=["text", "audio"],
        prediction=chat_pb2.Prediction(type="content", parts=chat_pb2.ContentParts(parts=[text])),
        audio=chat_pb2.AudioOutput(custom_id="voice_1", format="mp3"),
        verbosity="low",
        web_search_options=struct(search_context_size="low"),
        safety_identifier="s",
        prompt_cache_key="k",
        prompt_cache_retention="24h",
        prompt_cache_options=struct(mode="implicit"),
        moderation=struct(model="omni"),
        function_call=chat_pb2.FunctionCallChoice(name="f"),
        functions=[chat_pb2.FunctionDefinition(name="f")],
    )


def test_every_chat_field_is_forwarded() -> None:
    body = requests.chat_body(full_chat_request(), stream=True)
    assert set(body) == CHAT_FIELDS
    assert VALIDATOR.chat(body).body is body  # and the result is a valid OpenAI request
    assert body["audio"] == {"voice": {"id": "voice_1"}, "format": "mp3"}
    assert body["prediction"] == {"type": "content", "content": [{"type": "text", "text": "t"}]}
    assert body["tool_choice"]["allowed_tools"]["tools"] == [
        {"type": "function", "function": {"name": "f"}}
    ]
    assert body["stop"] == ["a", "b"] and body["function_call"] == {"name": "f"}
    assert body["messages"][1]["content"][2] == {
        "type": "file",
        "file": {"file_id": "f1"},
        "prompt_cache_breakpoint": {"mode": "explicit"},
    }


def test_unary_rpcs_never_stream() -> None:
    body = requests.chat_body(full_chat_request(), stream=False)
    assert body["stream"] is False and "stream_options" not in body


def test_every_completion_field_is_forwarded() -> None:
    request = completions_pb2.CompletionRequest(
        model="m",
        texts=completions_pb2.PromptTexts(texts=["a", "b"]),
        suffix="s",
        max_tokens=1,
        temperature=1.0,
        top_p=1.0,
        n=1,
        best_of=1,
        stream=True,
        stream_options=common_pb2.StreamOptions(include_usage=False),
        logprobs=0,
        echo=False,
        stop=common_pb2.StopSequences(sequences=["x"], single=True),
        presence_penalty=0.0,
        frequency_penalty=0.0,
        logit_bias={"5": -1},
        seed=-1,
        user="u",
    )
    body = requests.completion_body(request, stream=True)
    assert set(body) == COMPLETION_FIELDS
    assert VALIDATOR.completion(body).body is body
    assert body["prompt"] == ["a", "b"] and body["stop"] == "x" and body["logprobs"] == 0


def test_answers_convert_without_loss_of_modelled_fields() -> None:
    body = {
        "model": "echo",
        "messages": [{"role": "user", "content": "a b"}],
        "n": 2,
        "logprobs": True,
        "top_logprobs": 2,
        "stream_options": {"include_usage": True},
    }
    answer = responses.chat_completion(whole_answer(body, chat=True))
    assert answer.service_tier == "default" and answer.system_fingerprint == "fp_1"
    assert answer.choices[1].logprobs.content[1].top_logprobs[1].token == "x"
    assert answer.choices[0].logprobs.content[0].bytes == list(b"a ")
    assert answer.usage.completion_tokens_details.reasoning_tokens == 0
    chunks = [responses.chat_chunk(c) for c in stream_chunks({**body, "stream": True}, True)]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert not chunks[1].choices[0].HasField("finish_reason")
    assert chunks[-1].usage.total_tokens == 6 and not chunks[-1].choices
    text = responses.completion(
        whole_answer({"model": "echo", "prompt": "x y", "logprobs": 1, "echo": True}, chat=False)
    )
    assert text.choices[0].text == "x yx y"
    assert list(text.choices[0].logprobs.text_offset) == [0, 2]
