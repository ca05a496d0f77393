from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SpeechRequest(_message.Message):
    __slots__ = ("model", "input", "voice", "instructions", "response_format", "speed")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    model: str
    input: str
    voice: str
    instructions: str
    response_format: str
    speed: float
    def __init__(self, model: _Optional[str] = ..., input: _Optional[str] = ..., voice: _Optional[str] = ..., instructions: _Optional[str] = ..., response_format: _Optional[str] = ..., speed: _Optional[float] = ...) -> None: ...

class SpeechChunk(_message.Message):
    __slots__ = ("audio",)
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    def __init__(self, audio: _Optional[bytes] = ...) -> None: ...

class TranscriptionRequest(_message.Message):
    __slots__ = ("model", "file", "filename", "language", "prompt", "response_format", "temperature", "timestamp_granularities", "include")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_GRANULARITIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    model: str
    file: bytes
    filename: str
    language: str
    prompt: str
    response_format: str
    temperature: float
    timestamp_granularities: _containers.RepeatedScalarFieldContainer[str]
    include: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., file: _Optional[bytes] = ..., filename: _Optional[str] = ..., language: _Optional[str] = ..., prompt: _Optional[str] = ..., response_format: _Optional[str] = ..., temperature: _Optional[float] = ..., timestamp_granularities: _Optional[_Iterable[str]] = ..., include: _Optional[_Iterable[str]] = ...) -> None: ...

class TranscriptionResponse(_message.Message):
    __slots__ = ("text", "language", "duration", "words", "segments", "usage")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    duration: float
    words: _containers.RepeatedCompositeFieldContainer[TranscriptionWord]
    segments: _containers.RepeatedCompositeFieldContainer[TranscriptionSegment]
    usage: TranscriptionUsage
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., duration: _Optional[float] = ..., words: _Optional[_Iterable[_Union[TranscriptionWord, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[TranscriptionSegment, _Mapping]]] = ..., usage: _Optional[_Union[TranscriptionUsage, _Mapping]] = ...) -> None: ...

class TranscriptionWord(_message.Message):
    __slots__ = ("word", "start", "end")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: float
    end: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ...) -> None: ...

class TranscriptionSegment(_message.Message):
    __slots__ = ("id", "text", "start", "end", "avg_logprob", "no_speech_prob", "speaker")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    AVG_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_PROB_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    id: int
    text: str
    start: float
    end: float
    avg_logprob: float
    no_speech_prob: float
    speaker: str
    def __init__(self, id: _Optional[int] = ..., text: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., avg_logprob: _Optional[float] = ..., no_speech_prob: _Optional[float] = ..., speaker: _Optional[str] = ...) -> None: ...

class TranscriptionUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "seconds")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    seconds: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class TranscriptionEvent(_message.Message):
    __slots__ = ("delta", "segment", "done")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    delta: str
    segment: TranscriptionSegment
    done: TranscriptionResponse
    def __init__(self, delta: _Optional[str] = ..., segment: _Optional[_Union[TranscriptionSegment, _Mapping]] = ..., done: _Optional[_Union[TranscriptionResponse, _Mapping]] = ...) -> None: ...
