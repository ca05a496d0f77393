"""The data plane that both API surfaces call: routing, the upstream call, accounting, logs."""

from llm_gateway.dataplane.call import CallInfo
from llm_gateway.dataplane.drain import Drain
from llm_gateway.dataplane.generation import DataPlane, Decisions, Served
from llm_gateway.dataplane.models import ServedModel
from llm_gateway.dataplane.token_count import TokenCount

__all__ = ["CallInfo", "DataPlane", "Decisions", "Drain", "Served", "ServedModel", "TokenCount"]
