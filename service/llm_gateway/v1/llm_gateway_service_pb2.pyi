from llm_gateway.v1 import audio_pb2 as _audio_pb2
from llm_gateway.v1 import chat_pb2 as _chat_pb2
from llm_gateway.v1 import completions_pb2 as _completions_pb2
from llm_gateway.v1 import embeddings_pb2 as _embeddings_pb2
from llm_gateway.v1 import images_pb2 as _images_pb2
from llm_gateway.v1 import models_pb2 as _models_pb2
from llm_gateway.v1 import moderations_pb2 as _moderations_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
