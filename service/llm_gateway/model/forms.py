"""A `multipart/form-data` request's parts read as the request they stand for, as OpenAI
reads its upload forms: text fields as the request's members (numbers and booleans from
their text), `name[]` parts as a list, `name[key]` parts as an object (how the SDKs send
arrays and objects in a form), and each file field as its file name, once its bytes pass the
field's check.

The dict returned is what the spec's request schema validates; the parts themselves, files
as they came, are what goes upstream (`WireRequest.form`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.multipart import FormPart


@dataclass(frozen=True, slots=True)
class FormRules:
    """How one API's form is read: which parts hold files (by part name, the request field
    each stands for) and how their bytes are checked, and which fields hold numbers."""

    files: Mapping[str, str]
    check_file: Callable[[FormPart, str], None]
    integers: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset(("stream",))


def _value(rules: FormRules, name: str, text: str) -> Any:
    try:
        if name in rules.integers:
            return int(text)
        if name in rules.numbers:
            return float(text)
    except ValueError:
        return text  # the schema names it
    if name in rules.booleans:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _text_field(fields: dict[str, Any], rules: FormRules, part: FormPart) -> None:
    name = part.name
    if name.endswith("[]"):
        name = name[:-2]
        listed = fields.setdefault(name, [])
        if isinstance(listed, list):
            listed.append(_value(rules, name, part.text()))
            return
    elif name.endswith("]") and "[" in name:
        name, _, key = name[:-1].partition("[")
        members = fields.setdefault(name, {})
        if isinstance(members, dict):
            members[key] = _value(rules, key, part.text())
            return
    if name in fields:
        raise invalid_request(f"The form gives '{name}' more than once.", name, "invalid_value")
    fields[name] = _value(rules, name, part.text())


def form_fields(parts: Sequence[FormPart], rules: FormRules, max_file_bytes: int) -> dict[str, Any]:
    """The request the form means; a file field given several times (or as `name[]`) is a
    list of file names. Raises a 400 naming the field for a file where a text belongs, text
    where a file belongs, or a file its check refuses, and a 413 naming a file larger than
    `max_file_bytes`."""
    fields: dict[str, Any] = {}
    files: dict[str, list[str]] = {}
    several: set[str] = set()
    for part in parts:
        field = rules.files.get(part.name)
        if field is None:
            if part.is_file:
                raise invalid_request(
                    f"Unexpected file in field '{part.name}'.", part.name, "unknown_parameter"
                )
            _text_field(fields, rules, part)
            continue
        if not part.is_file:
            raise invalid_request(
                f"'{field}' must be a file upload, not a text field.", field, "invalid_value"
            )
        if len(part.data) > max_file_bytes:
            raise GatewayError(
                413,
                f"Maximum content size limit ({max_file_bytes}) exceeded ({len(part.data)} "
                f"bytes read) for the file '{part.name}'.",
                param=part.name,
                code="request_too_large",
            )
        rules.check_file(part, field)
        if part.name.endswith("[]") or field in files:
            several.add(field)
        files.setdefault(field, []).append(part.filename or field)
    for field, names in files.items():
        fields[field] = names if field in several else names[0]
    return fields
