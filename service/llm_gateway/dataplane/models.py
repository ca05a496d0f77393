"""The models a caller may use, for every surface's model list (each writes its own shape)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_gateway.config.settings import Price
from llm_gateway.dataplane.call import CallInfo
from llm_gateway.errors import model_not_allowed
from llm_gateway.routing import ModelRoute, Router


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A public model the gateway serves."""

    id: str
    created: int  # Unix seconds
    owned_by: str
    operations: tuple[str, ...] = ()
    price: Price | None = None  # of the first deployment's upstream model, if configured

    def openai(self) -> dict[str, Any]:
        """The model as an OpenAI `model` object, with the gateway's own member
        `llm_gateway`: what the model serves and what it costs (per million tokens, per image
        by `size/quality`, per million characters spoken, in the configuration's currency;
        null when no price is configured)."""
        price = self.price.listed() if self.price is not None else None
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "llm_gateway": {"operations": list(self.operations), "price": price},
        }


def _served(route: ModelRoute, prices: Mapping[str, Price]) -> ServedModel:
    price = prices.get(route.deployments[0].upstream_model)
    return ServedModel(route.public_name, route.created, route.owned_by, route.operations, price)


def served_models(
    router: Router, call: CallInfo, prices: Mapping[str, Price] | None = None
) -> list[ServedModel]:
    """The models the caller may use, in configuration order."""
    return [_served(r, prices or {}) for r in router.routes() if call.caller.may_use(r.public_name)]


def served_model(
    router: Router, name: str, call: CallInfo, prices: Mapping[str, Price] | None = None
) -> ServedModel:
    """One served model, or the 404 (unknown) or 403 (not the caller's) `GatewayError`."""
    route = router.resolve(name)
    if not call.caller.may_use(name):
        raise model_not_allowed(name)
    return _served(route, prices or {})
