"""The Envoy sidecar: its config, rendered from the gateway config, and its process."""

from llm_gateway.sidecar.envoy import EnvoyProcess, render_envoy_config

__all__ = ["EnvoyProcess", "render_envoy_config"]
