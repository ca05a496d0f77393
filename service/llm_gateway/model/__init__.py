"""The canonical request and response model: OpenAI's JSON, validated, as plain data; and
the caller's own request (`wire`), for upstreams of the caller's API family.

The surfaces validate by their own API's rules, then either hand over their caller's request
as it came (passed through to a same-family upstream) or translate it into this model, whose
providers translate it to their own wire formats. Its shapes are typed (`canonical`,
TypedDicts checked by mypy) but plain dicts at run time, which keeps every streamed chunk
cheap.
"""

from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.model.validation import RequestValidator

__all__ = ["Endpoint", "GenerationRequest", "RequestValidator"]
