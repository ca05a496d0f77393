"""The canonical request and response model: OpenAI's JSON, validated, as plain data.

Both API surfaces convert into this model and out of it; providers translate it to their own
wire formats. Plain dicts rather than message classes keep every streamed chunk cheap.
"""

from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.model.validation import RequestValidator

__all__ = ["Endpoint", "GenerationRequest", "RequestValidator"]
