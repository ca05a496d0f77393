"""Which providers lack the credentials they need, said in the words a newcomer can act on."""

from __future__ import annotations

from llm_gateway.config.settings import GatewaySettings


def missing_credentials(settings: GatewaySettings) -> list[str]:
    """A warning for each provider off this machine without an API key: the variable to set
    and the models that will fail until then (servers on this machine often need none)."""
    warnings = []
    for name, provider in settings.providers.items():
        if provider.has_credentials:
            continue
        served = sorted(
            model
            for model, route in settings.models.items()
            if any(d.provider == name for d in route.deployments)
        )
        where = f"set {provider.api_key_variable}" if provider.api_key_variable else "set api_key"
        consequence = (
            "will fail upstream until it has one"
            if settings.offline_default is None
            else f"fall back to {settings.offline_default!r} (offline_default) where nothing "
            "else serves them, until it has one"
        )
        warnings.append(
            f"provider {name!r} has no API key ({where}): "
            f"{', '.join(served) or 'no model uses it, and it'} {consequence}"
        )
    return warnings
