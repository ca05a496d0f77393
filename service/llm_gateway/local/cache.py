"""The folder outside any clone where built servers and unpacked models are kept, so that every
clone, run and test session on a machine shares one build."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

CACHE_VARIABLE = "LLM_GATEWAY_CACHE_DIR"


def cache_root() -> Path:
    """`$LLM_GATEWAY_CACHE_DIR`, else `$XDG_CACHE_HOME/llm-gateway`, else
    `~/.cache/llm-gateway`."""
    explicit = os.environ.get(CACHE_VARIABLE)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-gateway"


@contextlib.contextmanager
def exclusive(folder: Path, name: str) -> Iterator[None]:
    """Holds an exclusive lock named `name` in `folder` for the block: two stacks or test
    sessions preparing the same thing at once wait for each other instead of both doing it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
