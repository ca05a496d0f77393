from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageRequest(_message.Message):
    __slots__ = ("prompt", "model", "n", "size", "quality", "style", "background", "output_format", "output_compression", "moderation", "response_format", "user")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    MODERATION_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    model: str
    n: int
    size: str
    quality: str
    style: str
    background: str
    output_format: str
    output_compression: int
    moderation: str
    response_format: str
    user: str
    def __init__(self, prompt: _Optional[str] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., style: _Optional[str] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., output_compression: _Optional[int] = ..., moderation: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("data", "url", "revised_prompt")
    DATA_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    REVISED_PROMPT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    url: str
    revised_prompt: str
    def __init__(self, data: _Optional[bytes] = ..., url: _Optional[str] = ..., revised_prompt: _Optional[str] = ...) -> None: ...

class ImageUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class ImagesResponse(_message.Message):
    __slots__ = ("created", "data", "usage")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    created: int
    data: _containers.RepeatedCompositeFieldContainer[Image]
    usage: ImageUsage
    def __init__(self, created: _Optional[int] = ..., data: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., usage: _Optional[_Union[ImageUsage, _Mapping]] = ...) -> None: ...

class ImageFile(_message.Message):
    __slots__ = ("data", "filename")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    filename: str
    def __init__(self, data: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...

class ImageEditRequest(_message.Message):
    __slots__ = ("images", "prompt", "mask", "model", "n", "size", "quality", "background", "output_format", "output_compression", "input_fidelity", "response_format", "user")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[ImageFile]
    prompt: str
    mask: ImageFile
    model: str
    n: int
    size: str
    quality: str
    background: str
    output_format: str
    output_compression: int
    input_fidelity: str
    response_format: str
    user: str
    def __init__(self, images: _Optional[_Iterable[_Union[ImageFile, _Mapping]]] = ..., prompt: _Optional[str] = ..., mask: _Optional[_Union[ImageFile, _Mapping]] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., output_compression: _Optional[int] = ..., input_fidelity: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class ImageVariationRequest(_message.Message):
    __slots__ = ("image", "model", "n", "size", "response_format", "user")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    image: ImageFile
    model: str
    n: int
    size: str
    response_format: str
    user: str
    def __init__(self, image: _Optional[_Union[ImageFile, _Mapping]] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...
