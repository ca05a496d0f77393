"""OpenAI's Responses API through Envoy with the official `openai` SDK, on each provider family:
answers and stream events validated against the specification's own schemas, stored
responses, `previous_response_id` across turns (and across families), and what is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import httpx
import openai
import pydantic
import pytest

from tests.support.background import closed_within, running_background
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack

# Translated for three families' chat APIs, and passed to an upstream's own Responses API.
FAMILIES = ("gpt-echo", "claude-echo", "gemini-echo", "gpt-native")
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}


@pytest.fixture(scope="module")
def schemas() -> dict[str, Callable[[Any], Any]]:
    """The spec's `response` object and stream event, compiled."""
    path = Path(__file__).parent / "fixtures" / "openai_response_schemas.json"
    loaded = json.loads(path.read_text())
    return {name: fastjsonschema.compile(schema) for name, schema in loaded.items()}


def _valid(schema: Callable[[Any], Any], value: dict[str, Any]) -> None:
    try:
        schema(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        pytest.fail(f"not valid by the spec: {exc.message} in {json.dumps(value)[:600]}")


def _events(client: openai.OpenAI, **request: Any) -> list[dict[str, Any]]:
    with client.responses.create(stream=True, **request) as stream:
        return [event.model_dump(mode="json", exclude_unset=True) for event in stream]


def check_order(events: list[dict[str, Any]]) -> None:
    """The stream's order as the spec defines it: created, in progress, each item added
    before its deltas and done after them, one terminal event, last."""
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert sum(kind in TERMINAL for kind in kinds) == 1 and kinds[-1] in TERMINAL
    opened: set[str] = set()
    done: set[str] = set()
    for event in events[2:-1]:
        if event["type"] == "response.output_item.added":
            opened.add(event["item"]["id"])
        elif event["type"] == "response.output_item.done":
            assert event["item"]["id"] in opened
            done.add(event["item"]["id"])
        elif "item_id" in event:
            assert event["item_id"] in opened and event["item_id"] not in done, event
    assert opened == done
    final = events[-1]["response"]["output"]
    assert [item["id"] for item in final] == [
        e["item"]["id"] for e in events if e["type"] == "response.output_item.done"
    ]


@pytest.mark.parametrize("model", FAMILIES)
def test_a_text_response_from_every_family_is_the_spec_s_response_object(
    client: openai.OpenAI, schemas: dict[str, Callable[[Any], Any]], model: str
) -> None:
    response = client.responses.create(
        model=model, input="hello from the responses api", instructions="Be brief."
    )
    assert response.output_text == "hello from the responses api"
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.instructions == "Be brief." and response.model == model
    assert response.usage is not None and response.usage.output_tokens > 0
    raw = client.responses.retrieve(response.id).model_dump(mode="json", exclude_unset=True)
    _valid(schemas["response"], raw)
    assert raw["output"] == response.model_dump(mode="json", exclude_unset=True)["output"]


@pytest.mark.parametrize("model", FAMILIES)
def test_a_streamed_response_from_every_family_follows_the_spec_s_events(
    client: openai.OpenAI, schemas: dict[str, Callable[[Any], Any]], model: str
) -> None:
    events = _events(client, model=model, input="one two three four")
    for event in events:
        _valid(schemas["stream_event"], event)
    check_order(events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "one two three four"
    assert "encrypted_content" not in json.dumps(events)  # not asked to be included
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] > 0
    _valid(schemas["response"], final)
    stored = client.responses.retrieve(final["id"])
    assert stored.output_text == text


@pytest.mark.parametrize("model", FAMILIES)
def test_a_function_tool_round_trip_continues_with_previous_response_id(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str
) -> None:
    first = client.responses.create(
        model=model, input="What is the weather in Paris?", tools=[WEATHER]
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments)["city"] == "Paris"
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}],
    )
    assert second.status == "completed" and second.previous_response_id == first.id
    sent = json.dumps(upstream.last().body)
    # The upstream was given the whole conversation: the question, the call and its result.
    assert "What is the weather in Paris?" in sent and "sunny" in sent
    assert calls[0].call_id in sent or "get_weather" in sent


def test_a_conversation_moves_between_provider_families_with_its_tool_calls(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(model="claude-echo", input="Weather in Paris?", tools=[WEATHER])
    (call,) = [item for item in first.output if item.type == "function_call"]
    second = client.responses.create(
        model="gemini-echo",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rain"}],
    )
    assert second.status == "completed"
    body = upstream.last().body
    parts = [part for content in body["contents"] for part in content["parts"]]
    assert any(part.get("functionCall", {}).get("name") == "get_weather" for part in parts)
    assert any("functionResponse" in part for part in parts)
    third = client.responses.create(
        model="gpt-echo", previous_response_id=second.id, input="and tomorrow?"
    )
    messages = upstream.last().body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
    assert third.output_text == "and tomorrow?"


def test_retrieve_input_items_and_delete_a_stored_response(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-echo",
        input=[
            {"role": "developer", "content": "Answer in one word."},
            {"role": "user", "content": [{"type": "input_text", "text": "ping"}]},
        ],
        metadata={"ticket": "42"},
    )
    assert client.responses.retrieve(response.id).metadata == {"ticket": "42"}
    page = client.responses.input_items.list(response.id, order="asc")
    assert [item.role for item in page.data] == ["developer", "user"]  # type: ignore[union-attr]
    assert all(item.id for item in page.data)
    newest = client.responses.input_items.list(response.id, limit=1)
    assert newest.data[0].id == page.data[-1].id and newest.has_more
    rest = client.responses.input_items.list(response.id, after=newest.data[0].id)
    assert [item.id for item in rest.data] == [page.data[0].id]
    deleted = client.responses.delete(response.id)
    assert deleted is None
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_store_false_keeps_nothing(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-echo", input="not kept", store=False)
    assert response.output_text == "not kept" and response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-echo", input="next", previous_response_id=response.id)
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"


def test_a_stored_response_is_visible_only_to_the_key_that_made_it(
    client: openai.OpenAI, stack: Stack
) -> None:
    response = client.responses.create(model="gpt-echo", input="mine")
    other = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=OTHER_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(response.id)
    with pytest.raises(openai.BadRequestError):
        other.responses.create(model="gpt-echo", input="x", previous_response_id=response.id)
    assert client.responses.retrieve(response.id).output_text == "mine"


class Person(pydantic.BaseModel):
    name: str
    age: int


def test_parse_with_a_json_schema_reaches_the_upstream_as_its_response_format(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    parsed = client.responses.parse(
        model="gpt-echo", input='{"name": "Ada", "age": 36}', text_format=Person
    )
    assert parsed.output_parsed == Person(name="Ada", age=36)
    sent = upstream.last().body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Person"
    assert sent["json_schema"]["strict"] is True


def test_reasoning_effort_and_options_a_chat_upstream_cannot_use_are_dropped_and_named(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    answer = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers={"authorization": f"Bearer {KEY}"},
        json={
            "model": "gpt-echo",
            "input": "hi",
            "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "client_metadata": {"x": "y"},
        },
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    dropped = [name.strip() for name in answer.headers["x-llm-gateway-dropped"].split(",")]
    assert "reasoning.summary" in dropped and "client_metadata" in dropped
    assert upstream.last().body["reasoning_effort"] == "low"
    assert "client_metadata" not in upstream.last().body


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "x", "temperature": 5}, "temperature"),
        ({"input": 5}, "input"),
        ({"input": "x", "max_output_tokens": 3}, "max_output_tokens"),
        ({"input": [{"type": "computer_call_output", "call_id": "c", "output": {}}]}, None),
        ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"input": "x", "previous_response_id": "r", "conversation": "c"}, "conversation"),
    ],
)
def test_bad_or_unserved_requests_are_a_400_naming_the_parameter(
    stack: Stack, request_body: dict[str, Any], param: str | None
) -> None:
    answer = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-echo", **request_body},
        timeout=20,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param


def test_a_failure_after_the_stream_started_ends_with_error_then_response_failed(
    client: openai.OpenAI, schemas: dict[str, Callable[[Any], Any]]
) -> None:
    events = _events(client, model="gpt-fail-midstream", input="a b c")
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["error", "response.failed"]
    for event in events:
        _valid(schemas["stream_event"], event)
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


def test_unknown_paths_and_methods_under_responses_get_openai_errors(stack: Stack) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    wrong = httpx.put(f"{stack.rest_url}/v1/responses", headers=headers, timeout=20)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    missing = httpx.get(f"{stack.rest_url}/v1/responses/resp_nope", headers=headers, timeout=20)
    assert missing.status_code == 404 and "resp_nope" in missing.json()["error"]["message"]


def test_a_background_response_is_queued_and_polled_to_completion(client: openai.OpenAI) -> None:
    queued = client.responses.create(model="gpt-paced", input="x", background=True)
    assert queued.background is True and queued.status in ("queued", "in_progress")
    deadline = time.monotonic() + 10
    response = queued
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, response.status
        time.sleep(0.1)
        response = client.responses.retrieve(queued.id)
    assert response.status == "completed" and response.output_text.startswith("w0 w1")
    assert response.usage is not None and response.usage.output_tokens == 20


def test_cancelling_a_background_response_closes_its_upstream_call(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    request_id = "background-cancel"
    response_id = running_background(client, upstream, request_id)
    cancelled_at = time.monotonic()
    assert client.responses.cancel(response_id).status == "cancelled"
    closed_within(upstream, request_id, cancelled_at, 1.0)
    assert client.responses.retrieve(response_id).status == "cancelled"
    assert client.responses.cancel(response_id).status == "cancelled"  # cancelling again: as is
    finished = client.responses.create(model="gpt-echo", input="not in the background")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(finished.id)


def test_background_responses_need_store(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as unstored:
        client.responses.create(model="gpt-echo", input="x", background=True, store=False)
    assert unstored.value.param == "store"


@pytest.mark.parametrize("model", ["gpt-paced", "gpt-native"])
def test_a_streamed_background_response_survives_its_caller_and_is_followed_again(
    client: openai.OpenAI, schemas: dict[str, Callable[[Any], Any]], model: str
) -> None:
    seen = []
    with client.responses.create(
        model=model, input="go on without me", background=True, stream=True
    ) as stream:
        for event in stream:
            seen.append(event.model_dump(mode="json", exclude_unset=True))
            if event.type == "response.output_text.delta":
                break  # the caller leaves; the run goes on
    response_id = seen[0]["response"]["id"]
    assert seen[0]["response"]["background"] is True
    stranger = openai.OpenAI(base_url=str(client.base_url), api_key=OTHER_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):  # another key's events are not its to follow
        stranger.responses.retrieve(response_id, stream=True)
    after = seen[-1]["sequence_number"]
    with client.responses.retrieve(response_id, stream=True, starting_after=after) as rest:
        events = [event.model_dump(mode="json", exclude_unset=True) for event in rest]
    assert [e["sequence_number"] for e in events] == list(range(after + 1, after + 1 + len(events)))
    for event in events:
        _valid(schemas["stream_event"], event)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["id"] == response_id
    whole = [*seen, *events]
    text = "".join(e["delta"] for e in whole if e["type"] == "response.output_text.delta")
    stored = client.responses.retrieve(response_id)
    assert stored.status == "completed" and stored.output_text == text


def test_the_events_of_a_response_that_kept_none_are_a_400(client: openai.OpenAI) -> None:
    made = client.responses.create(model="gpt-echo", input="x")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.retrieve(made.id, stream=True)
    assert refused.value.param == "stream"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_missing", stream=True)


def test_input_tokens_are_counted_for_a_create_request(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.rest_url}/v1/responses/input_tokens",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "claude-echo", "input": "count these words please", "instructions": "x"},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    counted = answer.json()
    assert counted["object"] == "response.input_tokens" and counted["input_tokens"] > 0
    assert answer.headers["x-llm-gateway-token-count"] == "estimated"


@pytest.mark.parametrize("stream", [False, True])
def test_a_namespace_tool_s_functions_are_called_by_namespace_and_name(
    stack: Stack, upstream: ScriptedUpstream, stream: bool
) -> None:
    namespace = {
        "type": "namespace",
        "name": "crm",
        "description": "The customer records.",
        "tools": [{**WEATHER, "name": "lookup"}],
    }
    headers = {"authorization": f"Bearer {KEY}"}
    body = {"model": "gpt-echo", "input": "find Ada", "tools": [namespace], "stream": stream}
    answer = httpx.post(f"{stack.rest_url}/v1/responses", headers=headers, json=body, timeout=20)
    assert answer.status_code == 200, answer.text
    sent = upstream.last().body["tools"]
    assert [tool["function"]["name"] for tool in sent] == ["crm__lookup"]
    if stream:
        last = answer.text.strip().split("\n\n")[-1].split("\n")[1].removeprefix("data: ")
        response = json.loads(last)["response"]
    else:
        response = answer.json()
    (call,) = [item for item in response["output"] if item["type"] == "function_call"]
    assert (call["namespace"], call["name"]) == ("crm", "lookup")
    follow_up = {
        "model": "gpt-echo",
        "input": [
            call,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"},
        ],
    }
    again = httpx.post(
        f"{stack.rest_url}/v1/responses", headers=headers, json=follow_up, timeout=20
    )
    assert again.status_code == 200, again.text
    (turn,) = [m for m in upstream.last().body["messages"] if m["role"] == "assistant"]
    assert turn["tool_calls"][0]["function"]["name"] == "crm__lookup"


def test_a_caller_leaving_a_streamed_response_closes_the_upstream_call(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    request_id = "responses-stream-left"
    headers = {"authorization": f"Bearer {KEY}", "x-request-id": request_id}
    body = {"model": "gpt-slow", "input": "x", "stream": True}
    with httpx.stream(
        "POST", f"{stack.rest_url}/v1/responses", headers=headers, json=body, timeout=20
    ) as answer:
        lines = answer.iter_lines()
        while "response.output_text.delta" not in next(lines):
            pass
    left_at = time.monotonic()
    closed_within(upstream, request_id, left_at, 1.0)


def test_a_native_upstream_gets_the_whole_conversation_and_keeps_nothing(
    client: openai.OpenAI, upstream: ScriptedUpstream, schemas: dict[str, Callable[[Any], Any]]
) -> None:
    first = client.responses.create(model="gpt-native", input="first turn", metadata={"k": "v"})
    sent = upstream.last().body
    assert upstream.last().path == "/v1/responses" and sent["store"] is False
    assert sent["model"] == "echo" and "reasoning.encrypted_content" in sent["include"]
    # What the caller asked for, not what the upstream was sent; no reasoning state shown.
    assert first.store is True and first.model == "gpt-native"
    assert [item.type for item in first.output] == ["reasoning", "message"]
    assert first.output[0].encrypted_content is None  # type: ignore[union-attr]
    second = client.responses.create(
        model="gpt-native", previous_response_id=first.id, input="second turn"
    )
    sent = upstream.last().body
    assert "previous_response_id" not in sent and sent["store"] is False
    kinds = [(item.get("type"), item.get("role")) for item in sent["input"]]
    assert kinds == [
        ("message", "user"),
        ("reasoning", None),  # the upstream's own sealed reasoning, carried back
        ("message", "assistant"),
        ("message", "user"),
    ]
    assert second.previous_response_id == first.id and second.output_text == "second turn"
    stored = client.responses.retrieve(second.id, include=["reasoning.encrypted_content"])
    reasoning = [item for item in stored.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content.startswith("openai-sealed:")
    _valid(schemas["response"], stored.model_dump(mode="json", exclude_unset=True))
    # And on to a translated family: the sealed reasoning stays behind.
    third = client.responses.create(
        model="claude-echo", previous_response_id=second.id, input="third turn"
    )
    assert third.output_text.endswith("third turn")


def test_a_background_response_on_a_native_upstream_is_polled_under_its_own_id(
    client: openai.OpenAI,
) -> None:
    queued = client.responses.create(model="gpt-native", input="in the background", background=True)
    deadline = time.monotonic() + 10
    response = queued
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, response.status
        time.sleep(0.1)
        response = client.responses.retrieve(queued.id)
    assert response.id == queued.id and response.background is True
    assert response.status == "completed" and response.output_text == "in the background"


def test_a_native_upstream_counts_input_tokens_with_the_whole_conversation(
    client: openai.OpenAI, stack: Stack, upstream: ScriptedUpstream
) -> None:
    first = client.responses.create(model="gpt-native", input="one two three")
    answer = httpx.post(
        f"{stack.rest_url}/v1/responses/input_tokens",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-native", "input": "four", "previous_response_id": first.id},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-llm-gateway-token-count"] == "upstream"
    assert upstream.last().path == "/v1/responses/input_tokens"
    sent = upstream.last().body
    assert "previous_response_id" not in sent and len(sent["input"]) == 4
    assert answer.json()["input_tokens"] == len(json.dumps(sent["input"]).split())


def test_a_built_in_tool_reaches_a_native_upstream_and_is_refused_for_a_translated_one(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    body = {"input": "search the web", "tools": [{"type": "web_search"}]}
    native = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers=headers,
        json={"model": "gpt-native", **body},
        timeout=20,
    )
    assert native.status_code == 200, native.text
    assert upstream.last().body["tools"] == [{"type": "web_search"}]
    translated = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers=headers,
        json={"model": "claude-echo", **body},
        timeout=20,
    )
    assert translated.status_code == 400 and translated.json()["error"]["param"] == "tools[0].type"


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo"])
def test_a_compaction_stands_for_the_conversation_in_the_next_call(
    stack: Stack, upstream: ScriptedUpstream, model: str
) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    history = [
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "hello Ada"},
    ]
    answer = httpx.post(
        f"{stack.rest_url}/v1/responses/compact",
        headers=headers,
        json={"model": model, "input": history},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    compacted = answer.json()
    assert compacted["object"] == "response.compaction" and compacted["usage"]["total_tokens"]
    (item,) = compacted["output"]
    assert item["type"] == "compaction" and item["id"].startswith("cmp_")
    assert "my name is Ada" in json.dumps(upstream.last().body)  # the model summarised it
    follow = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers=headers,
        json={"model": "gpt-echo", "input": [item, {"role": "user", "content": "who am I?"}]},
        timeout=20,
    )
    assert follow.status_code == 200, follow.text
    messages = upstream.last().body["messages"]
    assert messages[0]["role"] == "user"
    assert messages[0]["content"].startswith("A summary of the conversation so far")


def test_a_native_upstream_compacts_and_gets_the_gateway_s_compactions_as_text(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    headers = {"authorization": f"Bearer {KEY}"}
    native = httpx.post(
        f"{stack.rest_url}/v1/responses/compact",
        headers=headers,
        json={"model": "gpt-native", "input": "compact me"},
        timeout=20,
    )
    assert native.status_code == 200, native.text
    assert upstream.last().path == "/v1/responses/compact"
    assert native.json()["output"][0]["encrypted_content"].startswith("openai-sealed:")
    ours = httpx.post(
        f"{stack.rest_url}/v1/responses/compact",
        headers=headers,
        json={"model": "gpt-echo", "input": "compact me too"},
        timeout=20,
    ).json()["output"][0]
    given = httpx.post(
        f"{stack.rest_url}/v1/responses",
        headers=headers,
        json={"model": "gpt-native", "input": [ours, {"role": "user", "content": "next"}]},
        timeout=20,
    )
    assert given.status_code == 200, given.text
    first = upstream.last().body["input"][0]
    assert first["type"] == "message" and "A summary" in first["content"][0]["text"]
