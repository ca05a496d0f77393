"""The child processes the gateway runs (Envoy, llama-server): how many CPUs they may use, and
how one is stopped."""

from __future__ import annotations

import asyncio
import os
import signal


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


async def terminate(process: asyncio.subprocess.Process, kill_after: float) -> None:
    """Stops a child: SIGTERM, then SIGKILL if it is still running after `kill_after` seconds."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), kill_after)
    except TimeoutError:
        process.kill()
        await process.wait()
