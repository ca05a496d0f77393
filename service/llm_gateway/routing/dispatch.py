"""Sends a request to a deployment, and on failure to another: retries, fallbacks, timeouts.

An attempt that fails with a retryable error (connect error, timeout, 429, 5xx) before the
caller has received anything is followed by another: on an untried deployment of the same
model if one is in rotation, else on the same one after a jittered backoff that honours
`Retry-After`; once the model's attempts are spent, on its fallbacks in order. A stream that
has yielded its first chunk is never replayed: a later failure reaches the caller.

Each attempt decides how its deployment is spoken to: a caller of the deployment's own API
family is passed through (its request as it sent it, the answer as the upstream sent it);
anyone else goes through the canonical model, translated on first need.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from llm_gateway.config.settings import RoutingSettings
from llm_gateway.errors import GatewayError, error_type, invalid_request
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import CanonicalAnswer, CanonicalChunk, CanonicalRequest
from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall, takes_as_sent
from llm_gateway.routing.backoff import delay, is_retryable, retry_after_seconds
from llm_gateway.routing.balancer import choose
from llm_gateway.routing.deployment import Deployment
from llm_gateway.routing.router import ModelRoute

Clock = Callable[[], float]
# The endpoints whose requests say `stream: true` to stream (speech streams without asking).
_GENERATIONS = (Endpoint.CHAT, Endpoint.COMPLETIONS)
Sleep = Callable[[float], Awaitable[None]]
# A canonical chunk, or an event relayed as the upstream sent it.
Chunk = CanonicalChunk | WireEvent
Chunks = AsyncGenerator[Chunk, None]
# A canonical answer, or one relayed as the upstream sent it.
Answer = CanonicalAnswer | WireAnswer
T = TypeVar("T")
# Marks the end of a stream (one that ends before its first chunk is an empty answer, not a
# failure); compared by identity.
_END: Chunk = WireEvent(b"")


class AttemptObserver(Protocol):
    """Watches each upstream attempt of one request (tracing does)."""

    def opened(self, deployment: Deployment) -> str | None:
        """An attempt starts; returns the `traceparent` to send with it, if any."""
        ...

    def closed(self, error: BaseException | None) -> None:
        """The attempt ended, with `error` unless it succeeded."""
        ...


@dataclass(slots=True)
class Attempts:
    """What the dispatcher did for one request: the attempts made, their failures and the
    deployment of the last one (the one that served the answer, when it succeeded)."""

    count: int = 0
    deployment: Deployment | None = None
    # How the last attempt spoke to its upstream: passed through, or translated with these
    # of the caller's fields left out (named as the caller named them).
    passthrough: bool = False
    dropped: tuple[str, ...] = ()
    # (deployment, error type) of each failed attempt, in order.
    failures: list[tuple[str, str]] = field(default_factory=list)
    observer: AttemptObserver | None = None

    @property
    def served_by(self) -> str | None:
        """The name of the last deployment tried."""
        return self.deployment.name if self.deployment else None

    def opened(self, deployment: Deployment) -> str | None:
        """Reports an attempt's start; returns the `traceparent` to send with it, if any."""
        return self.observer.opened(deployment) if self.observer is not None else None

    def closed(self, deployment: Deployment, error: BaseException | None) -> None:
        """Reports an attempt's end."""
        if isinstance(error, GatewayError):
            self.failures.append((deployment.name, error_type(error)))
        if self.observer is not None:
            self.observer.closed(error)


class _Plan:
    """The order of attempts for one request."""

    def __init__(
        self,
        chain: list[ModelRoute],
        policy: RoutingSettings,
        rng: random.Random,
        clock: Clock,
        sleep: Sleep,
        attempts: Attempts,
    ) -> None:
        self._chain, self._policy, self._rng, self._clock = chain, policy, rng, clock
        self._sleep = sleep
        self._attempts = attempts
        self._position = 0  # in the chain
        self._tries = 0  # of the current model
        self._tried: set[Deployment] = set()
        self._last_error: GatewayError | None = None

    def next(self) -> Deployment:
        """The deployment of the next attempt; raises the error to report when none is left."""
        now = self._clock()
        while self._position < len(self._chain):
            if self._tries <= self._policy.retries:
                ready = [d for d in self._chain[self._position].deployments if d.available(now)]
                fresh = [d for d in ready if d not in self._tried] or ready
                if fresh:
                    chosen = choose(fresh, self._rng)
                    self._tries += 1
                    self._tried.add(chosen)
                    self._attempts.count += 1
                    self._attempts.deployment = chosen
                    return chosen
            self._position, self._tries = self._position + 1, 0
            self._tried.clear()
        raise self._last_error or self._nothing_in_rotation(now)

    async def failed(self, deployment: Deployment, error: GatewayError) -> None:
        """Raises `error` when it must reach the caller; otherwise waits for the next attempt."""
        if not is_retryable(error):
            raise error
        now = self._clock()
        deployment.failed(now, error.code)
        self._last_error = error
        if self._tries > self._policy.retries:
            return  # the next attempt is a fallback's: no reason to wait
        route = self._chain[self._position]
        elsewhere = any(d.available(now) and d not in self._tried for d in route.deployments)
        retry_after = None if elsewhere else retry_after_seconds(error.retry_after)
        if retry_after is not None and retry_after > self._policy.max_retry_after_seconds:
            self._tries = self._policy.retries + 1  # not worth waiting for: go to the fallbacks
            return
        await self._sleep(delay(self._policy, self._tries, retry_after, self._rng))

    def _nothing_in_rotation(self, now: float) -> GatewayError:
        cooling = [d for r in self._chain for d in r.deployments]
        soonest = min(d.cooling_until for d in cooling)
        reasons = sorted(
            {f"{d.name} (provider {d.provider.name}): {d.last_failure}" for d in cooling}
        )
        wait = max(1, round(soonest - now))
        return GatewayError(
            503,
            "Every deployment of this model is cooling down after repeated failures; the "
            f"latest of each: {'; '.join(reasons)}. The first is back in {wait}s.",
            code="no_healthy_deployment",
            retry_after=str(wait),
        )


@dataclass(frozen=True, slots=True)
class Job:
    """One request to dispatch: the model's route, the request, the facts that travel
    upstream, whether it streams, and whether a translation that would leave out a field of
    the caller's is refused (a 400 naming it) rather than served and reported."""

    route: ModelRoute
    request: GenerationRequest
    call: UpstreamCall
    stream: bool = False
    refuse_dropped: bool = False

    @property
    def endpoint(self) -> Endpoint:
        """The canonical operation."""
        return self.request.endpoint

    def passes_through(self, deployment: Deployment) -> bool:
        """Whether `deployment` speaks the caller's API and so gets its request as sent."""
        provider = deployment.provider
        wire = self.request.wire
        if wire is None or not wire.relayable or not getattr(provider, "passthrough", False):
            return False
        return takes_as_sent(provider, wire.family)

    def canonical(self, deployment: Deployment) -> tuple[CanonicalRequest, tuple[str, ...]]:
        """The canonical body for an attempt on `deployment`, and what it leaves out."""
        translation = self.request.translation()
        dropped = translation.dropped
        if self.request.family in (ApiFamily.OPENAI, ApiFamily.RESPONSES):
            # An OpenAI caller's platform hints (`prompt_cache_key`, ...) that another API
            # has no place for.
            left_out = getattr(deployment.provider, "left_out", None)
            dropped += left_out(translation.body) if left_out is not None else ()
        if dropped and self.refuse_dropped:
            raise invalid_request(
                f"'{dropped[0]}' cannot be carried to this model's provider "
                f"({deployment.provider.name}), which speaks another API.",
                dropped[0],
                "unsupported_parameter",
            )
        body: dict[str, Any] = {**translation.body, "model": deployment.upstream_model}
        messages = body.get("messages")
        if isinstance(messages, list) and not getattr(
            deployment.provider, "takes_reasoning_signatures", False
        ):
            body["messages"] = reasoning.without_signatures(messages)
        if self.stream and self.endpoint in _GENERATIONS:
            body["stream"] = True
        elif not self.stream:
            body.pop("stream", None)
            body.pop("stream_options", None)
        # The caller's request with the gateway's own fields set: still of its kind.
        return cast(CanonicalRequest, body), dropped

    def upstream_call(self, deployment: Deployment, traceparent: str | None) -> UpstreamCall:
        """The call facts of an attempt on `deployment`; the attempt's own trace context, if
        it has one, replaces the caller's."""
        return UpstreamCall(
            self.call.request_id, deployment.connect_timeout, traceparent or self.call.traceparent
        )


def _attempt(
    job: Job, deployment: Deployment, attempts: Attempts
) -> tuple[CanonicalRequest | None, UpstreamCall]:
    """Decides how an attempt on `deployment` speaks to it, and records the decision: the
    canonical body to send, or None to pass the caller's request through; and the call facts.
    A translation the policy refuses raises before the attempt opens."""
    body: CanonicalRequest | None = None
    if job.passes_through(deployment):
        attempts.passthrough, attempts.dropped = True, ()
    else:
        body, dropped = job.canonical(deployment)
        attempts.passthrough, attempts.dropped = False, dropped
    return body, job.upstream_call(deployment, attempts.opened(deployment))


async def _first_byte(deployment: Deployment, pending: Awaitable[T]) -> T:
    """Awaits the attempt's first answer within the deployment's `first_byte_timeout`."""
    if deployment.first_byte_timeout is None:
        return await pending
    try:
        async with asyncio.timeout(deployment.first_byte_timeout):
            return await pending
    except TimeoutError:
        raise upstream_errors.first_byte_timed_out() from None


async def _next(deployment: Deployment, chunks: Chunks) -> Chunk:
    """The next chunk within the deployment's `idle_timeout` (`_END` at the end)."""
    try:
        async with asyncio.timeout(deployment.idle_timeout):
            return await anext(chunks, _END)
    except TimeoutError:
        raise upstream_errors.idle_timed_out() from None


def _naming_provider(error: GatewayError, deployment: Deployment) -> GatewayError:
    """An upstream failure (5xx) as the caller sees it: with the provider's name, so that an
    operator knows where to look (never a URL or a key). Refusals (4xx) stay as they are."""
    if error.status < 500 or not (error.code or "").startswith("upstream_"):
        return error
    return GatewayError(
        error.status,
        f"{error.message.removesuffix('.')} (provider {deployment.provider.name}).",
        type=error.type,
        param=error.param,
        code=error.code,
        retry_after=error.retry_after,
        headers=error.headers,
    )


class Dispatcher:
    """Runs each request's attempts across deployments and fallbacks."""

    def __init__(
        self,
        chain: Callable[[ModelRoute, str], list[ModelRoute]],
        policy: RoutingSettings,
        rng: random.Random | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._chain = chain
        self._policy = policy
        self._rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep

    def _plan(self, job: Job, attempts: Attempts) -> _Plan:
        return _Plan(
            self._chain(job.route, job.request.served_as),
            self._policy,
            self._rng,
            self._clock,
            self._sleep,
            attempts,
        )

    async def create(self, job: Job, attempts: Attempts) -> Answer:
        """Returns the first whole answer an attempt gets."""
        plan = self._plan(job, attempts)
        while True:
            deployment = plan.next()
            provider = deployment.provider
            body, call = _attempt(job, deployment, attempts)
            pending: Awaitable[Answer]
            if body is None:
                assert job.request.wire is not None
                pending = provider.relay(job.request.wire, deployment.upstream_model, call)
            else:
                pending = provider.create(job.endpoint, body, call)
            deployment.in_flight += 1
            outcome: BaseException | None = None
            try:
                answer: Answer = await _first_byte(deployment, pending)
            except GatewayError as error:
                failure = outcome = _naming_provider(error, deployment)
            except BaseException as error:
                outcome = error
                raise
            else:
                deployment.succeeded()
                return answer
            finally:
                deployment.in_flight -= 1
                attempts.closed(deployment, outcome)
            await plan.failed(deployment, failure)  # raises, or waits before the next attempt

    async def stream(self, job: Job, attempts: Attempts) -> Chunks:
        """Yields the chunks of the first attempt that produces one; retries only before it."""
        plan = self._plan(job, attempts)
        while True:
            deployment = plan.next()
            provider = deployment.provider
            body, call = _attempt(job, deployment, attempts)
            chunks: Chunks
            if body is None:
                assert job.request.wire is not None
                chunks = provider.relay_stream(job.request.wire, deployment.upstream_model, call)
            else:
                chunks = provider.stream(job.endpoint, body, call)
            deployment.in_flight += 1
            outcome: BaseException | None = None
            try:
                try:
                    first: Chunk = await _first_byte(deployment, anext(chunks, _END))
                except GatewayError as error:
                    failure = outcome = _naming_provider(error, deployment)
                else:
                    if first is not _END:
                        yield first
                        try:
                            if deployment.idle_timeout is None:
                                async for chunk in chunks:
                                    yield chunk
                            else:
                                while (chunk := await _next(deployment, chunks)) is not _END:
                                    yield chunk
                        except GatewayError as error:
                            if is_retryable(error):  # the deployment's fault, though not retried
                                deployment.failed(self._clock(), error.code)
                            raise _naming_provider(error, deployment) from None
                    deployment.succeeded()
                    return
            except BaseException as error:
                outcome = error
                raise
            finally:
                deployment.in_flight -= 1
                attempts.closed(deployment, outcome)
                await chunks.aclose()
            await plan.failed(deployment, failure)  # raises, or waits before the next attempt
