"""A paced OpenAI-compatible streaming upstream for the benchmark.

`POST /v1/chat/completions` with `"stream": true` and model `paced-<tokens>x<ms>` sends that
many content chunks at that interval. Each chunk's text is `<index>@<send time> `, the send time
in CLOCK_MONOTONIC nanoseconds, which every process on the machine shares: a client subtracts
it from its own receive time to get the delivery delay of every token, whatever relays it.
Non-streaming requests get a one-chunk answer. Run: `python paced_upstream.py PORT`.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from aiohttp import web

BASE = {
    "id": "chatcmpl-paced",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "paced",
}


def frame(payload: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    tokens, interval_ms = (int(x) for x in body["model"].removeprefix("paced-").split("x"))
    if not body.get("stream"):
        return web.json_response(
            {
                **BASE,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok", "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(
        frame(
            {
                **BASE,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": ""},
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
        )
    )
    interval = interval_ms / 1000
    next_at = time.monotonic()
    for index in range(tokens):
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        text = f"{index}@{time.monotonic_ns()} "
        await response.write(
            frame(
                {
                    **BASE,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": text},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        )
    await response.write(
        frame(
            {
                **BASE,
                "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
            }
        )
    )
    usage = {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        await response.write(frame({**BASE, "choices": [], "usage": usage}))
    await response.write(b"data: [DONE]\n\n")
    return response


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=lambda *_: None,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
