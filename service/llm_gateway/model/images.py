"""An image edit's or variation's form, checked as OpenAI checks it: its text fields as the
request's members (numbers and booleans read from their text, as the API reads them), its
files by what their bytes are.

The form's fields become the dict that the spec's request schema validates; each file stands
in it as its file name. Image files must be PNG, JPEG or WebP (a mask PNG), whatever their
declared media type says: a file of another kind is a 400 naming its field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llm_gateway.errors import invalid_request
from llm_gateway.model.multipart import FormPart

# The form fields that hold numbers or booleans (every form value arrives as text).
_INTEGERS = frozenset(("n", "output_compression", "partial_images"))
_BOOLEANS = frozenset(("stream",))
# The fields that hold files; `image[]` is how the SDKs send several images.
_FILES = {"image": "image", "image[]": "image", "mask": "mask"}
_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def kind_of(data: bytes) -> str | None:
    """The image type of a file's bytes (PNG, JPEG or WebP), or None."""
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    for kind, signatures in _SIGNATURES.items():
        if data.startswith(signatures):
            return kind
    return None


def _value(name: str, text: str) -> Any:
    if name in _INTEGERS:
        try:
            return int(text)
        except ValueError:
            return text  # the schema names it
    if name in _BOOLEANS:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _check_file(part: FormPart, field: str) -> None:
    kind = kind_of(part.data)
    allowed = ("image/png",) if field == "mask" else ("image/png", "image/jpeg", "image/webp")
    if kind not in allowed:
        declared = part.content_type or "unknown"
        raise invalid_request(
            f"Invalid file '{field}': unsupported mimetype ('{declared}'). Supported file "
            f"formats are {', '.join(repr(a) for a in allowed)}.",
            field,
            "invalid_image_format",
        )


def form_fields(parts: Sequence[FormPart]) -> dict[str, Any]:
    """The request the form means: its fields, and each file field as its file names (one
    image, or a list of several); raises a 400 for a file that is not an image."""
    fields: dict[str, Any] = {}
    images: list[str] = []
    several = False
    for part in parts:
        field = _FILES.get(part.name)
        if field is None:
            if part.is_file:
                raise invalid_request(
                    f"Unexpected file in field '{part.name}'.", part.name, "unknown_parameter"
                )
            fields[part.name] = _value(part.name, part.text())
            continue
        if not part.is_file:
            raise invalid_request(
                f"'{field}' must be a file upload, not a text field.", field, "invalid_value"
            )
        _check_file(part, field)
        if field == "mask":
            fields["mask"] = part.filename
        else:
            several = several or part.name == "image[]"
            images.append(part.filename or "image")
    if images:
        fields["image"] = images if several or len(images) > 1 else images[0]
    return fields
