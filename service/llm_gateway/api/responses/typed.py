"""The typed Responses API's messages to and from the API's JSON objects, by explicit code
(json_format costs tens of microseconds a message: too much for a stream's events).

A typed request becomes the JSON body the REST surface would have received, so both are
validated and served by the same code; answers, items and events are made from the JSON
objects the operations return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llm_gateway.api.grpc.struct_values import from_struct
from llm_gateway.v1 import responses_pb2 as pb

# Events whose member is the whole `response`.
_RESPONSE_EVENTS = frozenset(
    (
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    )
)
# The member of each `.done` event that carries the whole text.
_DONE_TEXT = {
    "response.output_text.done": "text",
    "response.refusal.done": "refusal",
    "response.reasoning_text.done": "text",
    "response.function_call_arguments.done": "arguments",
}


def _part_dict(part: pb.ResponseContentPart) -> dict[str, Any]:
    kind = part.WhichOneof("part")
    if kind == "input_image":
        image: dict[str, Any] = {"type": "input_image", "image_url": part.input_image.image_url}
        image["detail"] = part.input_image.detail or "auto"
        return image
    if kind == "input_file":
        file: dict[str, Any] = {"type": "input_file", "file_data": part.input_file.file_data}
        if part.input_file.filename:
            file["filename"] = part.input_file.filename
        return file
    if kind == "refusal":
        return {"type": "refusal", "refusal": part.refusal}
    if kind == "output_text":
        return {"type": "output_text", "text": part.output_text}
    return {"type": "input_text", "text": part.input_text}


def item_dict(item: pb.Item) -> dict[str, Any]:
    """A typed item as the API's JSON item (ids left out when not given)."""
    kind = item.WhichOneof("item")
    out: dict[str, Any]
    if kind == "function_call":
        call = item.function_call
        out = {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        }
        if call.namespace:
            out["namespace"] = call.namespace
        source: Any = call
    elif kind == "function_call_output":
        output = item.function_call_output
        out = {"type": "function_call_output", "call_id": output.call_id, "output": output.output}
        source = output
    elif kind == "reasoning":
        thought = item.reasoning
        out = {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text} for text in thought.summary],
        }
        if thought.text:
            out["content"] = [{"type": "reasoning_text", "text": thought.text}]
        if thought.encrypted_content:
            out["encrypted_content"] = thought.encrypted_content
        source = thought
    elif kind == "item_reference":
        return {"type": "item_reference", "id": item.item_reference.id}
    else:
        message = item.message
        out = {
            "type": "message",
            "role": message.role,
            "content": [_part_dict(part) for part in message.content],
        }
        source = message
    if source.id:
        out = {"id": source.id, **out}
    return out


def _tool_dict(tool: pb.ResponseTool) -> dict[str, Any]:
    def function(given: pb.FunctionTool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "function",
            "name": given.name,
            "parameters": from_struct(given.parameters) if given.HasField("parameters") else None,
        }
        if given.description:
            out["description"] = given.description
        if given.HasField("strict"):
            out["strict"] = given.strict
        return out

    if tool.WhichOneof("tool") == "namespace":
        group = tool.namespace
        return {
            "type": "namespace",
            "name": group.name,
            "description": group.description,
            "tools": [function(inner) for inner in group.tools],
        }
    return function(tool.function)


def _text_dict(given: pb.TextFormat) -> dict[str, Any]:
    output: dict[str, Any] = {"type": given.type or "text"}
    if given.type == "json_schema":
        output["name"] = given.name
        output["schema"] = from_struct(given.schema)
        if given.description:
            output["description"] = given.description
        if given.HasField("strict"):
            output["strict"] = given.strict
    return {"format": output}


def request_body(request: pb.CreateResponseRequest, stream: bool) -> dict[str, Any]:
    """A typed create request as the API's JSON body."""
    body: dict[str, Any] = {
        "model": request.model,
        "input": [item_dict(item) for item in request.input],
    }
    for name in (
        "instructions",
        "previous_response_id",
        "conversation",
        "prompt_cache_key",
        "safety_identifier",
        "service_tier",
        "user",
    ):
        if value := getattr(request, name):
            body[name] = value
    for name in (
        "store",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "background",
    ):
        if request.HasField(name):
            body[name] = getattr(request, name)
    if request.tools:
        body["tools"] = [_tool_dict(tool) for tool in request.tools]
    choice = request.tool_choice.WhichOneof("choice")
    if choice == "mode":
        body["tool_choice"] = request.tool_choice.mode
    elif choice == "function":
        body["tool_choice"] = {"type": "function", "name": request.tool_choice.function}
    if request.HasField("text_format"):
        body["text"] = _text_dict(request.text_format)
    if request.HasField("reasoning"):
        reasoning = {"effort": request.reasoning.effort, "summary": request.reasoning.summary}
        body["reasoning"] = {k: v for k, v in reasoning.items() if v}
    if request.include:
        body["include"] = list(request.include)
    if request.metadata:
        body["metadata"] = dict(request.metadata)
    if stream:
        body["stream"] = True
    return body


def _part(part: Mapping[str, Any]) -> pb.ResponseContentPart:
    kind = part.get("type")
    if kind == "output_text":
        return pb.ResponseContentPart(output_text=part.get("text", ""))
    if kind == "refusal":
        return pb.ResponseContentPart(refusal=part.get("refusal", ""))
    if kind == "input_image":
        image = pb.InputImage(image_url=part.get("image_url") or "", detail=part.get("detail", ""))
        return pb.ResponseContentPart(input_image=image)
    if kind == "input_file":
        file = pb.InputFile(file_data=part.get("file_data", ""), filename=part.get("filename", ""))
        return pb.ResponseContentPart(input_file=file)
    return pb.ResponseContentPart(input_text=part.get("text", ""))


def _texts(parts: Iterable[Any]) -> str:
    return "".join(
        part.get("text", "") if isinstance(part, Mapping) else "" for part in parts or ()
    )


def item(given: Mapping[str, Any]) -> pb.Item:
    """An item of the API's JSON as a typed item."""
    kind = given.get("type", "message")
    item_id = given.get("id") or ""
    if kind == "function_call":
        return pb.Item(
            function_call=pb.FunctionCallItem(
                id=item_id,
                call_id=given.get("call_id", ""),
                name=given.get("name", ""),
                arguments=given.get("arguments", ""),
                namespace=given.get("namespace", ""),
                status=given.get("status", ""),
            )
        )
    if kind == "function_call_output":
        output = given.get("output", "")
        return pb.Item(
            function_call_output=pb.FunctionCallOutputItem(
                id=item_id,
                call_id=given.get("call_id", ""),
                output=output if isinstance(output, str) else _texts(output),
            )
        )
    if kind == "reasoning":
        return pb.Item(
            reasoning=pb.ReasoningItem(
                id=item_id,
                text=_texts(given.get("content") or ()),
                summary=[s.get("text", "") for s in given.get("summary") or ()],
                encrypted_content=given.get("encrypted_content") or "",
            )
        )
    content = given.get("content") or ()
    parts = [_part(part) for part in content] if not isinstance(content, str) else []
    if isinstance(content, str):
        parts = [pb.ResponseContentPart(input_text=content)]
    return pb.Item(
        message=pb.MessageItem(
            id=item_id, role=given.get("role", ""), content=parts, status=given.get("status", "")
        )
    )


def response(given: Mapping[str, Any]) -> pb.Response:
    """A `response` object as a typed response."""
    output = given.get("output") or ()
    text = "".join(
        part.get("text", "")
        for entry in output
        if entry.get("type") == "message"
        for part in entry.get("content") or ()
        if part.get("type") == "output_text"
    )
    answer = pb.Response(
        id=given["id"],
        created_at=int(given.get("created_at") or 0),
        status=given.get("status", ""),
        model=given.get("model") or "",
        output=[item(entry) for entry in output],
        output_text=text,
        previous_response_id=given.get("previous_response_id") or "",
        instructions=given.get("instructions") or "",
        metadata=given.get("metadata") or {},
        conversation=(given.get("conversation") or {}).get("id", ""),
        background=bool(given.get("background")),
        store=given.get("store") is not False,
        incomplete_reason=(given.get("incomplete_details") or {}).get("reason", ""),
    )
    if usage := given.get("usage"):
        answer.usage.CopyFrom(
            pb.ResponseUsage(
                input_tokens=usage.get("input_tokens", 0),
                cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                reasoning_tokens=(usage.get("output_tokens_details") or {}).get(
                    "reasoning_tokens", 0
                ),
                total_tokens=usage.get("total_tokens", 0),
            )
        )
    if error := given.get("error"):
        answer.error.CopyFrom(pb.ResponseError(code=error["code"], message=error["message"]))
    return answer


def event(given: Mapping[str, Any]) -> pb.ResponseStreamEvent:
    """A stream event of the API's JSON as a typed event."""
    kind = given["type"]
    out = pb.ResponseStreamEvent(sequence_number=given["sequence_number"], type=kind)
    if kind in _RESPONSE_EVENTS:
        out.response.CopyFrom(response(given["response"]))
    elif kind.startswith("response.output_item."):
        out.output_item.CopyFrom(
            pb.OutputItemEvent(output_index=given["output_index"], item=item(given["item"]))
        )
    elif kind.startswith("response.content_part."):
        out.content_part.CopyFrom(
            pb.ContentPartEvent(
                item_id=given["item_id"],
                output_index=given["output_index"],
                content_index=given.get("content_index", 0),
                part=_part(given["part"]),
            )
        )
    elif kind.endswith(".delta"):
        out.delta.CopyFrom(
            pb.DeltaEvent(
                item_id=given["item_id"],
                output_index=given["output_index"],
                content_index=given.get("content_index", 0),
                delta=given["delta"],
            )
        )
    elif kind in _DONE_TEXT:
        out.done.CopyFrom(
            pb.DoneEvent(
                item_id=given["item_id"],
                output_index=given["output_index"],
                content_index=given.get("content_index", 0),
                text=given[_DONE_TEXT[kind]],
                name=given.get("name", ""),
            )
        )
    elif kind == "error":
        out.error.CopyFrom(
            pb.StreamError(
                code=given.get("code") or "",
                message=given.get("message", ""),
                param=given.get("param") or "",
            )
        )
    return out


def page(given: Mapping[str, Any]) -> pb.ItemPage:
    """A `list` page of items."""
    return pb.ItemPage(
        data=[item(entry) for entry in given["data"]],
        first_id=given.get("first_id") or "",
        last_id=given.get("last_id") or "",
        has_more=bool(given.get("has_more")),
    )


def conversation(given: Mapping[str, Any]) -> pb.Conversation:
    """A `conversation` object."""
    return pb.Conversation(
        id=given["id"], created_at=int(given["created_at"]), metadata=given.get("metadata") or {}
    )
