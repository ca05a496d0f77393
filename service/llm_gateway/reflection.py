"""gRPC server reflection under both names clients ask for: `grpc.reflection.v1` (grpcurl and
current clients) and `grpc.reflection.v1alpha` (older ones).

grpcio-reflection implements only v1alpha; the v1 protocol is the same messages under another
package, so the v1 method is served by the same servicer with v1alpha's (wire-identical)
message types.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

from llm_gateway.method_table import MethodTable

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"


def enable_reflection(service_names: Iterable[str], table: MethodTable) -> None:
    """Serves reflection of `service_names` (and of reflection itself) through `table`."""
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME)
    servicer = ReflectionServicer(names)
    for service in (reflection.SERVICE_NAME, V1_SERVICE_NAME):
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        table.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": handler}),)
        )
