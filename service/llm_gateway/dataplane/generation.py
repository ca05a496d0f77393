"""Serves generation requests (unary and streamed) and lists models.

A call is served by a `Served` object: the surface awaits its answer or iterates its stream,
and reads from it what the data plane decided (the deployment that served, the caller's
rate-limit headers, whether the request was passed through and what a translation left out),
failures included. Unary and streamed calls share one skeleton: route, admit, dispatch,
account, settle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from llm_gateway.config.settings import Price
from llm_gateway.dataplane.accounting import CLIENT_CLOSED, Accountant
from llm_gateway.dataplane.call import CallInfo
from llm_gateway.dataplane.drain import Drain
from llm_gateway.dataplane.models import ServedModel, served_model, served_models
from llm_gateway.dataplane.token_count import TokenCount, count_tokens
from llm_gateway.errors import (
    GatewayError,
    limits_unavailable,
    model_not_allowed,
    operation_not_served,
    shutting_down,
)
from llm_gateway.limits import (
    NO_UNITS,
    Limits,
    RateLimiter,
    Ticket,
    Units,
    estimate_prompt,
    estimate_tokens,
)
from llm_gateway.limits.budget import Amount, Budget, Budgets
from llm_gateway.model.canonical import CanonicalChunk, as_chat, as_chat_chunk
from llm_gateway.model.request import GenerationRequest, Operation
from llm_gateway.model.text_completion import completion_chunk_from_chat, completion_from_chat
from llm_gateway.model.token_counts import bounded
from llm_gateway.model.wire import WireAnswer, WireEvent
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.routing import Dispatcher, Job, ModelRoute, Router
from llm_gateway.routing.dispatch import Answer, Chunk
from llm_gateway.telemetry import RequestWatch, Telemetry
from llm_gateway.usage.accounting import (
    StreamUsage,
    Usage,
    image_kind,
    images_usage_of,
    usage_of,
)
from llm_gateway.usage.pricing import cost
from llm_gateway.usage.recorder import UsageRecorder

log = logging.getLogger(__name__)


def _status_of(failure: BaseException) -> int:
    """The HTTP status a failure is reported (or logged) with."""
    if isinstance(failure, GatewayError):
        return failure.status
    if isinstance(failure, asyncio.CancelledError | GeneratorExit):
        return CLIENT_CLOSED
    return 500


@dataclass(slots=True)
class Decisions:
    """What the data plane decided for one call, for its surface to report."""

    deployment: str | None = None  # the deployment that served (or last failed)
    rate_limits: tuple[tuple[str, str], ...] = ()  # the caller's `x-ratelimit-*` headers
    passthrough: bool = False  # sent upstream as the caller sent it
    dropped: tuple[str, ...] = ()  # the caller's fields a translation left out


@dataclass(slots=True)
class _Session:
    """One call between admission and settlement."""

    job: Job
    watch: RequestWatch
    task: asyncio.Task[Any]  # the task serving the call, which a shutdown may end
    usage: Usage
    answered_at: float | None = None  # when the answer (or a stream's first chunk) arrived


class Served:
    """One generation call: its answer or stream, and what was decided serving it."""

    def __init__(self, dataplane: DataPlane, request: GenerationRequest, call: CallInfo) -> None:
        self._dataplane = dataplane
        self.request = request
        self.call = call
        self.decisions = Decisions()

    async def answer(self) -> Answer:
        """The whole answer to a request that does not stream."""
        return await self._dataplane.answer(self)

    def stream(self) -> AsyncGenerator[Chunk, None]:
        """The chunks of a streamed answer (see `DataPlane.stream`)."""
        return self._dataplane.stream(self)


class DataPlane:
    """Routes each request to its upstream, relays the answer and accounts for it."""

    def __init__(
        self,
        router: Router,
        dispatcher: Dispatcher,
        *,
        log_prompts: bool = False,
        recorder: UsageRecorder | None = None,
        prices: Mapping[str, Price] | None = None,
        limiter: RateLimiter | None = None,
        reserved_completion_tokens: int = 1024,
        units: Units = NO_UNITS,
        ledger: Budgets | None = None,
        telemetry: Telemetry | None = None,
        refuse_dropped: bool = False,
        drain: Drain | None = None,
    ) -> None:
        self._router = router
        self._dispatcher = dispatcher
        self._accountant = Accountant(prices or {}, recorder, log_prompts)
        self._limiter = limiter
        self._reserved_completion = reserved_completion_tokens
        self._units = units
        self._ledger = ledger
        self._telemetry = telemetry or Telemetry()
        self._refuse_dropped = refuse_dropped
        # The server's, which ends what still runs when a shutdown's grace period is over.
        self.drain = drain or Drain()

    def serve(self, request: GenerationRequest, call: CallInfo) -> Served:
        """A call to serve; nothing happens until its answer or stream is asked for."""
        return Served(self, request, call)

    async def answer(self, served: Served) -> Answer:
        """Returns the whole answer to a request that does not stream (`Served.answer`)."""
        async with self._session(served, stream=False) as session:
            answer = await self._dispatcher.create(session.job, session.watch.attempts)
            session.answered_at = perf_counter()
            if isinstance(answer, WireAnswer):
                session.usage = answer.usage
                return answer
            request = served.request
            session.usage = (
                images_usage_of(answer, request.body)
                if request.served_as is Operation.IMAGES
                else usage_of(answer)
            )
            if request.as_text_completion:  # served as a chat completion
                return completion_from_chat(as_chat(answer))
            return answer
        raise AssertionError("unreachable: the session re-raises every failure")

    async def stream(self, served: Served) -> AsyncGenerator[Chunk, None]:
        """Yields the chunks of a streamed answer (`Served.stream`): relayed events as the
        upstream sent them, or canonical chunks.

        A refusal before the first chunk raises before anything is yielded; a failure later
        raises after the chunks sent so far. For canonical chunks the caller's
        `include_usage` decides whether the usage chunk (which the provider may ask for
        regardless, for accounting) is passed on.
        """
        request = served.request
        tracker = StreamUsage()
        async with self._session(served, stream=True) as session:
            task = session.task
            chunks = self._dispatcher.stream(session.job, session.watch.attempts)
            try:
                async for chunk in chunks:
                    if session.answered_at is None:
                        session.answered_at = perf_counter()
                        served.decisions.deployment = session.watch.attempts.served_by
                    if isinstance(chunk, WireEvent):
                        tracker.observe_relayed(chunk.usage, chunk.pieces)
                        session.usage = tracker.usage
                        if chunk.hidden:
                            continue
                    else:
                        tracker.observe(chunk)
                        session.usage = tracker.usage
                        reshaped = self._canonical_chunk(request, chunk)
                        if reshaped is None:
                            continue
                        chunk = reshaped
                    # While the chunk is being sent the task is in the transport's code, where
                    # a cancellation would cut the stream without an error frame: a shutdown
                    # ends the stream when it next waits for the upstream instead.
                    self.drain.leave(task)
                    yield chunk
                    if self.drain.ending:
                        raise shutting_down()
                    self.drain.resume(task)
            finally:
                session.usage = tracker.usage
                await chunks.aclose()

    @staticmethod
    def _canonical_chunk(
        request: GenerationRequest, chunk: CanonicalChunk
    ) -> CanonicalChunk | None:
        """The chunk as the caller gets it: without a usage it did not ask for, and as a
        `text_completion` chunk where it asked for one; None when nothing is left."""
        if not request.include_usage:
            # A usage chunk the caller did not ask for is dropped; `usage: null` too.
            dropped = chunk.pop("usage", None)
            if dropped is not None and not chunk.get("choices"):
                return None
        if request.as_text_completion:  # served as a chat completion
            return completion_chunk_from_chat(as_chat_chunk(chunk))
        return chunk

    @asynccontextmanager
    async def _session(self, served: Served, stream: bool) -> AsyncIterator[_Session]:
        """Routes and admits the call, hands it to its body, and accounts for and settles
        it however the body ends."""
        request, call, decisions = served.request, served.call, served.decisions
        watch = self._watch(request, call)
        status, failure = 200, None
        ticket: Ticket | None = None
        session: _Session | None = None
        task = self.drain.enter()
        try:
            route = self._route(request, call)
            watch.routed()
            ticket = await self._admit(request, route, call)
            decisions.rate_limits = ticket.headers if ticket is not None else ()
            job = Job(route, request, self._upstream_call(call), stream, self._refuse_dropped)
            session = _Session(job, watch, task, Usage(estimated=True))
            yield session
        except BaseException as exc:
            failure = self.drain.error_for(task, exc)
            status = _status_of(failure)
            if failure is not exc:
                raise failure from None
            raise
        finally:
            self.drain.leave(task)
            attempts = watch.attempts
            decisions.deployment = attempts.served_by
            decisions.passthrough, decisions.dropped = attempts.passthrough, attempts.dropped
            usage = session.usage if session is not None else Usage(estimated=True)
            answered_at = session.answered_at if session is not None else None
            started = answered_at is not None or (status == CLIENT_CLOSED and attempts.count)
            if usage.estimated and started:
                # The upstream's usage never arrived, but it took the prompt (and bills it).
                usage = self._with_prompt_estimate(request, ticket, usage)
            if request.served_as is Operation.AUDIO and started and not usage.seconds:
                # Audio heard, its length not reported: as measured at validation.
                heard = request.sizing.get("audio_seconds")
                if heard:
                    usage = dataclasses.replace(usage, seconds=heard)
            price = self._accountant.account(
                request,
                call,
                watch,
                status,
                failure,
                usage,
                answered_at if stream else None,
                session is not None,
            )
            if ticket is not None:
                # Shielded: a second cancellation must not leave tokens reserved.
                await asyncio.shield(self._settle(call, ticket, usage, price))

    def list_models(self, call: CallInfo) -> dict[str, Any]:
        """Returns the models the caller may use, as an OpenAI `list`."""
        return {"object": "list", "data": [m.openai() for m in self.models(call)]}

    def get_model(self, name: str, call: CallInfo) -> dict[str, Any]:
        """Returns one served model as an OpenAI `model`, or raises a 404 or 403."""
        return self.model(name, call).openai()

    def models(self, call: CallInfo) -> list[ServedModel]:
        """The models the caller may use."""
        return served_models(self._router, call, self._accountant.prices)

    def model(self, name: str, call: CallInfo) -> ServedModel:
        """One model the caller may use, or raises a 404 or 403 `GatewayError`."""
        return served_model(self._router, name, call, self._accountant.prices)

    async def count_tokens(self, request: GenerationRequest, call: CallInfo) -> TokenCount:
        """Counts a request's input tokens (see `token_count`)."""
        return await count_tokens(self._router, request, call)

    async def _admit(
        self, request: GenerationRequest, route: ModelRoute, call: CallInfo
    ) -> Ticket | None:
        """Reserves the request against its key's budget and its key's and model's rate
        limits, or raises a 429."""
        caller = call.caller
        scopes = {}
        if caller.rpm is not None or caller.tpm is not None:
            scopes[f"key:{caller.key_id or caller.key_name}"] = Limits(caller.rpm, caller.tpm)
        if route.rpm is not None or route.tpm is not None:
            scopes[f"model:{route.public_name}"] = Limits(route.rpm, route.tpm)
        budget = self._budget_of(call)
        if not (scopes and self._limiter) and budget is None:
            return None
        estimate = estimate_tokens(request.sizing, self._reserved_completion, self._units)
        reserved = Amount(
            sum(estimate),
            self._cost_estimate(route, request, estimate) if budget is not None else 0.0,
        )
        try:
            if budget is not None:
                await budget[0].reserve(budget[1], budget[2], reserved)
            ticket = Ticket((), prompt_estimate=estimate[0])
            if scopes and self._limiter is not None:
                try:
                    ticket = await self._limiter.admit(scopes, estimate)
                except BaseException:
                    if budget is not None:
                        await budget[0].settle(budget[1], budget[2], reserved, Amount(0))
                    raise
        except (GatewayError, asyncio.CancelledError):
            raise
        except Exception:
            # Limits that cannot be checked are not waived: the request waits for the store.
            log.exception("could not check the limits of %s", call.request_id)
            raise limits_unavailable() from None
        ticket.budget_reserved = reserved if budget is not None else None
        return ticket

    def _cost_estimate(
        self, route: ModelRoute, request: GenerationRequest, estimate: tuple[int, int]
    ) -> float:
        """The most the request may cost on any deployment that may serve it (fallbacks
        included), for a cost budget to reserve: nothing for upstream models without a price.
        Images and audio are priced as their own units too (an image model may bill tokens,
        images or both)."""
        usage = Usage(*estimate)
        sizing = request.sizing
        if "images" in sizing or "audio_seconds" in sizing:
            usage.images = bounded(sizing.get("images"), 0)
            usage.image_kind = image_kind(request.body)
            usage.seconds = sizing.get("audio_seconds") or 0.0
        costs = (
            cost(self._accountant.prices, deployment.upstream_model, usage)
            for model in self._router.chain(route)
            for deployment in model.deployments
        )
        return max((c for c in costs if c is not None), default=0.0)

    def _with_prompt_estimate(
        self, request: GenerationRequest, ticket: Ticket | None, usage: Usage
    ) -> Usage:
        """An estimated usage with the prompt estimated too (as admission estimated it),
        unless the upstream had already counted it."""
        if usage.prompt_tokens:
            return usage
        prompt = ticket.prompt_estimate if ticket is not None else estimate_prompt(request.sizing)
        return dataclasses.replace(usage, prompt_tokens=prompt, estimated=True)

    def _budget_of(self, call: CallInfo) -> tuple[Budgets, str, Budget] | None:
        """The ledger, key id and budget of a budgeted virtual key; None otherwise."""
        caller = call.caller
        if self._ledger is None or caller.key_id is None or caller.budget is None:
            return None
        return self._ledger, caller.key_id, caller.budget

    def _watch(self, request: GenerationRequest, call: CallInfo) -> RequestWatch:
        return RequestWatch(
            self._telemetry,
            request.endpoint.value,
            request.model,
            call.transport,
            request.stream,
            call.trace_headers,
            request.caller_body,
            request.surface,
        )

    @staticmethod
    def _upstream_call(call: CallInfo) -> UpstreamCall:
        return UpstreamCall(call.request_id, traceparent=call.trace_headers.get("traceparent"))

    def _route(self, request: GenerationRequest, call: CallInfo) -> ModelRoute:
        model = request.model
        route = self._router.resolve(model)
        if not call.caller.may_use(model):
            raise model_not_allowed(model)
        if request.served_as not in route.operations:
            raise operation_not_served(model, request.served_as.value, list(route.operations))
        return route

    async def _settle(
        self, call: CallInfo, ticket: Ticket, usage: Usage, price: float | None
    ) -> None:
        """Sets the request's rate-limit and budget reservations to what it used."""
        used = self._units.used(usage)
        budget = self._budget_of(call)
        try:  # on failure a reservation counts its estimate until it expires
            if budget is not None and ticket.budget_reserved is not None:
                spent = Amount(used, price or 0.0)
                await budget[0].settle(budget[1], budget[2], ticket.budget_reserved, spent)
            if self._limiter is not None and ticket.tokens is not None:
                await self._limiter.settle(ticket, used)
        except Exception:
            log.exception("could not settle the reservations of %s", call.request_id)
