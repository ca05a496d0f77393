"""The `llm-gateway` executable starts the gateway with Python's garbage collector paused, and
resumes it once the gateway serves, with start-up's objects frozen out of its reach
(llm_gateway/launcher.py): a serving command must never be left without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.stack import KEY, free_port

# Runs the executable's entry point on argv[1:], with the server's start and its wait for a
# signal observed (the wait returns at once: the command then drains and exits), and prints
# what the collector's state was at each point and at the end.
_OBSERVED = """
import gc, json, sys
import llm_gateway.server as server
from llm_gateway import launcher

seen = {}
start_server, stop_event_on_signals = server.start_server, server.stop_event_on_signals

async def observed_start(settings, address=None):
    seen["collecting while starting"] = gc.isenabled()
    return await start_server(settings, address)

class Signalled:
    async def wait(self):
        seen["collecting once serving"] = gc.isenabled()
        seen["frozen once serving"] = gc.get_freeze_count() > 0

server.start_server = observed_start
server.stop_event_on_signals = lambda: Signalled()
sys.argv = ["llm-gateway", *sys.argv[1:]]
seen["status"] = launcher.main()
seen["collecting at the end"] = gc.isenabled()
print(json.dumps(seen))
"""


def _config(tmp_path: Path) -> Path:
    config = {
        "listen": {
            "rest": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "envoy_admin": f"127.0.0.1:{free_port()}",
        },
        "providers": {"openai": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "models": {"gpt-echo": {"provider": "openai", "model": "echo"}},
        "keys": [{"name": "tester", "key": KEY}],
        "shutdown_grace_seconds": 1,
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("command", ["up", "serve"])
def test_a_serving_command_starts_without_the_collector_and_serves_with_it(
    command: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _OBSERVED, command, "--config", str(_config(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "collecting while starting": False,
        "collecting once serving": True,
        "frozen once serving": True,
        "status": 0,
        "collecting at the end": True,
    }


def test_every_other_command_runs_with_the_collector(tmp_path: Path) -> None:
    probe = (
        "import gc, sys; from llm_gateway import cli; "
        "real = cli.render_envoy_config; "
        "cli.render_envoy_config = lambda *a: print(gc.isenabled(), file=sys.stderr) or real(*a); "
        "sys.argv = ['llm-gateway', 'envoy-config', '--config', sys.argv[1]]; "
        "from llm_gateway import launcher; sys.exit(launcher.main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(_config(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr.strip() == "True"
    assert "rest_and_grpc" in done.stdout
