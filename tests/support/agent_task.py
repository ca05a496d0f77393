"""What the scripted doubles' `agent` scenario needs: the file a coding agent's user asked it
to read, and the agent's tool for reading files (Claude Code's `Read`, the Gemini CLI's
`read_file`)."""

from __future__ import annotations

import json
import re
from typing import Any

_READERS = ("Read", "read_file")
_PATH = re.compile(r"(/[\w./-]+\.txt)")


def path_asked_for(turns: Any) -> str | None:
    """The first `.txt` file named anywhere in `turns` (agents wrap the prompt in context)."""
    found = _PATH.search(json.dumps(turns))
    return found.group(1) if found else None


def reader(names: list[str]) -> str | None:
    """The agent's file-reading tool among the tools it offers."""
    return next((name for name in _READERS if name in names), None)
