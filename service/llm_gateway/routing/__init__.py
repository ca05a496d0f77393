"""Which deployment serves a request: balancing, retries, fallbacks, cooldown and timeouts."""

from llm_gateway.routing.deployment import Deployment
from llm_gateway.routing.dispatch import Attempts, Dispatcher, Job
from llm_gateway.routing.router import ModelRoute, Router

__all__ = ["Attempts", "Deployment", "Dispatcher", "Job", "ModelRoute", "Router"]
