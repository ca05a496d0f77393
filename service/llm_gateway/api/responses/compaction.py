"""`POST /v1/responses/compact`: a long conversation made short, for any provider.

OpenAI's API answers a `response.compaction` whose output, given back as the next call's
input in place of the conversation, stands for it: a `compaction` item with opaque content.
The gateway makes that item itself for any model: it asks the model, as a chat request, to
summarise the conversation (its items, from the input and `previous_response_id`), and the
item's `encrypted_content` is the summary, marked as the gateway's (`minted`): when it comes
back, it is given to the model as a user turn that says what it is (see `request`). A native
upstream (`responses_api: native`) compacts the conversation itself, its answer relayed.
The summary is not encrypted: it is the caller's own conversation, told back to it.
"""

from __future__ import annotations

import base64
from typing import Any

from llm_gateway.api.responses.response import new_id, usage
from llm_gateway.model.canonical import ChatCompletion, ChatMessage, ChatRequest

_MINTED = "llm-gateway.v1.compaction:"
# What the model is asked for, after the conversation.
SUMMARY_REQUEST = (
    "Summarise the conversation so far so that it can be continued from the summary alone: "
    "keep every fact, decision, name, number and result of a tool that later turns may need, "
    "and the tasks still open. Answer with the summary only."
)
# How a summary is given back to a model.
SUMMARY_INTRODUCTION = "A summary of the conversation so far (earlier turns were compacted):\n"


def minted(summary: str) -> str:
    """The `encrypted_content` of a compaction item the gateway made."""
    return _MINTED + base64.b64encode(summary.encode()).decode()


def summary_of(encrypted_content: object) -> str | None:
    """The summary a compaction item of the gateway's carries; None for another's."""
    if not isinstance(encrypted_content, str) or not encrypted_content.startswith(_MINTED):
        return None
    try:
        return base64.b64decode(encrypted_content[len(_MINTED) :], validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def summary_request(chat: ChatRequest) -> ChatRequest:
    """The chat request that asks the model for the conversation's summary."""
    messages: list[ChatMessage] = [*chat["messages"], {"role": "user", "content": SUMMARY_REQUEST}]
    request: ChatRequest = {"model": chat["model"], "messages": messages}
    if "max_completion_tokens" in chat:
        request["max_completion_tokens"] = chat["max_completion_tokens"]
    return request


def compacted(answer: ChatCompletion, created_at: int) -> dict[str, Any]:
    """The `response.compaction` object for the model's summary."""
    choices = answer.get("choices") or ()
    summary = (choices[0]["message"].get("content") or "") if choices else ""
    item = {"id": new_id("cmp"), "type": "compaction", "encrypted_content": minted(summary)}
    return {
        "id": new_id("resp"),
        "object": "response.compaction",
        "created_at": created_at,
        "output": [item],
        "usage": usage(answer.get("usage")),
    }
