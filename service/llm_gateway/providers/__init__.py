"""Upstream providers: one module per upstream API family."""

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers.base import Provider, UpstreamCall
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES


def build_provider(
    name: str, settings: ProviderSettings, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Provider:
    """Returns the provider that speaks the upstream API named by `settings.type`; answers
    and streamed events larger than `max_response_bytes` are refused as 502s. Each family's
    module is imported here, when a provider of its type is configured: its translators cost
    a gateway without one start-up time and memory."""
    if settings.type == "openai":
        from llm_gateway.providers.openai import OpenAICompatibleProvider

        return OpenAICompatibleProvider(name, settings, max_response_bytes)
    if settings.type == "local":  # `base_url`: the managed llama-server's address
        from llm_gateway.providers.llama_server import LlamaServerProvider

        return LlamaServerProvider(name, settings, max_response_bytes)
    if settings.type == "anthropic":
        from llm_gateway.providers.anthropic import AnthropicProvider

        return AnthropicProvider(name, settings, max_response_bytes)
    if settings.type == "gemini":
        from llm_gateway.providers.gemini import GeminiProvider

        return GeminiProvider(name, settings, max_response_bytes)
    raise ValueError(f"unknown provider type {settings.type!r}")  # pydantic rules this out


__all__ = ["Provider", "UpstreamCall", "build_provider"]
