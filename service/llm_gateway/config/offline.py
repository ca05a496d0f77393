"""Which models are served by the offline default: a model none of whose deployments (nor
fallbacks) has a provider with credentials is served by `offline_default` instead (or, for a
model whose operations that one does not serve, by `offline_embedding_default`), so that a
stack started without any key answers with a real model rather than a 502 for every request."""

from __future__ import annotations

from dataclasses import dataclass

from llm_gateway.config.settings import GatewaySettings, ModelSettings


@dataclass(frozen=True)
class Served:
    """The routes the gateway serves, and a line per model saying what serves it."""

    models: dict[str, ModelSettings]
    lines: list[str]


def _reachable(settings: GatewaySettings, name: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether some deployment of the model, or of a fallback, can be called."""
    model = settings.models[name]
    if any(settings.providers[d.provider].has_credentials for d in model.deployments):
        return True
    return any(
        _reachable(settings, fallback, seen | {name})
        for fallback in model.fallbacks
        if fallback not in seen
    )


def _default_for(settings: GatewaySettings, model: ModelSettings) -> str | None:
    """The first offline default that serves every operation of `model`."""
    for default in (settings.offline_default, settings.offline_embedding_default):
        if default is not None and set(model.operations) <= set(
            settings.models[default].operations
        ):
            return default
    return None


def served_models(settings: GatewaySettings) -> Served:
    """The models with the offline default in place where nothing else can serve them."""
    models, lines = dict(settings.models), []
    for name, model in settings.models.items():
        labels = ", ".join(d.label for d in model.deployments)
        default = _default_for(settings, model)
        if default is not None and name != default and not _reachable(settings, name):
            substitute = settings.models[default]
            models[name] = model.model_copy(
                update={"deployments": substitute.deployments, "fallbacks": substitute.fallbacks}
            )
            by = ", ".join(d.label for d in substitute.deployments)
            lines.append(f"{name}: {by} (offline_default: no credentials for {labels})")
        else:
            lines.append(f"{name}: {labels}")
    return Served(models, lines)
