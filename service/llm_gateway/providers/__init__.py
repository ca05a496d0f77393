"""Upstream providers: one module per upstream API family."""

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers.anthropic import AnthropicProvider
from llm_gateway.providers.base import Provider, UpstreamCall
from llm_gateway.providers.gemini import GeminiProvider
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES
from llm_gateway.providers.llama_server import LlamaServerProvider
from llm_gateway.providers.openai import OpenAICompatibleProvider


def build_provider(
    name: str, settings: ProviderSettings, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Provider:
    """Returns the provider that speaks the upstream API named by `settings.type`; answers
    and streamed events larger than `max_response_bytes` are refused as 502s."""
    if settings.type == "openai":
        return OpenAICompatibleProvider(name, settings, max_response_bytes)
    if settings.type == "local":  # `base_url`: the managed llama-server's address
        return LlamaServerProvider(name, settings, max_response_bytes)
    if settings.type == "anthropic":
        return AnthropicProvider(name, settings, max_response_bytes)
    if settings.type == "gemini":
        return GeminiProvider(name, settings, max_response_bytes)
    raise ValueError(f"unknown provider type {settings.type!r}")  # pydantic rules this out


__all__ = ["Provider", "UpstreamCall", "build_provider"]
