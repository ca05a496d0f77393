"""How a form's parts are read as the request they stand for (`model.forms`), and how an
audio file is checked and measured (`model.audio_files`)."""

from __future__ import annotations

import pytest

from llm_gateway.errors import GatewayError
from llm_gateway.model.audio_files import TRANSCRIPTION_FORM, seconds_of
from llm_gateway.model.forms import form_fields
from llm_gateway.model.images import IMAGE_FORM
from llm_gateway.model.multipart import FormPart
from tests.support.scripted_images import PNG
from tests.support.scripted_transcriptions import wav

AUDIO = wav(1.5)
LIMIT = 1024 * 1024


def test_arrays_objects_and_numbers_are_read_as_the_sdks_send_them() -> None:
    parts = [
        FormPart("file", AUDIO, "a.wav", "audio/wav"),
        FormPart("model", b"gpt-4o-transcribe"),
        FormPart("temperature", b"0.5"),
        FormPart("stream", b"true"),
        FormPart("timestamp_granularities[]", b"word"),
        FormPart("timestamp_granularities[]", b"segment"),
        FormPart("chunking_strategy[type]", b"server_vad"),
        FormPart("chunking_strategy[threshold]", b"0.4"),
        FormPart("chunking_strategy[silence_duration_ms]", b"300"),
    ]
    assert form_fields(parts, TRANSCRIPTION_FORM, LIMIT) == {
        "file": "a.wav",
        "model": "gpt-4o-transcribe",
        "temperature": 0.5,
        "stream": True,
        "timestamp_granularities": ["word", "segment"],
        "chunking_strategy": {"type": "server_vad", "threshold": 0.4, "silence_duration_ms": 300},
    }


def test_a_number_that_is_not_one_is_left_for_the_schema_to_name() -> None:
    fields = form_fields([FormPart("temperature", b"warm")], TRANSCRIPTION_FORM, LIMIT)
    assert fields == {"temperature": "warm"}


def test_a_field_given_twice_is_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        form_fields([FormPart("model", b"a"), FormPart("model", b"b")], TRANSCRIPTION_FORM, LIMIT)
    assert caught.value.param == "model"


def test_several_files_of_one_field_are_a_list() -> None:
    one = form_fields([FormPart("image", PNG, "a.png")], IMAGE_FORM, LIMIT)
    assert one == {"image": "a.png"}
    listed = form_fields([FormPart("image[]", PNG, "a.png")], IMAGE_FORM, LIMIT)
    assert listed == {"image": ["a.png"]}
    two = form_fields(
        [FormPart("file", AUDIO, "a.wav"), FormPart("file", AUDIO, "b.wav")],
        TRANSCRIPTION_FORM,
        LIMIT,
    )
    assert two == {"file": ["a.wav", "b.wav"]}  # the schema refuses it, naming `file`


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (FormPart("file", AUDIO, "a.exe"), "Invalid file format"),
        (FormPart("file", AUDIO, None), "must be a file upload"),
        (FormPart("file", b"RIFF\0\0\0\0WAVEjunk", "a.wav"), "could not be decoded"),
        (FormPart("file", PNG, "a.mp3"), "could not be decoded"),
    ],
)
def test_a_file_that_is_not_audio_is_refused(part: FormPart, says: str) -> None:
    with pytest.raises(GatewayError) as caught:
        form_fields([part], TRANSCRIPTION_FORM, LIMIT)
    assert caught.value.param == "file" and says in caught.value.message


def test_a_file_named_without_extension_is_known_by_its_media_type() -> None:
    assert form_fields([FormPart("file", AUDIO, "blob", "audio/wav")], TRANSCRIPTION_FORM, LIMIT)
    with pytest.raises(GatewayError):
        form_fields(
            [FormPart("file", AUDIO, "blob", "application/octet-stream")],
            TRANSCRIPTION_FORM,
            LIMIT,
        )


def test_an_audio_files_length_is_measured() -> None:
    assert seconds_of(AUDIO) == pytest.approx(1.5)
    assert seconds_of(b"\x1a\x45\xdf\xa3webm") is None
    assert seconds_of(b"") is None


def test_a_file_over_the_limit_is_a_413_naming_it() -> None:
    with pytest.raises(GatewayError) as caught:
        form_fields([FormPart("file", AUDIO, "a.wav")], TRANSCRIPTION_FORM, len(AUDIO) - 1)
    assert caught.value.status == 413 and caught.value.param == "file"
    assert form_fields([FormPart("file", AUDIO, "a.wav")], TRANSCRIPTION_FORM, len(AUDIO))
