"""An image edit's or variation's form (`IMAGE_FORM`, read by `model.forms`), its files
checked as OpenAI checks them: by what their bytes are. Image files must be PNG, JPEG or WebP
(a mask PNG), whatever their declared media type says: a file of another kind is a 400 naming
its field.
"""

from __future__ import annotations

from llm_gateway.errors import invalid_request
from llm_gateway.model.forms import FormRules
from llm_gateway.model.multipart import FormPart

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


# How an edit's or variation's form is read: `image[]` is how the SDKs send several images.
IMAGE_FORM = FormRules(
    files={"image": "image", "image[]": "image", "mask": "mask"},
    check_file=_check_file,
    integers=frozenset(("n", "output_compression", "partial_images")),
)
