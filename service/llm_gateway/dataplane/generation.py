"""Serves generation requests (unary and streamed) and lists models."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping
from time import perf_counter
from typing import Any

from llm_gateway.config.settings import Price
from llm_gateway.dataplane.call import CallInfo
from llm_gateway.errors import (
    GatewayError,
    error_type,
    limits_unavailable,
    model_not_allowed,
    shutting_down,
)
from llm_gateway.limits import Limits, RateLimiter, Ticket, estimate_prompt, estimate_tokens
from llm_gateway.limits.budget import Amount, Budget, Budgets
from llm_gateway.logs import log_request
from llm_gateway.model.request import GenerationRequest
from llm_gateway.model.text_completion import completion_chunk_from_chat, completion_from_chat
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.routing import Dispatcher, Job, ModelRoute, Router
from llm_gateway.telemetry import RequestWatch, Telemetry
from llm_gateway.usage.accounting import StreamUsage, Usage, usage_of
from llm_gateway.usage.pricing import cost
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.records import UsageRecord

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499


def _model_object(route: ModelRoute) -> dict[str, Any]:
    return {
        "id": route.public_name,
        "object": "model",
        "created": route.created,
        "owned_by": route.owned_by,
    }


def _status_of(failure: BaseException) -> int:
    """The HTTP status a failure is reported (or logged) with."""
    if isinstance(failure, GatewayError):
        return failure.status
    if isinstance(failure, asyncio.CancelledError | GeneratorExit):
        return CLIENT_CLOSED
    return 500


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
        ledger: Budgets | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._router = router
        self._dispatcher = dispatcher
        self._log_prompts = log_prompts
        self._recorder = recorder
        self._prices = prices or {}
        self._limiter = limiter
        self._reserved_completion = reserved_completion_tokens
        self._ledger = ledger
        self._telemetry = telemetry or Telemetry()
        # The tasks serving generations where a cancellation lands in this module's code
        # (not while a stream's chunk is being sent), and those `end_running` has cancelled.
        self._running: set[asyncio.Task[Any]] = set()
        self._ended: set[asyncio.Task[Any]] = set()
        self._ending = False

    async def generate(self, request: GenerationRequest, call: CallInfo) -> dict[str, Any]:
        """Returns the whole answer to a request that does not stream."""
        watch = self._watch(request, call)
        status, usage, failure = 200, Usage(estimated=True), None
        ticket: Ticket | None = None
        admitted = False
        task = self._running_task()
        try:
            route = self._route(request.model, call)
            watch.routed()
            ticket = await self._admit(request, route, call)
            admitted = True
            body = dict(request.body)
            body.pop("stream", None)
            body.pop("stream_options", None)
            job = Job(route, request.endpoint, body, self._upstream_call(call))
            answer = await self._dispatcher.create(job, watch.attempts)
            usage = usage_of(answer)
            if usage.estimated:  # an upstream that reports no usage still counted the prompt
                usage = self._with_prompt_estimate(request, ticket, usage)
            return completion_from_chat(answer) if request.as_text_completion else answer
        except BaseException as exc:
            failure = self._shutdown_error(task, exc)
            status = _status_of(failure)
            if failure is not exc:
                raise failure from None
            raise
        finally:
            self._running.discard(task)
            call.deployment = watch.attempts.served_by
            if status == CLIENT_CLOSED and usage.estimated and watch.attempts.count:
                # Cancelled while the upstream worked on it: the prompt was billed.
                usage = self._with_prompt_estimate(request, ticket, usage)
            price = self._account(request, call, watch, status, failure, usage, None, admitted)
            if ticket is not None:
                await asyncio.shield(self._settle(call, ticket, usage, price))

    async def stream(
        self, request: GenerationRequest, call: CallInfo
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yields the chunks of a streamed answer.

        A refusal before the first chunk raises before anything is yielded; a failure later
        raises after the chunks sent so far. The caller's `include_usage` decides whether the
        usage chunk (which the provider may ask for regardless, for accounting) is passed on.
        """
        watch = self._watch(request, call)
        wants_usage = request.include_usage
        as_text = request.as_text_completion
        tracker = StreamUsage()
        status, first_chunk_at, failure = 200, None, None
        ticket: Ticket | None = None
        admitted = False
        chunks: AsyncGenerator[dict[str, Any], None] | None = None
        task = self._running_task()
        try:
            route = self._route(request.model, call)
            watch.routed()
            ticket = await self._admit(request, route, call)
            admitted = True
            body = {**request.body, "stream": True}
            job = Job(route, request.endpoint, body, self._upstream_call(call))
            chunks = self._dispatcher.stream(job, watch.attempts)
            async for chunk in chunks:
                if first_chunk_at is None:
                    first_chunk_at = perf_counter()
                    call.deployment = watch.attempts.served_by
                tracker.observe(chunk)
                # A usage chunk the caller did not ask for is dropped; `usage: null` too.
                dropped = chunk.pop("usage", None) if not wants_usage else None
                if dropped is not None and not chunk.get("choices"):
                    continue
                if as_text:
                    reshaped = completion_chunk_from_chat(chunk)
                    if reshaped is None:
                        continue
                    chunk = reshaped
                # While the chunk is being sent the task is in the transport's code, where a
                # cancellation would cut the stream without an error frame: a shutdown ends
                # the stream when it next waits for the upstream instead.
                self._running.discard(task)
                yield chunk
                if self._ending:
                    raise shutting_down()
                self._running.add(task)
        except BaseException as exc:
            failure = self._shutdown_error(task, exc)
            status = _status_of(failure)
            if failure is not exc:
                raise failure from None
            raise
        finally:
            self._running.discard(task)
            if chunks is not None:
                await chunks.aclose()
            call.deployment = watch.attempts.served_by
            usage = tracker.usage
            if usage.estimated and (first_chunk_at is not None or status == CLIENT_CLOSED):
                # The upstream's usage never arrived, but it took the prompt (and bills it).
                usage = self._with_prompt_estimate(request, ticket, usage)
            price = self._account(
                request, call, watch, status, failure, usage, first_chunk_at, admitted
            )
            if ticket is not None:
                # Shielded: a second cancellation must not leave tokens reserved.
                await asyncio.shield(self._settle(call, ticket, usage, price))

    def list_models(self, call: CallInfo) -> dict[str, Any]:
        """Returns the models the caller may use, as an OpenAI `list`."""
        routes = [r for r in self._router.routes() if call.caller.may_use(r.public_name)]
        return {"object": "list", "data": [_model_object(r) for r in routes]}

    def get_model(self, name: str, call: CallInfo) -> dict[str, Any]:
        """Returns one served model, or raises a 404 or 403 `GatewayError`."""
        return _model_object(self._route(name, call))

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
        estimate = estimate_tokens(request.body, self._reserved_completion)
        reserved = Amount(
            sum(estimate), self._cost_estimate(route, estimate) if budget is not None else 0.0
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
        call.rate_limits = ticket.headers
        return ticket

    def _cost_estimate(self, route: ModelRoute, estimate: tuple[int, int]) -> float:
        """The most the request may cost on any deployment that may serve it (fallbacks
        included), for a cost budget to reserve: nothing for upstream models without a price."""
        usage = Usage(*estimate)
        costs = (
            cost(self._prices, deployment.upstream_model, usage)
            for model in self._router.chain(route)
            for deployment in model.deployments
        )
        return max((c for c in costs if c is not None), default=0.0)

    def _with_prompt_estimate(
        self, request: GenerationRequest, ticket: Ticket | None, usage: Usage
    ) -> Usage:
        """An estimated usage with the prompt estimated too (as admission estimated it)."""
        prompt = ticket.prompt_estimate if ticket is not None else estimate_prompt(request.body)
        return Usage(prompt, usage.completion_tokens, estimated=True)

    def _budget_of(self, call: CallInfo) -> tuple[Budgets, str, Budget] | None:
        """The ledger, key id and budget of a budgeted virtual key; None otherwise."""
        caller = call.caller
        if self._ledger is None or caller.key_id is None or caller.budget is None:
            return None
        return self._ledger, caller.key_id, caller.budget

    def end_running(self) -> int:
        """Ends every generation still running with a 503 `shutting_down` error (an error
        frame for a stream that has started); returns how many were waiting for an upstream
        (the streams sending a chunk right then end before their next one)."""
        self._ending = True
        for task in self._running:
            self._ended.add(task)
            task.cancel()
        return len(self._running)

    def _running_task(self) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        assert task is not None, "the data plane runs in a task"
        self._running.add(task)
        return task

    def _shutdown_error(self, task: asyncio.Task[Any], failure: BaseException) -> BaseException:
        """The error to report: a shutdown's cancellation becomes `shutting_down`."""
        if isinstance(failure, asyncio.CancelledError) and task in self._ended:
            self._ended.discard(task)
            task.uncancel()  # the task goes on, to send the error
            return shutting_down()
        return failure

    def _watch(self, request: GenerationRequest, call: CallInfo) -> RequestWatch:
        return RequestWatch(
            self._telemetry,
            request.endpoint.value,
            request.model,
            call.transport,
            request.stream,
            call.trace_headers,
            request.body,
        )

    @staticmethod
    def _upstream_call(call: CallInfo) -> UpstreamCall:
        return UpstreamCall(call.request_id, traceparent=call.trace_headers.get("traceparent"))

    def _route(self, model: str, call: CallInfo) -> ModelRoute:
        route = self._router.resolve(model)
        if not call.caller.may_use(model):
            raise model_not_allowed(model)
        return route

    def _account(
        self,
        request: GenerationRequest,
        call: CallInfo,
        watch: RequestWatch,
        status: int,
        failure: BaseException | None,
        usage: Usage,
        first_chunk_at: float | None,
        admitted: bool,
    ) -> float | None:
        """Writes the request's log line, metrics and span, and hands the usage record of an
        admitted request to the recorder; returns its cost, if known."""
        attempts = watch.attempts
        deployment = attempts.deployment
        upstream_model = deployment.upstream_model if deployment else None
        price = cost(self._prices, upstream_model, usage)
        now = perf_counter()
        ttft = None if first_chunk_at is None else first_chunk_at - call.started
        watch.finish(
            status,
            failure,
            now - call.started,
            ttft,
            usage.prompt_tokens,
            usage.completion_tokens,
            price,
        )
        latency_ms = round((now - call.started) * 1000, 2)
        ttft_ms = None if ttft is None else round(ttft * 1000, 2)
        fields: dict[str, Any] = {
            "event": "request",
            "request_id": call.request_id,
            "caller": call.caller.key_name,
            "transport": call.transport,
            "endpoint": request.endpoint.value,
            "model": request.model,
            "deployment": attempts.served_by,
            "upstream": deployment.provider.name if deployment else None,
            "upstream_model": upstream_model,
            "attempts": attempts.count,
            "stream": request.stream,
            "status": status,
            "cancelled": status == CLIENT_CLOSED,
            "latency_ms": latency_ms,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "usage_estimated": usage.estimated,
        }
        if failure is not None:
            fields["error"] = error_type(failure)
        if watch.trace_id is not None:
            fields["trace_id"] = watch.trace_id
        if ttft_ms is not None:
            fields["ttft_ms"] = ttft_ms
        if price is not None:
            fields["cost"] = price
        if self._log_prompts:
            fields["body"] = request.body
        log_request(fields)
        if self._recorder is not None and admitted:
            self._recorder.record(
                UsageRecord(
                    request_id=call.request_id,
                    key_name=call.caller.key_name,
                    key_id=call.caller.key_id,
                    model=request.model,
                    deployment=attempts.served_by,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cached_tokens=usage.cached_tokens,
                    cost=price,
                    latency_ms=latency_ms,
                    ttft_ms=ttft_ms,
                    status=status,
                    cancelled=status == CLIENT_CLOSED,
                    estimated=usage.estimated,
                    transport=call.transport,
                )
            )
        return price

    async def _settle(
        self, call: CallInfo, ticket: Ticket, usage: Usage, price: float | None
    ) -> None:
        """Sets the request's rate-limit and budget reservations to what it used."""
        used = usage.total_tokens
        budget = self._budget_of(call)
        try:  # on failure a reservation counts its estimate until it expires
            if budget is not None and ticket.budget_reserved is not None:
                spent = Amount(used, price or 0.0)
                await budget[0].settle(budget[1], budget[2], ticket.budget_reserved, spent)
            if self._limiter is not None and ticket.tokens is not None:
                await self._limiter.settle(ticket, used)
        except Exception:
            log.exception("could not settle the reservations of %s", call.request_id)
