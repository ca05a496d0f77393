"""Validates a Messages API request body by Anthropic's own rules, before anything else looks
at it: required fields, ranges (`temperature` and `top_p` in [0, 1], `thinking`'s budget of at
least 1,024 tokens and below `max_tokens`), and the shapes of turns and blocks. Errors are
Anthropic's 400 `invalid_request_error` naming the field as Anthropic names it
(`messages.0.content.1.type`). Fields this module does not know pass: an Anthropic upstream is
sent the request as it came, and judges them itself.
"""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import invalid_request
from llm_gateway.model import field_checks as check

# `system` turns are the beta API's mid-conversation instructions (Claude Code sends them).
_ROLES = ("user", "assistant", "system")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING = ("enabled", "disabled", "adaptive")
_MIN_THINKING_BUDGET = 1024


def _content(content: Any, param: str) -> None:
    if isinstance(content, str):
        return
    for index, block in enumerate(check.items(content, param)):
        where = f"{param}.{index}"
        check.mapping(block, where)
        check.required(block.get("type"), f"{where}.type")
        check.text(block.get("type"), f"{where}.type")


def _messages(turns: Any) -> None:
    check.required(turns, "messages")
    for index, turn in enumerate(check.items(turns, "messages", at_least=1)):
        where = f"messages.{index}"
        check.mapping(turn, where)
        check.required(turn.get("role"), f"{where}.role")
        check.one_of(turn.get("role"), f"{where}.role", _ROLES)
        if turn.get("role") != "system":  # a system turn may carry only its output_config
            check.required(turn.get("content"), f"{where}.content")
        _content(turn.get("content"), f"{where}.content")


def _system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    for index, block in enumerate(check.items(system, "system")):
        where = f"system.{index}"
        check.mapping(block, where)
        check.one_of(block.get("type"), f"{where}.type", ("text",))
        check.text(block.get("text"), f"{where}.text")


def _tools(tools: Any, choice: Any) -> None:
    for index, tool in enumerate(check.items(tools, "tools")):
        check.mapping(tool, f"tools.{index}")
        check.required(tool.get("name"), f"tools.{index}.name")
    check.mapping(choice, "tool_choice")
    if isinstance(choice, dict):
        check.required(choice.get("type"), "tool_choice.type")
        check.one_of(choice.get("type"), "tool_choice.type", _TOOL_CHOICES)
        if choice.get("type") == "tool":
            check.required(choice.get("name"), "tool_choice.name")


def _thinking(thinking: Any, max_tokens: int | None) -> None:
    check.mapping(thinking, "thinking")
    if not isinstance(thinking, dict):
        return
    check.required(thinking.get("type"), "thinking.type")
    check.one_of(thinking.get("type"), "thinking.type", _THINKING)
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        check.required(budget, "thinking.budget_tokens")
        check.integer(budget, "thinking.budget_tokens", _MIN_THINKING_BUDGET)
        if max_tokens is not None and isinstance(budget, int) and budget >= max_tokens:
            raise invalid_request(
                "thinking.budget_tokens: must be less than max_tokens",
                "thinking.budget_tokens",
                "invalid_value",
            )


def validate(body: Any, counting: bool = False) -> dict[str, Any]:
    """Returns the body when it is a valid Messages API request (a `count_tokens` one when
    `counting`: no `max_tokens` then); raises a 400 otherwise."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    check.required(body.get("model"), "model")
    check.text(body.get("model"), "model")
    if not counting:
        check.required(body.get("max_tokens"), "max_tokens")
    check.integer(body.get("max_tokens"), "max_tokens", 1)
    _messages(body.get("messages"))
    _system(body.get("system"))
    check.number(body.get("temperature"), "temperature", 0, 1)
    check.number(body.get("top_p"), "top_p", 0, 1)
    check.integer(body.get("top_k"), "top_k", 0)
    check.strings(body.get("stop_sequences"), "stop_sequences")
    check.boolean(body.get("stream"), "stream")
    _tools(body.get("tools"), body.get("tool_choice"))
    _thinking(body.get("thinking"), body.get("max_tokens"))
    check.mapping(body.get("metadata"), "metadata")
    if isinstance(body.get("metadata"), dict):
        check.text(body["metadata"].get("user_id"), "metadata.user_id")
    return body
