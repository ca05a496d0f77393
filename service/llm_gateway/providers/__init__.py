"""Upstream providers: one module per upstream API family."""

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers.anthropic import AnthropicProvider
from llm_gateway.providers.base import Provider, UpstreamCall
from llm_gateway.providers.gemini import GeminiProvider
from llm_gateway.providers.openai import OpenAICompatibleProvider


def build_provider(name: str, settings: ProviderSettings) -> Provider:
    """Returns the provider that speaks the upstream API named by `settings.type`."""
    if settings.type == "openai":
        return OpenAICompatibleProvider(name, settings)
    if settings.type == "anthropic":
        return AnthropicProvider(name, settings)
    if settings.type == "gemini":
        return GeminiProvider(name, settings)
    raise ValueError(f"unknown provider type {settings.type!r}")  # pydantic rules this out


__all__ = ["Provider", "UpstreamCall", "build_provider"]
