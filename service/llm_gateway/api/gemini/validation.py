"""Validates a `generateContent` request body by the Gemini API's own rules, before anything
else looks at it: `contents` required, `generationConfig`'s ranges (`temperature` in [0, 2],
`topP` in [0, 1], `candidateCount` in [1, 8], at most five `stopSequences`, ...) and the
shapes of turns and parts. Members may be given in Gemini's JSON names (`generationConfig`)
or their proto names (`generation_config`). Errors are Gemini's 400 `INVALID_ARGUMENT` naming
the field (`generationConfig.temperature`). Fields this module does not know pass: a Gemini
upstream is sent the request as it came, and judges them itself.
"""

from __future__ import annotations

import re
from typing import Any

from llm_gateway.errors import invalid_request
from llm_gateway.model import field_checks as check

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_ROLES = ("user", "model", "function")
_MAX_STOP_SEQUENCES = 5
_MAX_CANDIDATES = 8


def member(node: Any, name: str) -> Any:
    """A member by its JSON (camelCase) name or its proto (snake_case) name."""
    if not isinstance(node, dict):
        return None
    if name in node:
        return node[name]
    return node.get(_SNAKE.sub("_", name).lower())


def _contents(contents: Any) -> None:
    check.required(contents, "contents")
    for index, content in enumerate(check.items(contents, "contents", at_least=1)):
        where = f"contents[{index}]"
        check.mapping(content, where)
        check.one_of(member(content, "role"), f"{where}.role", _ROLES)
        for number, part in enumerate(check.items(member(content, "parts"), f"{where}.parts")):
            check.mapping(part, f"{where}.parts[{number}]")


def _thinking(config: Any) -> None:
    where = "generationConfig.thinkingConfig"
    check.mapping(config, where)
    check.integer(member(config, "thinkingBudget"), f"{where}.thinkingBudget", -1)
    check.boolean(member(config, "includeThoughts"), f"{where}.includeThoughts")
    check.text(member(config, "thinkingLevel"), f"{where}.thinkingLevel")


def _generation(config: Any) -> None:
    where = "generationConfig"
    check.mapping(config, where)
    if not isinstance(config, dict):
        return
    check.number(member(config, "temperature"), f"{where}.temperature", 0, 2)
    check.number(member(config, "topP"), f"{where}.topP", 0, 1)
    check.integer(member(config, "topK"), f"{where}.topK", 1)
    check.integer(member(config, "candidateCount"), f"{where}.candidateCount", 1, _MAX_CANDIDATES)
    check.integer(member(config, "maxOutputTokens"), f"{where}.maxOutputTokens", 1)
    check.strings(member(config, "stopSequences"), f"{where}.stopSequences", _MAX_STOP_SEQUENCES)
    check.number(member(config, "presencePenalty"), f"{where}.presencePenalty", -2, 2)
    check.number(member(config, "frequencyPenalty"), f"{where}.frequencyPenalty", -2, 2)
    check.integer(member(config, "seed"), f"{where}.seed", -(2**31), 2**31 - 1)
    check.text(member(config, "responseMimeType"), f"{where}.responseMimeType")
    _thinking(member(config, "thinkingConfig"))


def validate(body: Any) -> dict[str, Any]:
    """Returns the body when it is a valid `generateContent` request; raises a 400 otherwise."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    _contents(member(body, "contents"))
    instruction = member(body, "systemInstruction")
    if not isinstance(instruction, str):  # the SDKs' shorthand for one text part
        check.mapping(instruction, "systemInstruction")
    check.items(member(body, "tools"), "tools")
    check.mapping(member(body, "toolConfig"), "toolConfig")
    _generation(member(body, "generationConfig"))
    return body
