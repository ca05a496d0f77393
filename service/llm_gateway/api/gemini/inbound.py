"""What every Gemini surface call reads from its request before anything else: the caller's
key, which Google's REST API also takes as `?key=`, and the model of its resource name."""

from __future__ import annotations

from typing import Any

import grpc

from llm_gateway.api.inbound import InboundCall

KEY_HEADER = "x-goog-api-key"


def inbound_call(context: grpc.aio.ServicerContext[Any, Any], key: str) -> InboundCall:
    """The call, its `?key=` (`key`) taken as the `x-goog-api-key` header when it sent none."""
    inbound = InboundCall(context, "rest")
    if key and KEY_HEADER not in inbound.metadata:
        inbound.metadata[KEY_HEADER] = key
    return inbound


def model_of(resource: str) -> str:
    """The public model name of a `models/{model}` resource name."""
    # Envoy has decoded the path variable (`%2F` included): decoding again would turn a
    # `%252F` the caller sent into a slash.
    return resource.removeprefix("models/")
