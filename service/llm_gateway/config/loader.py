"""Reads the YAML configuration file, with `${VAR}` and `${VAR:-default}` from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llm_gateway.config.settings import GatewaySettings

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the bad entry."""


def interpolate(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {
            k: interpolate(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set")

    return _VARIABLE.sub(substitute, value)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def parse_config(text: str, source: str, env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Parses configuration text; `source` names it in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        data = interpolate(raw, os.environ if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        settings = GatewaySettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid configuration\n{_describe(exc)}") from None
    _note_key_variables(raw, settings)
    return settings


def _note_key_variables(raw: dict[str, Any], settings: GatewaySettings) -> None:
    """Remembers which environment variable each provider's `api_key` names, so that a
    missing key can be reported by the variable to set."""
    providers = raw.get("providers")
    for name, provider in settings.providers.items():
        entry = providers.get(name) if isinstance(providers, dict) else None
        value = entry.get("api_key") if isinstance(entry, dict) else None
        match = _VARIABLE.search(value) if isinstance(value, str) else None
        if match is not None:
            provider._api_key_variable = match.group(1)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Reads and checks the configuration file at path."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    return parse_config(text, str(path), env)
