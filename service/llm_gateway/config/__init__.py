"""The gateway's configuration: one YAML file with `${ENV_VAR}` interpolation."""

from llm_gateway.config.loader import ConfigError, load_config, parse_config
from llm_gateway.config.settings import GatewaySettings

__all__ = ["ConfigError", "GatewaySettings", "load_config", "parse_config"]
