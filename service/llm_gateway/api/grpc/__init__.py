"""The typed gRPC service."""

from llm_gateway.api.grpc.servicer import LlmGatewayServicer

__all__ = ["LlmGatewayServicer"]
