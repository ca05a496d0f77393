"""The Gemini API surface: requests in, answers, streamed responses and errors out."""

from llm_gateway.api.gemini.models import GeminiModelServicer
from llm_gateway.api.gemini.servicer import GeminiRestServicer

__all__ = ["GeminiModelServicer", "GeminiRestServicer"]
