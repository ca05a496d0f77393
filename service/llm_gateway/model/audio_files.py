"""A transcription's or translation's form (`TRANSCRIPTION_FORM`, read by `model.forms`), its
audio file checked as OpenAI checks it, and the audio's length, which a price per minute
bills.

The file must name one of the API's formats (by its file name's extension, else its media
type), and its bytes must be audio a reader recognises (tinytag's, which reads the length of
MP3, MP4/M4A, WAV, Ogg, Opus and FLAC; WebM by its signature): anything else is a 400 naming
`file`, before an upstream is paid to refuse it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import PurePosixPath

from llm_gateway.errors import invalid_request
from llm_gateway.model.forms import FormRules
from llm_gateway.model.multipart import FormPart

# Silenced: a file the reader cannot parse is refused with a 400, not logged.
logging.getLogger("tinytag").setLevel(logging.CRITICAL)

# The formats the API takes, as it lists them in its refusal.
FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
# A file's format by its declared media type, when its name has no extension.
_BY_MEDIA_TYPE = {
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "video/mp4": "mp4",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/webm": "webm",
    "video/webm": "webm",
}
_WEBM = b"\x1a\x45\xdf\xa3"  # EBML, which WebM is written in


def _format_of(part: FormPart) -> str | None:
    suffix = PurePosixPath(part.filename or "").suffix.lower().removeprefix(".")
    if suffix:
        return suffix
    media = (part.content_type or "").partition(";")[0].strip().lower()
    return _BY_MEDIA_TYPE.get(media)


def seconds_of(data: bytes) -> float | None:
    """The length of an audio file in seconds, where its format tells it (not WebM)."""
    # Imported on first use: only transcriptions need it, and it costs every gateway's start
    # about 4 ms.
    from tinytag import TinyTag

    try:
        duration = TinyTag.get(file_obj=io.BytesIO(data), tags=False).duration
    except Exception:  # a reader of a caller's bytes may fail in any way: not audio it knows
        return None
    return duration if duration is not None and duration >= 0 else None


def seconds_in(form: Sequence[FormPart]) -> float | None:
    """The length of a transcription form's audio file (its `file` part)."""
    file = next((part for part in form if part.name == "file"), None)
    return seconds_of(file.data) if file is not None else None


def _check_file(part: FormPart, field: str) -> None:
    if _format_of(part) not in FORMATS:
        raise invalid_request(
            f"Invalid file format. Supported formats: {list(FORMATS)}", field, "invalid_value"
        )
    if not part.data.startswith(_WEBM) and seconds_of(part.data) is None:
        raise invalid_request(
            "The audio file could not be decoded or its format is not supported.",
            field,
            "invalid_value",
        )


# How a transcription's or translation's form is read; `chunking_strategy` may be the text
# `auto` or an object (`chunking_strategy[type]`, ...).
TRANSCRIPTION_FORM = FormRules(
    files={"file": "file"},
    check_file=_check_file,
    integers=frozenset(("prefix_padding_ms", "silence_duration_ms")),
    numbers=frozenset(("temperature", "threshold")),
)
