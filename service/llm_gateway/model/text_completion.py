"""Reshapes chat completions into `text_completion` answers.

Used when `/v1/completions` is called with `messages` in place of `prompt`: the request is
served as a chat completion, and the caller, who asked the completions API, gets its shape.
"""

from __future__ import annotations

from typing import Any


def _text_choice(choice: dict[str, Any], part: str) -> dict[str, Any]:
    content = (choice.get(part) or {}).get("content")
    return {
        "text": content or "",
        "index": choice.get("index", 0),
        "logprobs": None,
        "finish_reason": choice.get("finish_reason"),
    }


def _envelope(chat: dict[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": chat.get("id"),
        "object": "text_completion",
        "created": chat.get("created"),
        "model": chat.get("model"),
        "system_fingerprint": chat.get("system_fingerprint"),
        "choices": choices,
    }
    if "usage" in chat:
        out["usage"] = chat["usage"]
    return out


def completion_from_chat(chat: dict[str, Any]) -> dict[str, Any]:
    """Returns a `chat.completion` as a `text_completion`."""
    return _envelope(chat, [_text_choice(c, "message") for c in chat.get("choices") or ()])


def completion_chunk_from_chat(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """Returns a `chat.completion.chunk` as a `text_completion` chunk, or None when it carries
    nothing a completions caller sees (such as the first chunk, which only names the role)."""
    choices = [_text_choice(c, "delta") for c in chunk.get("choices") or ()]
    if not chunk.get("usage") and all(
        c["text"] == "" and c["finish_reason"] is None for c in choices
    ):
        return None
    return _envelope(chunk, choices)
