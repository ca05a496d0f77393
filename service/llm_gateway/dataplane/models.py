"""The models a caller may use, for every surface's model list (each writes its own shape)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_gateway.dataplane.call import CallInfo
from llm_gateway.errors import model_not_allowed
from llm_gateway.routing import ModelRoute, Router


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A public model the gateway serves."""

    id: str
    created: int  # Unix seconds
    owned_by: str

    def openai(self) -> dict[str, Any]:
        """The model as an OpenAI `model` object."""
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
        }


def _served(route: ModelRoute) -> ServedModel:
    return ServedModel(route.public_name, route.created, route.owned_by)


def served_models(router: Router, call: CallInfo) -> list[ServedModel]:
    """The models the caller may use, in configuration order."""
    return [_served(r) for r in router.routes() if call.caller.may_use(r.public_name)]


def served_model(router: Router, name: str, call: CallInfo) -> ServedModel:
    """One served model, or the 404 (unknown) or 403 (not the caller's) `GatewayError`."""
    route = router.resolve(name)
    if not call.caller.may_use(name):
        raise model_not_allowed(name)
    return _served(route)
