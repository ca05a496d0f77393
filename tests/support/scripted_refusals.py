"""The 400 that OpenAI's API answers a request it refuses, as the scripted doubles send it."""

from __future__ import annotations

from aiohttp import web


def invalid_request(message: str, param: str | None = None) -> web.Response:
    """OpenAI's `invalid_request_error`, naming `param`."""
    return web.json_response(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
        status=400,
    )
