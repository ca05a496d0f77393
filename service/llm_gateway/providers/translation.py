"""What every translation of the canonical (OpenAI) chat request to another API needs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.canonical import ChatRequest, Content, FunctionDefinition, ResponseFormat
from llm_gateway.model.validation import CHAT_FIELDS

# Whether a value of a modelled field asks for nothing, so that a provider without the feature
# can accept it (SDKs and frameworks send some of them by default).
Honourable = Callable[[Any], bool]
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)", re.S)


def is_absent(value: Any) -> bool:
    """True for a field left at its no-op value."""
    return value is None or value is False or value == [] or value == {}


# Fields neither Anthropic nor Gemini can honour, with the values that ask for nothing.
NOT_ON_CHAT_ONLY_PROVIDERS: dict[str, Honourable] = {
    "logprobs": is_absent,
    "top_logprobs": lambda v: v in (None, 0),
    "logit_bias": is_absent,
    "audio": lambda v: v is None,
    "modalities": lambda v: v in (None, ["text"]),
    "prediction": lambda v: v is None,
    "web_search_options": lambda v: v is None,
    "reasoning_effort": lambda v: v is None,
    "verbosity": lambda v: v is None,
    "store": lambda v: v in (None, False),
    "functions": lambda v: v is None,
    "function_call": lambda v: v is None,
    "moderation": lambda v: v is None,
}
# Fields that steer OpenAI's platform (prompt caching, service tiers, abuse tracking, stored
# completions) without changing what is generated: accepted, and not sent to other providers.
PLATFORM_HINTS = frozenset(
    (
        "metadata",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "user",
    )
)


def hints_left_out(body: Mapping[str, Any], translated: frozenset[str]) -> tuple[str, ...]:
    """The platform hints a request carries that a provider's translation does not."""
    return tuple(name for name in sorted(PLATFORM_HINTS - translated) if body.get(name) is not None)


def unsupported(field: str, provider: str, detail: str = "") -> GatewayError:
    """A 400 for a request field that the model's provider cannot honour."""
    suffix = f" {detail}" if detail else ""
    return invalid_request(
        f"'{field}' is not supported by this model's provider ({provider}).{suffix}",
        field,
        "unsupported_parameter",
    )


def no_such_api(provider: str, operation: str) -> GatewayError:
    """A 400 for an operation the model's provider has no API for (a model configured to
    serve it that cannot)."""
    return invalid_request(
        f"This model's provider ({provider}) has no {operation} API.",
        "model",
        "operation_not_supported",
    )


def refuse_unhonourable(
    body: Mapping[str, Any], rules: Mapping[str, Honourable], provider: str
) -> None:
    """Raises a 400 naming the first field whose value the provider cannot honour."""
    for field, honourable in rules.items():
        if field in body and not honourable(body[field]):
            raise unsupported(field, provider)


# The canonical request's fields: OpenAI's, and those the canonical type names besides
# (the gateway's own, such as `top_k`).
CANONICAL_FIELDS = CHAT_FIELDS | ChatRequest.__required_keys__ | ChatRequest.__optional_keys__


def extensions(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields that the canonical model does not name (an OpenAI caller's
    `extra_body`): they go upstream as they are."""
    return {k: v for k, v in body.items() if k not in CANONICAL_FIELDS}


def max_tokens(body: ChatRequest) -> int | None:
    """The caller's output limit, from either of OpenAI's two names for it."""
    value = body.get("max_completion_tokens")
    if value is None:
        value = body.get("max_tokens")
    return value if isinstance(value, int) else None


def stop_sequences(body: ChatRequest) -> list[str]:
    """OpenAI's `stop` (a string or a list) as a list."""
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop or () if isinstance(s, str)]


def split_data_url(url: str) -> tuple[str, str] | None:
    """Returns (media type, base64 data) of a `data:` URL, or None for any other URL."""
    match = _DATA_URL.fullmatch(url)
    return (match["mime"], match["data"]) if match else None


def content_text(content: Content, param: str, provider: str) -> str:
    """The text of a message whose content may be a string or text parts only."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind not in ("text", "refusal"):
            raise unsupported(f"{param}[{index}]", provider, f"Parts of type '{kind}' are not.")
        texts.append((part.get("text") if kind == "text" else part.get("refusal")) or "")
    return "".join(texts)


def json_schema_of(response_format: ResponseFormat | None) -> tuple[str, dict[str, Any]] | None:
    """(name, schema) asked for by `response_format`, or None when it asks for plain text."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if spec is None:
            return "json_output", {"type": "object"}
        return spec.get("name") or "json_output", spec.get("schema") or {"type": "object"}
    if kind == "json_object":
        return "json_output", {"type": "object"}
    return None


def function_tools(body: ChatRequest, provider: str) -> list[FunctionDefinition]:
    """The `function` of each of the request's tools; other kinds of tool are refused."""
    functions = []
    for index, tool in enumerate(body.get("tools") or ()):
        function = tool.get("function")
        if tool["type"] != "function" or function is None:
            raise unsupported(f"tools[{index}]", provider, "Only function tools are.")
        functions.append(function)
    return functions


def forced_function(choice: Mapping[str, Any], provider: str) -> str:
    """The function name of an object `tool_choice`; other kinds are refused."""
    name = (choice.get("function") or {}).get("name")
    if choice.get("type") != "function" or not name:
        raise unsupported("tool_choice", provider, "Only a named function is.")
    return str(name)
