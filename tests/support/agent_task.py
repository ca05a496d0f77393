"""What the scripted doubles' `agent` scenario needs: the file a coding agent's user asked it
to read, and the agent's tool for reading files (Claude Code's `Read`, the Gemini CLI's
`read_file`, or the Codex CLI's shell, `exec_command`, running `cat`)."""

from __future__ import annotations

import json
import re
from typing import Any

_READERS = ("Read", "read_file", "exec_command")
_PATH = re.compile(r"(/[\w./-]+\.txt)")


def path_asked_for(turns: Any) -> str | None:
    """The first `.txt` file named anywhere in `turns` (agents wrap the prompt in context)."""
    found = _PATH.search(json.dumps(turns))
    return found.group(1) if found else None


def reader(names: list[str]) -> str | None:
    """The agent's file-reading tool among the tools it offers."""
    return next((name for name in _READERS if name in names), None)


def arguments(tool: str, path: str) -> dict[str, Any]:
    """The arguments of a call of `tool` (see `reader`) that reads the file at `path`."""
    if tool == "exec_command":
        return {"cmd": f"cat {path}"}
    return {"file_path": path}
