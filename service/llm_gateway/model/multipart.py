"""Reads a `multipart/form-data` request body (OpenAI's file uploads: image edits and
variations) into its parts, with python-multipart's parser and limits on the parts.

Envoy hands the body over as raw bytes with its content type (the boundary). Each part keeps
its bytes as sent: a file goes upstream as it came. A body that is not multipart, has no
boundary, is malformed, has more than `MAX_PARTS` parts or a part with headers beyond the
parser's limits is a 400 naming what is wrong, in the caller's API's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from llm_gateway.errors import invalid_request

# More than any request of the family has: 16 images, a mask and a dozen fields.
MAX_PARTS = 64


@dataclass(slots=True)
class FormPart:
    """One part: its field name, the file name and media type a file part carries, and its
    bytes."""

    name: str
    data: bytes = b""
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        """Whether the part is a file upload (it has a file name)."""
        return self.filename is not None

    def text(self) -> str:
        """A field's value as text."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(slots=True)
class _Collector:
    parts: list[FormPart] = field(default_factory=list)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)

    def begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise invalid_request(
                f"The form has more than {MAX_PARTS} parts.", None, "too_many_parts"
            )
        self.headers, self.data = {}, bytearray()

    def header_end(self) -> None:
        self.headers[self.header_name.decode("latin-1").lower()] = self.header_value.decode(
            "utf-8", errors="replace"
        )
        self.header_name, self.header_value = bytearray(), bytearray()

    def end(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", ""))
        name = options.get(b"name")
        if name is None:
            raise invalid_request("A part of the form has no field name.", None, "invalid_form")
        filename = options.get(b"filename")
        self.parts.append(
            FormPart(
                name.decode("utf-8", errors="replace"),
                bytes(self.data),
                filename.decode("utf-8", errors="replace") if filename is not None else None,
                self.headers.get("content-type"),
            )
        )


def form_parts(content_type: str, body: bytes) -> list[FormPart]:
    """The parts of a `multipart/form-data` body, in order."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise invalid_request(
            "This path takes a multipart/form-data body (Content-Type: multipart/form-data; "
            "boundary=...).",
            None,
            "invalid_content_type",
        )
    collector = _Collector()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": collector.begin,
            "on_part_data": lambda data, start, end: collector.data.extend(data[start:end]),
            "on_part_end": collector.end,
            "on_header_field": lambda data, start, end: collector.header_name.extend(
                data[start:end]
            ),
            "on_header_value": lambda data, start, end: collector.header_value.extend(
                data[start:end]
            ),
            "on_header_end": collector.header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise invalid_request(
            "The multipart/form-data body could not be parsed.", None, "invalid_form"
        ) from None
    return collector.parts
