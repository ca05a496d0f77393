"""The gateway's grpc.aio server: both API surfaces, health, reflection, graceful shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from llm_gateway.api.anthropic.servicer import AnthropicRestServicer
from llm_gateway.api.gemini.embedding_servicer import GeminiEmbeddingServicer
from llm_gateway.api.gemini.models import GeminiModelServicer
from llm_gateway.api.gemini.servicer import GeminiRestServicer
from llm_gateway.api.grpc import LlmGatewayServicer
from llm_gateway.api.grpc.message_limits import limited
from llm_gateway.api.grpc.servicer import UPLOAD_METHODS
from llm_gateway.api.responses.background import BackgroundRuns
from llm_gateway.api.responses.conversations import Conversations
from llm_gateway.api.responses.grpc_servicer import ResponsesServicer
from llm_gateway.api.responses.operations import ResponsesOperations
from llm_gateway.api.responses.rest_conversations import ConversationsRestServicer
from llm_gateway.api.responses.rest_servicer import ResponsesRestServicer
from llm_gateway.api.rest.health import HealthRestServicer
from llm_gateway.api.rest.servicer import OpenAIRestServicer
from llm_gateway.auth import KeyRing
from llm_gateway.auth.directory import KeyDirectory
from llm_gateway.config import GatewaySettings
from llm_gateway.config.credentials import missing_credentials
from llm_gateway.config.offline import served_models
from llm_gateway.config.settings import IN_MEMORY_DATABASE, StorageSettings
from llm_gateway.dataplane import DataPlane, Drain
from llm_gateway.limits import Limiter, RateLimiter, Units
from llm_gateway.limits.budget import BudgetLedger, Budgets
from llm_gateway.limits.shared import RedisLimiter
from llm_gateway.limits.shared_budget import RedisBudgets
from llm_gateway.method_table import MethodTable
from llm_gateway.model import RequestValidator
from llm_gateway.providers import Provider, build_provider
from llm_gateway.reflection import enable_reflection
from llm_gateway.routing import Dispatcher, Router
from llm_gateway.store import Store, open_store
from llm_gateway.store.base import ResponsesState
from llm_gateway.store.on_first_use import ResponsesOnFirstUse
from llm_gateway.telemetry import Telemetry
from llm_gateway.usage.journal import UsageJournal, journal_for
from llm_gateway.usage.recorder import UsageRecorder

# What a configuration does not use is not imported (start-up time and memory): Redis's client,
# the tracing SDK, the Prometheus client, the admin API, the local model supervisor.
if TYPE_CHECKING:
    from redis.asyncio import Redis

    from llm_gateway.local.supervisor import LocalModelServer
    from llm_gateway.telemetry.metrics import GatewayMetrics
    from llm_gateway.telemetry.tracing import Tracing
from llm_gateway.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    anthropic_rest_service_pb2,
    anthropic_rest_service_pb2_grpc,
    gemini_rest_service_pb2,
    gemini_rest_service_pb2_grpc,
    health_rest_service_pb2,
    health_rest_service_pb2_grpc,
    llm_gateway_service_pb2,
    llm_gateway_service_pb2_grpc,
    openai_rest_service_pb2,
    openai_rest_service_pb2_grpc,
    responses_rest_service_pb2,
    responses_rest_service_pb2_grpc,
    responses_service_pb2,
    responses_service_pb2_grpc,
)

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    llm_gateway_service_pb2.DESCRIPTOR.services_by_name["LlmGatewayService"].full_name,
    openai_rest_service_pb2.DESCRIPTOR.services_by_name["OpenAIRestService"].full_name,
    anthropic_rest_service_pb2.DESCRIPTOR.services_by_name["AnthropicRestService"].full_name,
    responses_rest_service_pb2.DESCRIPTOR.services_by_name["ResponsesRestService"].full_name,
    responses_rest_service_pb2.DESCRIPTOR.services_by_name["ConversationsRestService"].full_name,
    responses_service_pb2.DESCRIPTOR.services_by_name["ResponsesService"].full_name,
    gemini_rest_service_pb2.DESCRIPTOR.services_by_name["GeminiRestService"].full_name,
    gemini_rest_service_pb2.DESCRIPTOR.services_by_name["GeminiModelService"].full_name,
    gemini_rest_service_pb2.DESCRIPTOR.services_by_name["GeminiEmbeddingService"].full_name,
)
# The typed services, whose methods each have their own message limit.
TYPED_SERVICE_NAMES = (
    llm_gateway_service_pb2.DESCRIPTOR.services_by_name["LlmGatewayService"].full_name,
    responses_service_pb2.DESCRIPTOR.services_by_name["ResponsesService"].full_name,
)
HEALTH_REST_SERVICE_NAME = health_rest_service_pb2.DESCRIPTOR.services_by_name[
    "HealthRestService"
].full_name
# Served when there is a store to administer.
ADMIN_SERVICE_NAME = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
# Protobuf framing and the HttpBody wrapper add a little to the largest accepted body.
_MESSAGE_OVERHEAD = 64 * 1024
# What Envoy adds to a request's headers on the way to the gateway (x-forwarded-*, x-envoy-*,
# x-request-id, te, grpc's own), beyond what the caller sent.
_METADATA_OVERHEAD = 16 * 1024


class StartupError(Exception):
    """The server could not start (for example, its port is taken)."""


@dataclass
class GatewayServer:
    """A started server and what it must close on the way out."""

    server: grpc.aio.Server
    health: Any
    health_rest: HealthRestServicer
    providers: list[Provider]
    port: int
    drain: Drain
    recorder: UsageRecorder | None = None
    store: Store | None = None
    redis: Redis | None = None
    metrics: GatewayMetrics | None = None
    tracing: Tracing | None = None
    local_servers: list[LocalModelServer] = field(default_factory=list)
    # The Responses API's own database, if it has one (not the store's).
    response_store: ResponsesOnFirstUse | None = None
    background: BackgroundRuns = field(default_factory=BackgroundRuns)

    async def stop(self, grace: float) -> None:
        """Drains: reports NOT_SERVING and refuses new calls at once, lets running ones finish
        for up to `grace` seconds, ends those still running with an error a little before, so
        that the error reaches their callers, writes the usage records still waiting, then
        closes everything."""
        await self.health.enter_graceful_shutdown()
        self.health_rest.serving = False
        stopping = asyncio.ensure_future(self.server.stop(grace))
        # Background responses get the grace period too (the server takes no new ones).
        running = asyncio.ensure_future(self.background.finished())
        finished, _ = await asyncio.wait({stopping, running}, timeout=grace - min(1.0, grace / 5))
        if len(finished) < 2:
            ended = self.drain.end_running()
            log.info("grace period over: ending the running requests (%d waiting)", ended)
        await stopping
        running.cancel()
        # Each ended run records its failure before the store closes.
        await self.background.stop(min(1.0, grace / 5))
        for provider in self.providers:
            await provider.aclose()
        # Only now: the streams they serve have ended above.
        for local in self.local_servers:
            await local.stop()
        if self.recorder is not None:
            await self.recorder.close()
        if self.store is not None:
            await self.store.close()
        if self.response_store is not None:
            await self.response_store.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.tracing is not None:
            # The exporter's last batch goes out on a thread: keep the event loop free.
            await asyncio.to_thread(self.tracing.close)
        if self.metrics is not None:
            self.metrics.close()


def _without_password(url: str) -> str:
    """A database URL fit for messages: its password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def _open_storage(
    settings: StorageSettings | None, metrics: GatewayMetrics | None
) -> tuple[Store | None, KeyDirectory | None, UsageRecorder | None]:
    """The store (migrated), the virtual-key directory and the usage recorder, if configured."""
    if settings is None:
        return None, None, None
    store = open_store(settings.database)
    try:
        await store.migrate()
    except Exception as exc:
        await store.close()
        where = _without_password(settings.database)
        raise StartupError(f"cannot open the database {where}: {exc}") from None
    secret = settings.key_secret.get_secret_value().encode()
    directory = KeyDirectory(store, secret, settings.key_cache_seconds)
    await store.watch_keys(directory.forget)
    recorder = UsageRecorder(
        store,
        settings.usage_batch_size,
        settings.usage_flush_seconds,
        settings.usage_max_pending,
        metrics.usage_records_dropped.inc if metrics is not None else None,
        _journal(settings),
    )
    recorder.start()
    return store, directory, recorder


def _responses_store(
    settings: GatewaySettings, store: Store | None
) -> tuple[ResponsesState, ResponsesOnFirstUse | None]:
    """Where stored responses live: the configured store, unless `responses.database` names
    another; the database of their own, if they have one (opened on first use)."""
    database = settings.responses.database
    shared = settings.storage.database if settings.storage is not None else None
    if store is not None and database in (None, shared):
        return store, None
    own = ResponsesOnFirstUse(database or IN_MEMORY_DATABASE)
    return own, own


def _journal(settings: StorageSettings) -> UsageJournal | None:
    try:
        return journal_for(settings)
    except OSError as exc:
        raise StartupError(f"cannot use the usage journal folder: {exc}") from None


def _limits(
    settings: StorageSettings | None, store: Store | None
) -> tuple[Redis | None, RateLimiter, Budgets | None]:
    """Rate limits and budgets: in Redis for every replica when it is configured, else here."""
    redis = None
    if settings and settings.redis_url:
        # Imported here: the client (and the telemetry it brings) costs a gateway without
        # Redis start-up time and memory.
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    limiter: RateLimiter = RedisLimiter(redis) if redis is not None else Limiter()
    if store is None or settings is None:
        return redis, limiter, None
    if redis is not None:
        return redis, limiter, RedisBudgets(redis, store.spent)
    return redis, limiter, BudgetLedger(store.spent, settings.key_cache_seconds)


async def start_local_servers(settings: GatewaySettings) -> dict[str, LocalModelServer]:
    """Starts the model server of each `local` provider and waits until each is healthy
    (building it first on a machine that has none); stops them all if one fails."""
    started: dict[str, LocalModelServer] = {}
    for name, provider in settings.providers.items():
        if provider.server is None:
            continue
        from llm_gateway.local.supervisor import LocalModelServer, LocalServerError

        local = LocalModelServer(name, provider.server)
        try:
            await local.start()
        except LocalServerError as exc:
            for other in started.values():
                await other.stop()
            raise StartupError(f"provider {name!r}: {exc}") from None
        log.info("provider %r: %s", name, local.describe())
        started[name] = local
    return started


async def start_server(settings: GatewaySettings, address: str | None = None) -> GatewayServer:
    """Builds every component from settings and starts serving on `listen.grpc`."""
    for warning in missing_credentials(settings):
        log.warning("%s", warning)
    local_servers = await start_local_servers(settings)
    try:
        return await _start_with(settings, address, local_servers)
    except BaseException:
        for local in local_servers.values():
            await local.stop()
        raise


async def _start_with(
    settings: GatewaySettings, address: str | None, local_servers: dict[str, LocalModelServer]
) -> GatewayServer:
    largest = settings.limits.max_response_bytes
    providers = {
        name: build_provider(
            name,
            p.with_base_url(local_servers[name].base_url) if name in local_servers else p,
            largest,
        )
        for name, p in settings.providers.items()
    }
    served = served_models(settings)
    for line in served.lines:
        log.info("model %s", line)
    metrics = None
    if settings.listen.metrics:
        from llm_gateway.telemetry.metrics import GatewayMetrics

        metrics = GatewayMetrics()
        metrics.watch_loop(asyncio.get_running_loop())
    store, directory, recorder = await _open_storage(settings.storage, metrics)
    redis, limiter, budgets = _limits(settings.storage, store)
    tracing = None
    if settings.tracing.enabled:
        from llm_gateway.telemetry.tracing import Tracing  # the SDK: only when tracing is on

        tracing = Tracing(settings.tracing)
    router = Router(served.models, providers, settings.routing)
    for name, local in local_servers.items():
        local.on_recovered = functools.partial(router.provider_recovered, name)
    dispatcher = Dispatcher(router.chain, settings.routing)
    drain = Drain()
    dataplane = DataPlane(
        router,
        dispatcher,
        log_prompts=settings.log_prompts,
        recorder=recorder,
        prices=settings.prices,
        limiter=limiter,
        reserved_completion_tokens=settings.limits.reserved_completion_tokens,
        units=Units(settings.limits.tokens_per_image, settings.limits.tokens_per_audio_second),
        ledger=budgets,
        telemetry=Telemetry(metrics, tracing),
        refuse_dropped=settings.untranslatable_fields == "refuse",
        drain=drain,
    )
    validator = RequestValidator(settings.unknown_fields)
    keys = KeyRing(settings.keys, directory)
    response_store, own_responses = _responses_store(settings, store)
    background = BackgroundRuns()
    conversations = Conversations(response_store)
    responses = ResponsesOperations(
        dataplane,
        validator,
        response_store,
        settings.responses.retention_days * 86_400,
        background,
    )
    limits = settings.limits
    # Headers: whatever Envoy admits is served (it adds a few of its own on the way).
    metadata = limits.max_header_kb * 1024 + _METADATA_OVERHEAD
    # The largest message of a typed method, and of an upload (the largest of any method).
    body_limit = limits.max_body_bytes + _MESSAGE_OVERHEAD
    upload_limit = max(limits.max_body_bytes, limits.max_upload_body_bytes) + _MESSAGE_OVERHEAD
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),  # a taken port must fail loudly
            # Calls that arrive while the event loop is busy wait in grpc's core until the
            # server takes them; past 1,000 of them (its default) grpc cancels the rest, which
            # cut 10-40 of 2,000 streams opened over two seconds. As many as Envoy may hold
            # open to the gateway instead.
            ("grpc.server.max_pending_requests", limits.max_open_requests),
            ("grpc.server.max_pending_requests_hard_limit", limits.max_open_requests),
            # The largest body of any path (the form paths'): Envoy holds each REST path to
            # its own.
            ("grpc.max_receive_message_length", upload_limit),
            ("grpc.max_send_message_length", limits.largest_answer_message),
            ("grpc.max_metadata_size", metadata),
            ("grpc.absolute_max_metadata_size", metadata),
        ]
    )
    # Registered here rather than on the server: see `MethodTable`.
    table = MethodTable()
    llm_gateway_service_pb2_grpc.add_LlmGatewayServiceServicer_to_server(  # type: ignore[no-untyped-call]
        LlmGatewayServicer(dataplane, validator, keys, settings.limits.max_upload_bytes),
        table,
    )
    openai_rest_service_pb2_grpc.add_OpenAIRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        OpenAIRestServicer(dataplane, validator, keys, settings.limits.max_upload_bytes),
        table,
    )
    anthropic_rest_service_pb2_grpc.add_AnthropicRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        AnthropicRestServicer(dataplane, keys),
        table,
    )
    responses_rest_service_pb2_grpc.add_ResponsesRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        ResponsesRestServicer(responses, keys),
        table,
    )
    responses_rest_service_pb2_grpc.add_ConversationsRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        ConversationsRestServicer(conversations, keys),
        table,
    )
    responses_service_pb2_grpc.add_ResponsesServiceServicer_to_server(  # type: ignore[no-untyped-call]
        ResponsesServicer(responses, conversations, keys),
        table,
    )
    gemini_rest_service_pb2_grpc.add_GeminiRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        GeminiRestServicer(dataplane, keys),
        table,
    )
    gemini_rest_service_pb2_grpc.add_GeminiModelServiceServicer_to_server(  # type: ignore[no-untyped-call]
        GeminiModelServicer(dataplane, keys),
        table,
    )
    gemini_rest_service_pb2_grpc.add_GeminiEmbeddingServiceServicer_to_server(  # type: ignore[no-untyped-call]
        GeminiEmbeddingServicer(dataplane, keys),
        table,
    )
    services: tuple[str, ...] = SERVICE_NAMES
    if store is not None and directory is not None and settings.storage is not None:
        from llm_gateway.api.admin import AdminServicer
        from llm_gateway.auth.key_admin import KeyAdmin

        services += (ADMIN_SERVICE_NAME,)
        admin_key = settings.storage.admin_key
        admin_pb2_grpc.add_AdminServiceServicer_to_server(  # type: ignore[no-untyped-call]
            AdminServicer(
                KeyAdmin(store, settings.storage.key_secret.get_secret_value().encode()),
                directory,
                admin_key,
                response_store,
            ),
            table,
        )
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, table)
    health_rest = HealthRestServicer()
    health_rest_service_pb2_grpc.add_HealthRestServiceServicer_to_server(  # type: ignore[no-untyped-call]
        health_rest,
        table,
    )
    services += (HEALTH_REST_SERVICE_NAME,)
    enable_reflection((*services, health.SERVICE_NAME), table)
    # grpc's receive limit (above) is the largest any method takes: each typed method keeps
    # its own (the REST paths' are Envoy's, route by route).
    for typed_service in (*TYPED_SERVICE_NAMES, ADMIN_SERVICE_NAME):
        table.wrap(
            typed_service,
            lambda method, handler: limited(
                handler, upload_limit if method in UPLOAD_METHODS else body_limit
            ),
        )
    table.install(server)
    address = address or settings.listen.grpc
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise StartupError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise StartupError(f"cannot listen on {address}")
    if metrics is not None and settings.listen.metrics is not None:
        try:
            metrics.serve(settings.listen.metrics)
        except OSError as exc:
            raise StartupError(
                f"cannot serve metrics on {settings.listen.metrics}: {exc}"
            ) from None
    await server.start()
    for name in ("", *services):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("gateway listening on %s", address)
    return GatewayServer(
        server,
        health_servicer,
        health_rest,
        list(providers.values()),
        port,
        drain,
        recorder,
        store,
        redis,
        metrics,
        tracing,
        list(local_servers.values()),
        own_responses,
        background,
    )


def stop_event_on_signals() -> asyncio.Event:
    """Returns an event that SIGTERM or SIGINT sets."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: GatewaySettings, serving: Callable[[], None] | None = None) -> None:
    """Serves until SIGTERM or SIGINT, then drains for `shutdown_grace_seconds`; calls
    `serving` once the server has started."""
    stop = stop_event_on_signals()
    running = await start_server(settings)
    if serving is not None:
        serving()
    await stop.wait()
    log.info("shutting down: draining for up to %ss", settings.shutdown_grace_seconds)
    await running.stop(settings.shutdown_grace_seconds)
