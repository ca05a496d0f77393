"""The Anthropic Messages API surface: requests in, answers, events and errors out."""

from llm_gateway.api.anthropic.servicer import AnthropicRestServicer

__all__ = ["AnthropicRestServicer"]
