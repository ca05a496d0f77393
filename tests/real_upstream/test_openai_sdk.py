"""The official `openai` SDK, through Envoy and the gateway, against the real llama-server and
SmolLM2: what the server generates and counts reaches the caller, the usage records and the
metrics, and llama-server's differences from OpenAI are made good (see providers/llama_server)."""

from __future__ import annotations

import json
import time

import openai
import pytest
import requests

from tests.real_upstream.conftest import MODEL, LocalStack, long_stream
from tests.support.databases import query

pytestmark = pytest.mark.real_upstream
USER = [{"role": "user", "content": "Name three colours."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# The 135M model calls a tool reliably once the conversation shows it one call.
TOOL_CONVERSATION = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "user", "content": "What is the weather in Berlin?"},
]


def test_chat_answers_with_generated_text_and_the_servers_counts(
    client: openai.OpenAI, local: LocalStack
) -> None:
    before = local.server_metrics()
    answer = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=40, seed=3)
    after = local.server_metrics()
    text = answer.choices[0].message.content or ""
    assert len(text.split()) >= 2 and answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None and answer.usage.prompt_tokens > 5
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert answer.usage.completion_tokens == predicted
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + predicted


def test_stream_with_include_usage_counts_what_the_server_counted(
    client: openai.OpenAI, local: LocalStack
) -> None:
    before = local.server_metrics()
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=USER,
            max_tokens=40,
            seed=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    after = local.server_metrics()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) >= 2
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and not chunks[-1].choices
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert usage_chunks[0].usage is not None
    assert usage_chunks[0].usage.completion_tokens == predicted
    # The same request unary gives the same text: one model, one seed, one sampler.
    unary = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=40, seed=3)
    assert unary.choices[0].message.content == text


def test_usage_records_and_metrics_match_the_servers_counts(
    client: openai.OpenAI, local: LocalStack
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Count to five."}], max_tokens=30
    )
    answer = raw.parse()
    request_id = raw.headers["x-request-id"]
    assert answer.usage is not None
    rows: list[dict[str, object]] = []
    deadline = time.monotonic() + 10
    while not rows and time.monotonic() < deadline:
        rows = query(local.database, "SELECT * FROM usage_records WHERE request_id = ?", request_id)
        time.sleep(0.05)
    assert rows, "no usage record"
    assert rows[0]["prompt_tokens"] == answer.usage.prompt_tokens
    assert rows[0]["completion_tokens"] == answer.usage.completion_tokens
    assert rows[0]["estimated"] == 0 and rows[0]["deployment"] == "local/smollm2-135m-instruct"
    metrics = requests.get(local.stack.metrics_url, timeout=5).text
    output = [
        line
        for line in metrics.splitlines()
        if line.startswith("gen_ai_client_token_usage_sum{")
        and 'gen_ai_token_type="output"' in line
    ]
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in output)
    # The gateway's total of output tokens equals the server's: every request so far went
    # through the gateway, and none was cut short.
    assert counted >= answer.usage.completion_tokens
    assert counted == local.server_metrics()["tokens_predicted_total"]


def test_completions_unary_and_stream(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert "Paris" in answer.choices[0].text and answer.object == "text_completion"
    assert answer.usage is not None and answer.usage.completion_tokens >= 1
    chunks = list(
        client.completions.create(
            model=MODEL,
            prompt="The capital of France is",
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == answer.choices[0].text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == answer.usage.completion_tokens


def test_max_tokens_ends_with_length(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Write a long story."}], max_tokens=5
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 5


def test_stop_sequences_end_the_text(client: openai.OpenAI) -> None:
    free = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count from 1 to 10, one per line."}],
        max_tokens=60,
        temperature=0,
    )
    text = free.choices[0].message.content or ""
    assert "3" in text
    stopped = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count from 1 to 10, one per line."}],
        max_tokens=60,
        temperature=0,
        stop=["3"],
    )
    cut = stopped.choices[0].message.content or ""
    assert "3" not in cut and text.startswith(cut) and stopped.choices[0].finish_reason == "stop"


def test_seed_makes_sampling_repeatable(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        answer = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Invent a word."}],
            max_tokens=20,
            temperature=1.5,
            seed=seed,
        )
        return answer.choices[0].message.content or ""

    first = sample(11)
    assert sample(11) == first
    assert any(sample(seed) != first for seed in (12, 13, 14))


def test_n_choices_are_all_counted(client: openai.OpenAI, local: LocalStack) -> None:
    """llama-server counts one choice; the gateway asks per choice and counts them all."""
    before = local.server_metrics()
    answer = client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=20, seed=5, n=3, temperature=1.0
    )
    after = local.server_metrics()
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert all(c.message.content for c in answer.choices)
    assert len({c.message.content for c in answer.choices}) > 1
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert answer.usage is not None and answer.usage.completion_tokens == predicted
    # Streamed: the server's usage chunk per choice becomes one chunk counting them all.
    before = local.server_metrics()
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=USER,
            max_tokens=20,
            seed=5,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    after = local.server_metrics()
    assert {c.choices[0].index for c in chunks if c.choices} == {0, 1}
    usage = [c.usage for c in chunks if c.usage is not None]
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert len(usage) == 1 and usage[0].completion_tokens == predicted


def test_chat_logprobs_unary_and_streamed(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=5, logprobs=True, top_logprobs=2, temperature=0
    )
    content = answer.choices[0].logprobs and answer.choices[0].logprobs.content
    assert content and len(content) == answer.usage.completion_tokens  # type: ignore[union-attr]
    assert all(entry.logprob <= 0 and len(entry.top_logprobs) == 2 for entry in content)
    assert "".join(entry.token for entry in content) == answer.choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=USER,
            max_tokens=5,
            logprobs=True,
            top_logprobs=2,
            temperature=0,
            stream=True,
        )
    )
    streamed = [
        e
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content or ()
    ]
    assert [e.token for e in streamed] == [e.token for e in content]


def test_completions_logprobs_come_in_the_completions_shape(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=4, logprobs=2, temperature=0
    )
    logprobs = answer.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens and logprobs.token_logprobs
    assert "".join(logprobs.tokens) == answer.choices[0].text
    assert len(logprobs.token_logprobs) == len(logprobs.tokens)
    assert logprobs.top_logprobs and all(len(top) == 2 for top in logprobs.top_logprobs)
    assert logprobs.text_offset == [
        sum(len(t) for t in logprobs.tokens[:i]) for i in range(len(logprobs.tokens))
    ]
    chunks = list(
        client.completions.create(
            model=MODEL,
            prompt="The capital of France is",
            max_tokens=4,
            logprobs=2,
            temperature=0,
            stream=True,
        )
    )
    offsets = [
        o
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for o in c.choices[0].logprobs.text_offset or ()
    ]
    assert offsets == logprobs.text_offset


def test_echo_is_refused_not_ignored(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="Hello", max_tokens=3, echo=True)
    assert caught.value.body["param"] == "echo"  # type: ignore[index]


def test_json_schema_is_enforced_by_the_servers_grammar(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        # Bounded, so that a small model's ramble cannot run past max_tokens mid-string.
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    answer = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        max_tokens=60,
        temperature=0.0,
        seed=3,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    person = json.loads(answer.choices[0].message.content or "")
    assert set(person) == {"name", "age"}
    assert isinstance(person["name"], str) and isinstance(person["age"], int)


def test_tool_calls_unary_and_streamed_deltas(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL,
        messages=TOOL_CONVERSATION,
        tools=[WEATHER_TOOL],
        max_tokens=60,  # type: ignore[list-item]
        temperature=0,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Berlin"}  # type: ignore[union-attr]
    assert choice.message.content is None  # llama-server's "" made OpenAI's null
    assert call.id and not call.id.startswith("call_")  # its own ids, passed on as they are
    pieces: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in client.chat.completions.create(
        model=MODEL,
        messages=TOOL_CONVERSATION,
        tools=[WEATHER_TOOL],
        max_tokens=60,  # type: ignore[list-item]
        temperature=0,
        stream=True,
    ):
        if not chunk.choices:
            continue
        finish = chunk.choices[0].finish_reason or finish
        for delta in chunk.choices[0].delta.tool_calls or ():
            entry = pieces.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += (delta.function and delta.function.name) or ""
            entry["arguments"] += (delta.function and delta.function.arguments) or ""
    assert finish == "tool_calls" and list(pieces) == [0]
    assert pieces[0]["name"] == "get_weather" and pieces[0]["id"]
    assert json.loads(pieces[0]["arguments"]) == {"city": "Berlin"}
    # The tool's answer goes back with the server's id: the conversation goes on.
    follow = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER_TOOL],
        max_tokens=30,  # type: ignore[list-item]
        messages=[
            *TOOL_CONVERSATION[:1],
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": call.function.arguments},
                    }
                ],
            },  # type: ignore[union-attr]
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ],
    )
    assert follow.choices[0].message.content or follow.choices[0].message.tool_calls


def test_context_overflow_is_the_servers_400_in_openais_shape(client: openai.OpenAI) -> None:
    long = [{"role": "user", "content": "hello " * 3000}]  # over the 2048 tokens of a slot
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            answer = client.chat.completions.create(model=MODEL, messages=long, stream=stream)  # type: ignore[call-overload]
            if stream:
                list(answer)
        body = caught.value.body
        assert isinstance(body, dict) and "exceeds the available context size" in body["message"]
        assert body["type"] == "exceed_context_size_error" or body["code"]
    # Asked as one request per choice: the upstream's refusal, not a failure of the gateway.
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=long, n=2)  # type: ignore[arg-type]
    assert "exceeds the available context size" in str(caught.value)


def test_cancelling_a_stream_frees_the_servers_slot(local: LocalStack) -> None:
    with long_stream(local.stack, 1500) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for _ in range(10):
            next(lines)
        assert any(slot["is_processing"] for slot in local.slots())
    # The caller went away: the gateway closes the upstream connection and the server stops.
    assert local.wait_idle(10), local.slots()
