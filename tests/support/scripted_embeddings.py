"""The scripted upstream's embeddings: OpenAI's `POST /v1/embeddings` and Gemini's
`:embedContent` / `:batchEmbedContents`, each refusing what the real API refuses.

Vectors are deterministic: each value comes from a hash of the input (text or token ids) and
its position, so a test can compute the vector any input must get (`vector`). The size is the
upstream model's: `embed-<n>` has `n` dimensions (`dimensions` / `outputDimensionality`
shorten it, as the real models allow), any other model 8.

OpenAI's refusals (400, its error shape): a missing `input` or `model`, an empty string, more
than 2048 inputs, an unknown member ("Unrecognized request argument supplied"), an
`encoding_format` other than float/base64, `dimensions` below 1 or above the model's size.
Gemini's (400 INVALID_ARGUMENT): no `content.parts`, more than 100 requests in a batch, a
request of a batch naming another model than the URL.
"""

from __future__ import annotations

import array
import base64
import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.support.scripted_refusals import invalid_request

_OPENAI_FIELDS = frozenset(("input", "model", "encoding_format", "dimensions", "user"))
MAX_INPUTS = 2048
MAX_GEMINI_BATCH = 100


def size_of(model: str) -> int:
    """The dimensions of a scripted embedding model."""
    name, _, size = model.rpartition("-")
    return int(size) if name.endswith("embed") and size.isdigit() else 8


def vector(given: str | list[int], size: int) -> list[float]:
    """The vector the double gives an input: float32 values, so that base64 and float agree."""
    seed = hashlib.sha256(json.dumps(given).encode()).digest()
    values = array.array("f", ((seed[i % 32] + i) % 97 / 97.0 - 0.5 for i in range(size)))
    return values.tolist()


def close(got: Sequence[float], want: Sequence[float]) -> bool:
    """Whether two vectors are the same float32 values (one may have been through JSON)."""
    return len(got) == len(want) and all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(got, want, strict=True)
    )


def _inputs(given: Any) -> list[str | list[int]] | None:
    if isinstance(given, str):
        return [given]
    if isinstance(given, list) and given and all(isinstance(i, int) for i in given):
        return [given]
    if isinstance(given, list) and given and all(isinstance(i, str | list) for i in given):
        return list(given)
    return None


def openai(body: dict[str, Any]) -> web.Response:
    """Answers an OpenAI embeddings request."""
    for name in body:
        if name not in _OPENAI_FIELDS:
            return invalid_request(f"Unrecognized request argument supplied: {name}")
    model = body.get("model")
    if not isinstance(model, str):
        return invalid_request("you must provide a model parameter", "model")
    inputs = _inputs(body.get("input"))
    if inputs is None:
        return invalid_request("'input' is a required property", "input")
    if len(inputs) > MAX_INPUTS:
        return invalid_request(f"'input' must have at most {MAX_INPUTS} items", "input")
    if any(given in ("", []) for given in inputs):
        return invalid_request("'input' cannot be an empty string.", "input")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return invalid_request(f"'{encoding}' is not one of ['float', 'base64']", "encoding_format")
    size = size_of(model)
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or not 1 <= dimensions <= size:
            return invalid_request(f"Invalid 'dimensions': {dimensions}.", "dimensions")
        size = dimensions
    data = []
    for index, given in enumerate(inputs):
        values: Any = vector(given, size)
        if encoding == "base64":
            values = base64.b64encode(array.array("f", values).tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": values})
    tokens = sum(len(g.split()) if isinstance(g, str) else len(g) for g in inputs)
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _gemini_error(message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, status=400
    )


def _gemini_vector(request: Any, model: str) -> dict[str, Any] | web.Response:
    content = request.get("content") if isinstance(request, dict) else None
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        return _gemini_error("* content.parts: at least one part is required")
    text = "".join(str(part.get("text", "")) for part in parts)
    size = request.get("outputDimensionality") or size_of(model)
    return {"values": vector(text, int(size))}


def gemini(body: dict[str, Any], model: str, batch: bool) -> web.Response:
    """Answers a Gemini `embedContent` or `batchEmbedContents` request."""
    if not batch:
        found = _gemini_vector(body, model)
        return found if isinstance(found, web.Response) else web.json_response({"embedding": found})
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        return _gemini_error("* requests: at least one request is required")
    if len(requests) > MAX_GEMINI_BATCH:
        return _gemini_error(f"* BatchEmbedContentsRequest.requests: at most {MAX_GEMINI_BATCH}")
    vectors = []
    for index, request in enumerate(requests):
        if request.get("model") != f"models/{model}":
            return _gemini_error(
                f"* BatchEmbedContentsRequest.requests[{index}].model: the model of each "
                "request must be the batch's"
            )
        found = _gemini_vector(request, model)
        if isinstance(found, web.Response):
            return found
        vectors.append(found)
    return web.json_response({"embeddings": vectors})
