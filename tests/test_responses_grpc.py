"""The typed Responses API (`llm_gateway.v1.ResponsesService`) over gRPC, direct and through
Envoy: create (unary and streamed, the events a typed oneof), a tool round trip across
provider families, the stored responses (shared with the REST paths), conversations, status
codes with details, and reflection."""

from __future__ import annotations

import json

import grpc
import openai
import pytest
from google.protobuf import struct_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from llm_gateway.v1 import responses_pb2 as pb
from llm_gateway.v1 import responses_service_pb2_grpc
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Stack

SERVICE = "llm_gateway.v1.ResponsesService"


def _stub(target: str) -> tuple[grpc.Channel, responses_service_pb2_grpc.ResponsesServiceStub]:
    channel = grpc.insecure_channel(target)
    return channel, responses_service_pb2_grpc.ResponsesServiceStub(channel)


def _user(text: str) -> pb.Item:
    return pb.Item(
        message=pb.MessageItem(role="user", content=[pb.ResponseContentPart(input_text=text)])
    )


def _weather() -> pb.ResponseTool:
    parameters = struct_pb2.Struct()
    parameters.update({"type": "object", "properties": {"city": {"type": "string"}}})
    return pb.ResponseTool(function=pb.FunctionTool(name="get_weather", parameters=parameters))


@pytest.mark.parametrize("via", ["direct", "envoy"])
def test_a_typed_response_is_created_stored_and_read_over_rest_too(
    stack: Stack, client: openai.OpenAI, via: str
) -> None:
    channel, responses = _stub(stack.grpc_target if via == "direct" else stack.envoy_target)
    with channel:
        request = pb.CreateResponseRequest(
            model="claude-echo", input=[_user("typed hello")], instructions="Be brief."
        )
        answer = responses.CreateResponse(request, metadata=METADATA, timeout=20)
        assert answer.status == "completed" and answer.output_text == "typed hello"
        assert answer.usage.output_tokens > 0 and answer.instructions == "Be brief."
        stored = responses.GetResponse(pb.ResponseRequest(response_id=answer.id), metadata=METADATA)
        assert stored.output_text == "typed hello"
        # One store for both surfaces.
        assert client.responses.retrieve(answer.id).output_text == "typed hello"
        page = responses.ListInputItems(pb.ListItemsRequest(id=answer.id), metadata=METADATA)
        assert [entry.message.role for entry in page.data] == ["user"]
        responses.DeleteResponse(pb.ResponseRequest(response_id=answer.id), metadata=METADATA)
        with pytest.raises(grpc.RpcError) as gone:
            responses.GetResponse(pb.ResponseRequest(response_id=answer.id), metadata=METADATA)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        assert error_details(gone.value)[0].code == "not_found"


def test_a_streamed_typed_response_carries_each_event_in_order(stack: Stack) -> None:
    channel, responses = _stub(stack.grpc_target)
    with channel:
        request = pb.CreateResponseRequest(model="gemini-echo", input=[_user("one two three")])
        events = list(responses.StreamResponse(request, metadata=METADATA, timeout=20))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed" and events[-1].WhichOneof("event") == "response"
    deltas = [e.delta.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "one two three"
    added = [e for e in events if e.type == "response.output_item.added"]
    assert added and added[0].output_item.item.message.role == "assistant"
    assert events[-1].response.output_text == "one two three"


def test_a_typed_tool_round_trip_moves_between_provider_families(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    channel, responses = _stub(stack.grpc_target)
    with channel:
        first = responses.CreateResponse(
            pb.CreateResponseRequest(
                model="gpt-echo", input=[_user("weather in Paris?")], tools=[_weather()]
            ),
            metadata=METADATA,
        )
        (call,) = [e.function_call for e in first.output if e.WhichOneof("item") == "function_call"]
        assert call.name == "get_weather" and json.loads(call.arguments)["city"] == "Paris"
        output = pb.Item(
            function_call_output=pb.FunctionCallOutputItem(call_id=call.call_id, output="sunny")
        )
        second = responses.CreateResponse(
            pb.CreateResponseRequest(
                model="claude-echo", previous_response_id=first.id, input=[output]
            ),
            metadata=METADATA,
        )
    assert second.status == "completed"
    sent = json.dumps(upstream.last().body)
    assert "tool_use" in sent and "sunny" in sent


def test_typed_conversations_and_failures_have_meaningful_statuses(stack: Stack) -> None:
    channel, responses = _stub(stack.grpc_target)
    with channel:
        conversation = responses.CreateConversation(
            pb.CreateConversationRequest(items=[_user("remember heron")], metadata={"k": "v"}),
            metadata=METADATA,
        )
        assert conversation.id.startswith("conv_") and dict(conversation.metadata) == {"k": "v"}
        answer = responses.CreateResponse(
            pb.CreateResponseRequest(
                model="gpt-echo", conversation=conversation.id, input=[_user("again")]
            ),
            metadata=METADATA,
        )
        assert answer.conversation == conversation.id
        page = responses.ListConversationItems(
            pb.ListItemsRequest(id=conversation.id, order="asc"), metadata=METADATA
        )
        assert [e.message.role for e in page.data] == ["user", "user", "assistant"]
        changed = responses.UpdateConversation(
            pb.UpdateConversationMetadataRequest(
                conversation_id=conversation.id, metadata={"k": "w"}
            ),
            metadata=METADATA,
        )
        assert dict(changed.metadata) == {"k": "w"}
        first = page.data[0].message.id
        ref = pb.ConversationItemRef(conversation_id=conversation.id, item_id=first)
        item = responses.GetConversationItem(ref, metadata=METADATA)
        assert item.message.content[0].input_text == "remember heron"
        responses.DeleteConversationItem(ref, metadata=METADATA)
        left = responses.ListConversationItems(
            pb.ListItemsRequest(id=conversation.id, order="asc"), metadata=METADATA
        )
        assert [e.message.id for e in left.data] == [e.message.id for e in page.data[1:]]
        with pytest.raises(grpc.RpcError) as gone:
            responses.GetConversationItem(ref, metadata=METADATA)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as bad:
            responses.CreateResponse(
                pb.CreateResponseRequest(model="gpt-echo", input=[_user("x")], temperature=5),
                metadata=METADATA,
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert error_details(bad.value)[0].param == "temperature"
        with pytest.raises(grpc.RpcError) as anonymous:
            responses.GetConversation(pb.ConversationRequest(conversation_id=conversation.id))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        events = []
        with pytest.raises(grpc.RpcError) as failed:
            request = pb.CreateResponseRequest(model="gpt-fail-midstream", input=[_user("a b c")])
            for event in responses.StreamResponse(request, metadata=METADATA):
                events.append(event)
        # The API's own end of a failed stream, then the failure's status.
        assert [event.type for event in events][-2:] == ["error", "response.failed"]
        assert events[-1].response.status == "failed"
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_the_typed_service_is_listed_by_reflection(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        asked = reflection_pb2.ServerReflectionRequest(list_services="")
        (answer,) = list(reflection.ServerReflectionInfo(iter([asked])))
    assert SERVICE in [s.name for s in answer.list_services_response.service]


def test_typed_calls_reach_a_native_upstream_unary_and_streamed(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    channel, responses = _stub(stack.grpc_target)
    with channel:
        request = pb.CreateResponseRequest(model="gpt-native", input=[_user("native typed")])
        answer = responses.CreateResponse(request, metadata=METADATA, timeout=20)
        assert upstream.last().path == "/v1/responses" and upstream.last().body["store"] is False
        assert answer.output_text == "native typed" and answer.model == "gpt-native"
        assert answer.usage.output_tokens == 2
        follow = pb.CreateResponseRequest(
            model="gpt-native", previous_response_id=answer.id, input=[_user("and streamed")]
        )
        events = list(responses.StreamResponse(follow, metadata=METADATA, timeout=20))
    assert events[-1].type == "response.completed"
    assert events[-1].response.previous_response_id == answer.id
    deltas = "".join(e.delta.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "and streamed"
    assert len(upstream.last().body["input"]) == 4  # the first turn's three items, and this one


def test_a_typed_streamed_background_response_is_stored_under_its_queued_id(
    stack: Stack,
) -> None:
    channel, responses = _stub(stack.grpc_target)
    with channel:
        request = pb.CreateResponseRequest(model="gpt-paced", input=[_user("x")], background=True)
        events = list(responses.StreamResponse(request, metadata=METADATA, timeout=20))
        assert events[-1].type == "response.completed" and events[-1].response.background
        stored = responses.GetResponse(
            pb.ResponseRequest(response_id=events[0].response.id), metadata=METADATA
        )
    assert stored.status == "completed" and stored.output_text == events[-1].response.output_text
