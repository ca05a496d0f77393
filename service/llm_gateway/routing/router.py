"""Maps public model names to their deployments and fallbacks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llm_gateway.config.settings import ModelSettings, RoutingSettings
from llm_gateway.errors import model_not_found
from llm_gateway.providers.base import Provider
from llm_gateway.routing.deployment import Deployment


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Where one public model is served."""

    public_name: str
    deployments: tuple[Deployment, ...]
    fallbacks: tuple[str, ...]
    owned_by: str
    created: int
    rpm: int | None = None
    tpm: int | None = None
    # What the model serves (`models.<name>.operations`), in the configuration's order.
    operations: tuple[str, ...] = ("chat", "completions", "responses")


class Router:
    """The configured models, by public name."""

    def __init__(
        self,
        models: Mapping[str, ModelSettings],
        providers: Mapping[str, Provider],
        policy: RoutingSettings | None = None,
    ) -> None:
        policy = policy or RoutingSettings()
        self._routes = {
            name: ModelRoute(
                name,
                tuple(
                    Deployment.from_settings(d, providers[d.provider], policy)
                    for d in m.deployments
                ),
                tuple(m.fallbacks),
                m.owned_by or m.deployments[0].provider,
                m.created,
                m.rpm,
                m.tpm,
                tuple(m.operations),
            )
            for name, m in models.items()
        }

    def resolve(self, model: str) -> ModelRoute:
        """Returns the route of a public model name, or raises a 404 `GatewayError`."""
        route = self._routes.get(model)
        if route is None:
            raise model_not_found(model)
        return route

    def chain(self, route: ModelRoute, operation: str | None = None) -> list[ModelRoute]:
        """The model and then its fallbacks, in the order they are tried: with `operation`,
        only the fallbacks that serve it."""
        if not route.fallbacks:
            return [route]
        fallbacks = (self._routes[name] for name in route.fallbacks)
        return [route, *(f for f in fallbacks if operation is None or operation in f.operations)]

    def provider_recovered(self, provider: str) -> None:
        """Puts every deployment on `provider` back in rotation: a managed server that was
        restarted is known to serve again, sooner than a cooldown would find out."""
        for route in self._routes.values():
            for deployment in route.deployments:
                if deployment.provider.name == provider:
                    deployment.recovered()

    def routes(self) -> list[ModelRoute]:
        """Returns every route, in configuration order."""
        return list(self._routes.values())
