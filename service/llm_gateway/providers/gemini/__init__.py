"""The Gemini API as an upstream: request, answer and stream translations."""

from llm_gateway.providers.gemini.provider import GeminiProvider

__all__ = ["GeminiProvider"]
