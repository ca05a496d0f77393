"""Maps public model names to a provider and the upstream's model name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llm_gateway.config.settings import ModelSettings
from llm_gateway.errors import model_not_found
from llm_gateway.providers.base import Provider


@dataclass(frozen=True, slots=True)
class Route:
    """Where one public model is served."""

    public_name: str
    provider: Provider
    upstream_model: str
    owned_by: str
    created: int


class Router:
    """The configured models, by public name."""

    def __init__(
        self, models: Mapping[str, ModelSettings], providers: Mapping[str, Provider]
    ) -> None:
        self._routes = {
            name: Route(name, providers[m.provider], m.model, m.owned_by or m.provider, m.created)
            for name, m in models.items()
        }

    def resolve(self, model: str) -> Route:
        """Returns the route of a public model name, or raises a 404 `GatewayError`."""
        route = self._routes.get(model)
        if route is None:
            raise model_not_found(model)
        return route

    def routes(self) -> list[Route]:
        """Returns every route, in configuration order."""
        return list(self._routes.values())
