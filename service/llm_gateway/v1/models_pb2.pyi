from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Model(_message.Message):
    __slots__ = ("id", "object", "created", "owned_by", "shutdown_date", "llm_gateway")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_DATE_FIELD_NUMBER: _ClassVar[int]
    LLM_GATEWAY_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created: int
    owned_by: str
    shutdown_date: str
    llm_gateway: ModelFacts
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created: _Optional[int] = ..., owned_by: _Optional[str] = ..., shutdown_date: _Optional[str] = ..., llm_gateway: _Optional[_Union[ModelFacts, _Mapping]] = ...) -> None: ...

class ModelFacts(_message.Message):
    __slots__ = ("operations", "price")
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedScalarFieldContainer[str]
    price: ModelPrice
    def __init__(self, operations: _Optional[_Iterable[str]] = ..., price: _Optional[_Union[ModelPrice, _Mapping]] = ...) -> None: ...

class ModelPrice(_message.Message):
    __slots__ = ("input_per_million", "cached_input_per_million", "output_per_million", "per_image", "per_million_characters", "per_minute")
    class PerImageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    INPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PER_MILLION_FIELD_NUMBER: _ClassVar[int]
    PER_IMAGE_FIELD_NUMBER: _ClassVar[int]
    PER_MILLION_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    input_per_million: float
    cached_input_per_million: float
    output_per_million: float
    per_image: _containers.ScalarMap[str, float]
    per_million_characters: float
    per_minute: float
    def __init__(self, input_per_million: _Optional[float] = ..., cached_input_per_million: _Optional[float] = ..., output_per_million: _Optional[float] = ..., per_image: _Optional[_Mapping[str, float]] = ..., per_million_characters: _Optional[float] = ..., per_minute: _Optional[float] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("object", "data")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...
