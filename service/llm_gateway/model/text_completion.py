"""Reshapes chat completions into `text_completion` answers.

Used when `/v1/completions` is called with `messages` in place of `prompt`: the request is
served as a chat completion, and the caller, who asked the completions API, gets its shape.
"""

from __future__ import annotations

from llm_gateway.model.canonical import (
    ChatChunk,
    ChatCompletion,
    Choice,
    ChunkChoice,
    CompletionChoice,
    TextCompletion,
)


def _text_choice(text: str | None, index: int, finish_reason: str | None) -> CompletionChoice:
    return {"text": text or "", "index": index, "logprobs": None, "finish_reason": finish_reason}


def _answer_choice(choice: Choice) -> CompletionChoice:
    return _text_choice(
        choice["message"].get("content"), choice.get("index", 0), choice.get("finish_reason")
    )


def _chunk_choice(choice: ChunkChoice) -> CompletionChoice:
    return _text_choice(
        choice["delta"].get("content"), choice.get("index", 0), choice.get("finish_reason")
    )


def _envelope(chat: ChatCompletion | ChatChunk, choices: list[CompletionChoice]) -> TextCompletion:
    out: TextCompletion = {
        # An upstream's answer is only as complete as the upstream made it.
        "id": chat.get("id", ""),
        "object": "text_completion",
        "created": chat.get("created", 0),
        "model": chat.get("model", ""),
        "system_fingerprint": chat.get("system_fingerprint"),
        "choices": choices,
    }
    if "usage" in chat:
        out["usage"] = chat["usage"]
    return out


def completion_from_chat(chat: ChatCompletion) -> TextCompletion:
    """Returns a `chat.completion` as a `text_completion`."""
    return _envelope(chat, [_answer_choice(c) for c in chat.get("choices") or ()])


def completion_chunk_from_chat(chunk: ChatChunk) -> TextCompletion | None:
    """Returns a `chat.completion.chunk` as a `text_completion` chunk, or None when it carries
    nothing a completions caller sees (such as the first chunk, which only names the role)."""
    choices = [_chunk_choice(c) for c in chunk.get("choices") or ()]
    if not chunk.get("usage") and all(
        c["text"] == "" and c["finish_reason"] is None for c in choices
    ):
        return None
    return _envelope(chunk, choices)
