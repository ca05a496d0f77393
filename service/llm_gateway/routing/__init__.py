"""Which upstream serves a public model name."""

from llm_gateway.routing.router import Route, Router

__all__ = ["Route", "Router"]
