"""The `llm-gateway` command.

- `llm-gateway up --config FILE`: the gateway and its Envoy sidecar, in the foreground.
- `llm-gateway serve --config FILE`: the gateway alone (gRPC, and REST behind a separate Envoy).
- `llm-gateway sidecar --config FILE`: Envoy alone, configured for that gateway.
- `llm-gateway envoy-config --config FILE`: prints the Envoy config that `up` would run.
- `llm-gateway keys create|list|update|revoke|usage --config FILE`: virtual keys and usage.
- `llm-gateway local-model build|status [--config FILE]`: the local model server, ahead of use.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml

from llm_gateway import keys_cli, models_cli
from llm_gateway.config import ConfigError, GatewaySettings, load_config
from llm_gateway.local import commands as local_model_cli
from llm_gateway.logs import configure_logging
from llm_gateway.sidecar import EnvoyProcess, render_envoy_config
from llm_gateway.sidecar.envoy import EnvoyError

log = logging.getLogger("llm_gateway")
T = TypeVar("T")
# How long Envoy may take, once the gateway has finished, to pass on the last answers' bytes.
_LAST_BYTES_SECONDS = 1.0


async def _up(settings: GatewaySettings, envoy: EnvoyProcess) -> int:
    """Runs the gateway and its Envoy until a signal (exit status 0) or until Envoy dies
    (status 1: the stack cannot serve REST without it, and a supervisor should know)."""
    envoy.check_ports()
    # Envoy is spawned first: before gRPC starts its threads (forking after that is unsafe),
    # and before the server's modules are loaded (about 0.25 s), so that its own start
    # (about 60 ms) overlaps their import. They are imported here, not at the top, for that;
    # a signal before the handlers are set ends the process as by default (nothing is served
    # yet, and Envoy, told of its parent's death, follows).
    await envoy.spawn()
    try:
        from llm_gateway.server import start_server, stop_event_on_signals

        stop = stop_event_on_signals()
        gateway = await start_server(settings)
    except BaseException:
        await envoy.stop()
        raise
    resume_collector()
    status = 0
    try:
        await envoy.wait_ready(gateway.health_rest.instance)
        log.info(
            "ready: REST and gRPC on %s, gRPC direct on %s",
            settings.listen.rest,
            settings.listen.grpc,
        )
        exited = asyncio.ensure_future(envoy.wait())
        signalled = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, signalled}, return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        if exited.done():
            log.error("Envoy exited with status %s: stopping the gateway", exited.result())
            status = 1
        else:
            exited.cancel()
            log.info("shutting down: draining for up to %ss", settings.shutdown_grace_seconds)
            await envoy.drain()
    finally:
        await gateway.stop(settings.shutdown_grace_seconds)
        await envoy.wait_idle(_LAST_BYTES_SECONDS)
        await envoy.stop()
    return status


def resume_collector() -> None:
    """Resumes the garbage collector that `launcher` paused for start-up, with every object
    start-up made (they live as long as the process) moved out of its reach, so that no later
    collection walks them again."""
    gc.freeze()
    gc.enable()


def _prepare_local_models(settings: GatewaySettings) -> None:
    """Builds the local model servers the config needs and fetches their models, before the
    event loop starts: a first build takes minutes, and Ctrl-C must stop it (and its compiler)
    at once rather than after it."""
    servers = [p.server for p in settings.providers.values() if p.server is not None]
    if servers:  # its module loads the HTTP client: only for configs that need it
        from llm_gateway.local.supervisor import prepare

        for server in servers:
            prepare(server)


def _reported(failure: Exception) -> bool:
    """Whether `main` reports the failure in one line, exit status 2. The server's and the local
    model server's errors are imported only when needed: their modules are loaded only by the
    commands that start them, and a config error should not wait for them."""
    if isinstance(failure, ConfigError | EnvoyError):
        return True
    from llm_gateway.local.supervisor import LocalServerError
    from llm_gateway.server import StartupError

    return isinstance(failure, StartupError | LocalServerError)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-gateway", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "start the gateway and its Envoy sidecar"),
        ("serve", "start the gateway alone"),
        ("sidecar", "start Envoy alone, configured for the gateway"),
        ("envoy-config", "print the Envoy config for the gateway config"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", required=True, help="the gateway's YAML config file")
        sub.add_argument("--log-level", default="INFO", help="gateway log level (INFO)")
        sub.add_argument("--envoy-log-level", default="warn", help="Envoy log level (warn)")
        sub.add_argument(
            "--envoy-concurrency",
            type=int,
            default=None,
            help="Envoy's worker threads (default: one per CPU this process may use)",
        )
        sub.add_argument(
            "--envoy-config",
            type=Path,
            default=None,
            help="an Envoy config to render instead of the packaged envoy.yaml",
        )
    keys_cli.add_parser(commands)
    models_cli.add_parser(commands)
    local_model_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command not in ("up", "serve"):  # those resume it once serving
        gc.enable()
    configure_logging(getattr(args, "log_level", "INFO").upper())
    if args.command == "local-model":
        return local_model_cli.run(args)
    try:
        settings = load_config(args.config)
        if args.command == "keys":
            return asyncio.run(keys_cli.run(args, settings))
        if args.command == "models":
            return models_cli.run(args, settings)
        envoy = EnvoyProcess(
            settings, args.envoy_log_level, args.envoy_config, args.envoy_concurrency
        )
        if args.command == "envoy-config":
            config = render_envoy_config(settings, args.envoy_config)
            sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
        elif args.command == "sidecar":
            return _run(envoy.serve(settings.shutdown_grace_seconds + _LAST_BYTES_SECONDS))
        elif args.command == "serve":
            from llm_gateway.server import serve

            _prepare_local_models(settings)
            _run(serve(settings, serving=resume_collector))
        else:
            _prepare_local_models(settings)
            return _run(_up(settings, envoy))
    except Exception as exc:
        if not _reported(exc):
            raise
        print(f"llm-gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
