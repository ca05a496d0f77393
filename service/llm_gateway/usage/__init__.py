"""Token accounting."""

from llm_gateway.usage.accounting import StreamUsage, Usage, usage_of

__all__ = ["StreamUsage", "Usage", "usage_of"]
