"""Anthropic's Messages API as an upstream: request, answer and stream translations."""

from llm_gateway.providers.anthropic.provider import AnthropicProvider

__all__ = ["AnthropicProvider"]
