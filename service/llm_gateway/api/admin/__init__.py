"""The admin API surface: virtual keys and usage reports."""

from llm_gateway.api.admin.servicer import AdminServicer

__all__ = ["AdminServicer"]
