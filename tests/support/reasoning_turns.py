"""An OpenAI caller's tool loop with reasoning state: the first turn's answer read as the
openai SDK gives it (whole or streamed), and the assistant message sent back with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai


@dataclass
class ToolTurn:
    """The first answer's tool call and the reasoning fields (`reasoning_content`,
    `reasoning_signature`) the gateway added to its message or deltas."""

    call_id: str
    name: str
    arguments: str
    reasoning: dict[str, str]

    def sent_back(self, result: str) -> list[dict[str, Any]]:
        """The assistant message as the caller got it, and its tool's result."""
        call = {"name": self.name, "arguments": self.arguments}
        turn = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": self.call_id, "type": "function", "function": call}],
            **self.reasoning,
        }
        return [turn, {"role": "tool", "tool_call_id": self.call_id, "content": result}]


def first_tool_turn(client: openai.OpenAI, kwargs: dict[str, Any], stream: bool) -> ToolTurn:
    """Asks for the first turn; the answer's tool call and reasoning fields."""
    if stream:
        chunks = client.chat.completions.create(**kwargs, stream=True)
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        extras = [d.model_extra or {} for d in deltas]
        # The reasoning text comes in pieces, a signature whole.
        reasoning = {
            "reasoning_content": "".join(e.get("reasoning_content") or "" for e in extras),
            "reasoning_signature": next(
                (e["reasoning_signature"] for e in extras if e.get("reasoning_signature")), ""
            ),
        }
        call = next(t for d in deltas for t in d.tool_calls or ())
        function = call.function
        assert call.id is not None and function is not None
        name, arguments = function.name or "", function.arguments or ""
        return ToolTurn(call.id, name, arguments, {k: v for k, v in reasoning.items() if v})
    message = client.chat.completions.create(**kwargs).choices[0].message
    extra = message.model_extra or {}
    whole = message.tool_calls[0]  # type: ignore[index]
    function = whole.function  # type: ignore[union-attr]
    reasoning = {f: extra[f] for f in ("reasoning_content", "reasoning_signature") if extra.get(f)}
    return ToolTurn(whole.id, function.name, function.arguments, reasoning)
