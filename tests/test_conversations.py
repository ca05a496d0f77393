"""OpenAI's Conversations API on the gateway's store, with the official `openai` SDK through
Envoy: conversations and their items, responses that continue a conversation (on any
provider family), and each key seeing only its own."""

from __future__ import annotations

import openai
import pytest

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import OTHER_KEY, Stack


def test_a_conversation_and_its_items_are_created_read_changed_and_deleted(
    client: openai.OpenAI,
) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "first note"}],
        metadata={"topic": "demo"},
    )
    assert conversation.id.startswith("conv_") and conversation.metadata == {"topic": "demo"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "demo"}
    changed = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert changed.metadata == {"topic": "changed"}
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": "second note"},
            {"type": "message", "role": "assistant", "content": "noted"},
        ],
    )
    assert [item.role for item in added.data] == ["user", "assistant"]  # type: ignore[union-attr]
    listed = client.conversations.items.list(conversation.id, order="asc")
    texts = [item.content[0].text for item in listed.data]  # type: ignore[union-attr]
    assert texts == ["first note", "second note", "noted"]
    one = client.conversations.items.retrieve(listed.data[1].id, conversation_id=conversation.id)
    assert one.id == listed.data[1].id
    client.conversations.items.delete(listed.data[0].id, conversation_id=conversation.id)
    left = client.conversations.items.list(conversation.id, order="asc")
    assert [item.id for item in left.data] == [i.id for i in listed.data[1:]]
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo", "gemini-echo"])
def test_responses_in_a_conversation_see_its_items_and_add_theirs(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str
) -> None:
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "remember the word heron"}]
    )
    first = client.responses.create(model=model, conversation=conversation.id, input="one")
    # Anthropic and Gemini take consecutive user turns as one: the echo answers both.
    assert first.output_text.endswith("one")
    assert first.conversation is not None and first.conversation.id == conversation.id
    second = client.responses.create(model=model, conversation=conversation.id, input="two")
    assert second.output_text == "two"
    sent = str(upstream.last().body)
    assert "remember the word heron" in sent and "one" in sent
    listed = client.conversations.items.list(conversation.id, order="asc")
    roles = [item.role for item in listed.data]  # type: ignore[union-attr]
    assert roles == ["user", "user", "assistant", "user", "assistant"]


def test_a_conversation_is_visible_only_to_the_key_that_made_it(
    client: openai.OpenAI, stack: Stack
) -> None:
    conversation = client.conversations.create()
    other = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=OTHER_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        other.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="gpt-echo", conversation=conversation.id, input="x")
    with pytest.raises(openai.NotFoundError):
        other.conversations.delete(conversation.id)
    assert client.conversations.retrieve(conversation.id).id == conversation.id


def test_bad_conversation_requests_are_a_400_naming_the_parameter(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(model="gpt-echo", input="x")
    with pytest.raises(openai.BadRequestError) as both:
        client.responses.create(
            model="gpt-echo",
            input="y",
            conversation=conversation.id,
            previous_response_id=first.id,
        )
    assert both.value.param == "conversation"
    with pytest.raises(openai.BadRequestError) as metadata:
        client.conversations.update(conversation.id, metadata={"k": 1})  # type: ignore[dict-item]
    assert metadata.value.param == "metadata.k"
    with pytest.raises(openai.BadRequestError) as many:
        client.conversations.items.create(
            conversation.id,
            items=[{"type": "message", "role": "user", "content": str(n)} for n in range(21)],
        )
    assert many.value.param == "items"
