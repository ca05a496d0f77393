"""OpenAI's REST API, as raw bodies through the proxy's gRPC-JSON transcoder."""

from llm_gateway.api.rest.servicer import OpenAIRestServicer

__all__ = ["OpenAIRestServicer"]
