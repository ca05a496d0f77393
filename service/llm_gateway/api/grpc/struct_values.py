"""`google.protobuf.Struct` and `Value` to and from plain JSON data, without json_format."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2


def from_value(value: struct_pb2.Value) -> Any:
    """Returns a `Value` as plain JSON data."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [from_value(v) for v in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Returns a `Struct` as a plain dict."""
    return {key: from_value(value) for key, value in struct.fields.items()}


def set_value(target: struct_pb2.Value, data: Any) -> None:
    """Stores plain JSON data in a `Value`."""
    if data is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(data, bool):
        target.bool_value = data
    elif isinstance(data, int | float):
        target.number_value = data
    elif isinstance(data, str):
        target.string_value = data
    elif isinstance(data, dict):
        target.struct_value.update(data)
    elif isinstance(data, list):
        target.list_value.extend(data)
