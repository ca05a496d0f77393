"""What of an upstream's error message may reach the caller.

An upstream's 4xx message is about the caller's request and worth relaying ("'messages' is too
long"), but upstreams also put internals in them: stack traces, file paths, internal URLs and
hosts, and echoes of credentials. `scrub` keeps the reason and removes those; the operator can
hide upstream messages altogether (`upstream_messages: hidden` on a provider).
"""

from __future__ import annotations

import re

MAX_MESSAGE = 500
_REDACTED = "[redacted]"
# First line of a Python, Java or JavaScript stack trace: nothing from there on is relayed.
_TRACE = re.compile(r"Traceback \(most recent call last\)|\n\s+at |\n\s+File \"")
_PATTERNS = (
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+"),  # URLs of any scheme
    re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@~-]+){2,}[\\/]?"),  # file system paths
    re.compile(r"(?i)\bbearer\s+\S+"),
    # key-like: provider prefixes, then `key=...`, `api_key: ...`, then long mixed tokens
    re.compile(r"\b(?:sk|pk|rk|ak|gsk|xai|hf)[-_][A-Za-z0-9_*.-]{3,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{10,}"),
    re.compile(r"(?i)\b(?:api[-_]?key|key|token|secret|password|authorization)\s*[=:]\s*\S+"),
    re.compile(r"\b(?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{24,}\b"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),  # IPv4 addresses
    re.compile(r"\[[0-9a-fA-F:]*:[0-9a-fA-F:]+\](?::\d+)?"),  # IPv6 addresses
    re.compile(r"(?i)\blocalhost(?::\d+)?\b"),
    # host names: labels ending in a letters-only label, optionally with a port
    re.compile(r"(?i)\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,})(?::\d+)\b"),
    re.compile(
        r"(?i)\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|dev|cloud|internal|local|lan|svc|cluster"
        r"|corp|app|py|js|go|java|rb|so|sh)\b"
    ),
)
_SPACES = re.compile(r"\s+")


def scrub(message: str) -> str:
    """The upstream's message without stack traces, URLs, hosts, paths or key-like strings,
    on one line and at most `MAX_MESSAGE` characters long."""
    trace = _TRACE.search(message)
    if trace is not None:
        message = message[: trace.start()]
    for pattern in _PATTERNS:
        message = pattern.sub(_REDACTED, message)
    message = _SPACES.sub(" ", message).strip()
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1].rstrip() + "…"
    return message
