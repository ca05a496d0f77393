"""Routing: weighted and load-aware spread, retries before the first byte only, fallbacks,
cooldown and recovery, and every timeout. Driven through the dispatcher with scripted
providers, a fake clock and a recorded sleep, so each property is exact and fast."""

from __future__ import annotations

import asyncio
import random
import socket
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest

from llm_gateway.config.settings import (
    DeploymentSettings,
    ModelSettings,
    ProviderSettings,
    RoutingSettings,
)
from llm_gateway.errors import GatewayError
from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.openai import OpenAICompatibleProvider
from llm_gateway.routing import Attempts, Dispatcher, Job, Router, backoff

CHUNKS = [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in ("a", "b", "c")]


def server_error() -> GatewayError:
    return upstream_errors.error_from_upstream(500, b"{}", None)


def rate_limited(retry_after: str | None = None) -> GatewayError:
    return upstream_errors.error_from_upstream(429, b"{}", retry_after)


class ScriptedProvider:
    """A provider whose calls follow a script: each entry is the outcome of one call (an error
    to raise, `"hang"` to never answer, `"stall"` to stop after the first chunk, or None to
    answer). When the script runs out, calls succeed."""

    system = "openai"

    def __init__(self, name: str, *script: Any) -> None:
        self.name = name
        self.script = list(script)
        self.calls = 0
        self.seen: list[UpstreamCall] = []  # the call facts of each attempt

    def _next(self, call: UpstreamCall) -> Any:
        self.calls += 1
        self.seen.append(call)
        return self.script.pop(0) if self.script else None

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        outcome = self._next(call)
        if outcome == "hang":
            await asyncio.sleep(60)
        if isinstance(outcome, GatewayError):
            raise outcome
        return {"served_by": self.name, "model": body["model"]}

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        outcome = self._next(call)
        if outcome == "hang":
            await asyncio.sleep(60)
        if isinstance(outcome, GatewayError):
            raise outcome
        for index, chunk in enumerate(CHUNKS):
            yield {**chunk, "served_by": self.name}
            if outcome == "stall":
                await asyncio.sleep(60)
            if outcome == "fail-after-first" and index == 0:
                raise server_error()

    async def aclose(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A router and dispatcher over scripted providers."""

    def __init__(
        self, models: dict[str, Any], providers: dict[str, ScriptedProvider], **policy: Any
    ) -> None:
        self.policy = RoutingSettings(**{"backoff_seconds": 0.1, **policy})
        self.providers = providers
        settings = {name: ModelSettings.model_validate(m) for name, m in models.items()}
        self.router = Router(settings, providers, self.policy)  # type: ignore[arg-type]
        self.clock = Clock()
        self.sleeps: list[float] = []
        self.dispatcher = Dispatcher(
            self.router.chain, self.policy, random.Random(7), self.clock, self._sleep
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def job(self, model: str) -> Job:
        request = GenerationRequest(Endpoint.CHAT, {"model": model})
        return Job(self.router.resolve(model), request, UpstreamCall("r"))

    def create(self, model: str) -> tuple[dict[str, Any], Attempts]:
        attempts = Attempts()
        answer = asyncio.run(self.dispatcher.create(self.job(model), attempts))
        return answer, attempts

    def stream(self, model: str) -> tuple[list[dict[str, Any]], Attempts, GatewayError | None]:
        attempts, chunks = Attempts(), []

        async def collect() -> GatewayError | None:
            try:
                async for chunk in self.dispatcher.stream(self.job(model), attempts):
                    chunks.append(chunk)
            except GatewayError as error:
                return error
            return None

        error = asyncio.run(collect())
        return chunks, attempts, error


def two_deployments(weights: tuple[float, float] = (1, 1), **extra: Any) -> dict[str, Any]:
    return {
        "m": {
            "deployments": [
                {"provider": "a", "model": "ma", "weight": weights[0], **extra},
                {"provider": "b", "model": "mb", "weight": weights[1], **extra},
            ]
        }
    }


def test_sequential_load_follows_the_weights() -> None:
    harness = Harness(
        two_deployments((3, 1)), {"a": ScriptedProvider("a"), "b": ScriptedProvider("b")}
    )
    served = Counter(harness.create("m")[0]["served_by"] for _ in range(4000))
    assert 0.72 < served["a"] / 4000 < 0.78


def test_busier_deployment_gets_fewer_new_requests() -> None:
    harness = Harness(two_deployments(), {"a": ScriptedProvider("a"), "b": ScriptedProvider("b")})
    busy = harness.router.resolve("m").deployments[0]
    busy.in_flight = 10
    served = Counter(harness.create("m")[0]["served_by"] for _ in range(200))
    assert served["b"] == 200  # two candidates: the less loaded one always wins
    busy.in_flight = 0


@pytest.mark.parametrize(
    "failure",
    [server_error(), rate_limited(), upstream_errors.unreachable(), upstream_errors.timed_out()],
    ids=["500", "429", "connect-error", "timeout"],
)
def test_retryable_failure_before_the_first_byte_is_retried(failure: GatewayError) -> None:
    only = {"m": {"provider": "a", "model": "ma"}}
    provider = ScriptedProvider("a", failure)
    harness = Harness(only, {"a": provider}, retries=2)
    answer, attempts = harness.create("m")
    assert answer["served_by"] == "a" and attempts.count == 2 and provider.calls == 2
    assert len(harness.sleeps) == 1 and 0 <= harness.sleeps[0] <= 0.1  # jitter under the base
    provider.script = [failure]
    chunks, attempts, error = harness.stream("m")
    assert error is None and len(chunks) == 3 and attempts.count == 2


def test_retry_goes_to_another_deployment_first() -> None:
    a, b = ScriptedProvider("a", server_error()), ScriptedProvider("b", server_error())
    harness = Harness(two_deployments(), {"a": a, "b": b}, retries=1)
    with pytest.raises(GatewayError):
        harness.create("m")
    assert (a.calls, b.calls) == (1, 1)


class _Ceiling(random.Random):
    """Draws the top of every range: the backoff's ceiling itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_the_backoff_ceiling_doubles_up_to_its_maximum() -> None:
    policy = RoutingSettings(backoff_seconds=0.25, max_backoff_seconds=1.5)
    ceilings = [backoff.delay(policy, attempt, None, _Ceiling()) for attempt in range(1, 6)]
    assert ceilings == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert backoff.delay(policy, 1, 3.0, _Ceiling()) == 3.0  # Retry-After is a floor
    assert backoff.delay(policy, 3, 0.1, _Ceiling()) == 1.0


def test_a_deployments_connect_timeout_reaches_its_upstream_calls() -> None:
    a, b = ScriptedProvider("a", server_error()), ScriptedProvider("b")
    models = {
        "timed": {"provider": "a", "model": "ma", "connect_timeout": 0.5},
        "default": {"provider": "b", "model": "mb"},
    }
    harness = Harness(models, {"a": a, "b": b}, retries=1, cooldown_failures=10)
    for model in ("timed", "default"):
        harness.create(model)  # on "timed": a failed attempt, then its retry
        harness.stream(model)
    assert [c.connect_timeout for c in a.seen] == [0.5, 0.5, 0.5]
    assert [c.connect_timeout for c in b.seen] == [None, None]


def test_backoff_grows_and_honours_retry_after() -> None:
    provider = ScriptedProvider("a", server_error(), server_error(), server_error())
    only = {"m": {"provider": "a", "model": "ma"}}
    harness = Harness(only, {"a": provider}, retries=3, cooldown_failures=10)
    harness.create("m")
    ceilings = [0.1, 0.2, 0.4]
    assert all(0 <= s <= c for s, c in zip(harness.sleeps, ceilings, strict=True))
    provider.script = [rate_limited("2")]
    harness.sleeps.clear()
    harness.create("m")
    assert harness.sleeps == [2.0]  # the upstream's Retry-After, not the shorter backoff


def test_retry_after_beyond_the_limit_is_not_waited_for() -> None:
    provider = ScriptedProvider("a", rate_limited("120"))
    harness = Harness(
        {"m": {"provider": "a", "model": "ma"}},
        {"a": provider},
        retries=3,
        max_retry_after_seconds=30,
    )
    with pytest.raises(GatewayError) as caught:
        harness.create("m")
    assert caught.value.status == 429 and caught.value.retry_after == "120"
    assert provider.calls == 1 and harness.sleeps == []


def test_client_errors_are_not_retried() -> None:
    bad = upstream_errors.error_from_upstream(400, b'{"error": {"message": "bad"}}', None)
    provider = ScriptedProvider("a", bad)
    harness = Harness({"m": {"provider": "a", "model": "ma"}}, {"a": provider}, retries=3)
    with pytest.raises(GatewayError) as caught:
        harness.create("m")
    assert caught.value.status == 400 and provider.calls == 1


def test_a_started_stream_is_never_replayed() -> None:
    provider = ScriptedProvider("a", "fail-after-first")
    harness = Harness({"m": {"provider": "a", "model": "ma"}}, {"a": provider}, retries=3)
    chunks, attempts, error = harness.stream("m")
    assert len(chunks) == 1 and error is not None and error.status == 502
    assert attempts.count == 1 and provider.calls == 1
    assert harness.router.resolve("m").deployments[0].in_flight == 0


def test_fallbacks_are_tried_in_order() -> None:
    models = {
        "m": {"provider": "a", "model": "ma", "fallbacks": ["f1", "f2"]},
        "f1": {"provider": "b", "model": "mb"},
        "f2": {"provider": "c", "model": "mc"},
    }
    a = ScriptedProvider("a", server_error(), server_error())
    b = ScriptedProvider("b", upstream_errors.unreachable(), upstream_errors.unreachable())
    c = ScriptedProvider("c")
    harness = Harness(models, {"a": a, "b": b, "c": c}, retries=1)
    answer, attempts = harness.create("m")
    assert answer == {"served_by": "c", "model": "mc"}
    assert (a.calls, b.calls, c.calls, attempts.count) == (2, 2, 1, 5)
    assert attempts.deployment is not None and attempts.deployment.name == "c/mc"
    assert len(harness.sleeps) == 2  # a backoff within each model, none between models
    in_flight = [d.in_flight for r in harness.router.routes() for d in r.deployments]
    assert in_flight == [0, 0, 0]  # every attempt, failed or not, is counted out again


def test_cooldown_takes_a_deployment_out_and_brings_it_back() -> None:
    a = ScriptedProvider("a", server_error(), server_error())
    b = ScriptedProvider("b")
    harness = Harness(
        two_deployments(), {"a": a, "b": b}, retries=0, cooldown_failures=2, cooldown_seconds=10
    )
    served = []
    while a.calls < 2:  # until `a` has failed twice
        try:
            served.append(harness.create("m")[0]["served_by"])
        except GatewayError:
            served.append("error")
    assert served.count("error") == 2
    # Cooling: every request goes to `b`, whatever the weights say.
    assert {harness.create("m")[0]["served_by"] for _ in range(50)} == {"b"}
    harness.clock.now += 10
    assert "a" in {harness.create("m")[0]["served_by"] for _ in range(50)}  # back in rotation


def test_all_deployments_cooling_is_a_503_with_retry_after() -> None:
    provider = ScriptedProvider("a", server_error())
    harness = Harness(
        {"m": {"provider": "a", "model": "ma"}},
        {"a": provider},
        retries=0,
        cooldown_failures=1,
        cooldown_seconds=30,
    )
    with pytest.raises(GatewayError) as first:
        harness.create("m")
    # An upstream failure names the provider (an operator's first question), never a URL.
    assert first.value.message.endswith("(provider a).")
    harness.clock.now += 5
    with pytest.raises(GatewayError) as caught:
        harness.create("m")
    assert caught.value.status == 503 and caught.value.code == "no_healthy_deployment"
    assert caught.value.retry_after == "25" and provider.calls == 1
    # ... and says why every deployment is out of rotation, and for how long.
    assert "a/ma (provider a): upstream_error" in caught.value.message
    assert "back in 25s" in caught.value.message


def test_first_byte_timeout_counts_as_a_retryable_failure() -> None:
    models = two_deployments(first_byte_timeout=0.05)
    a, b = ScriptedProvider("a", "hang", "hang"), ScriptedProvider("b", "hang", "hang")
    harness = Harness(models, {"a": a, "b": b}, retries=1)
    with pytest.raises(GatewayError) as caught:
        harness.create("m")
    assert caught.value.status == 504 and (a.calls, b.calls) == (1, 1)
    chunks, attempts, error = harness.stream("m")
    assert chunks == [] and error is not None and error.status == 504 and attempts.count == 2
    assert "did not start" in error.message


def test_idle_timeout_ends_a_stalled_stream() -> None:
    provider = ScriptedProvider("a", "stall")
    models = {"m": {"provider": "a", "model": "ma", "idle_timeout": 0.05}}
    harness = Harness(models, {"a": provider}, retries=2)
    chunks, attempts, error = harness.stream("m")
    assert len(chunks) == 1 and attempts.count == 1
    assert error is not None and error.status == 504 and "stalled" in error.message


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose SYNs go unanswered: a listener with a full backlog that never accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


def test_connect_timeout_of_a_deployment(unanswered_port: int) -> None:
    settings = ProviderSettings(
        type="openai", base_url=f"http://127.0.0.1:{unanswered_port}/v1", connect_timeout=30
    )
    provider = OpenAICompatibleProvider("slow-net", settings)
    deployment = DeploymentSettings(provider="p", model="m", connect_timeout=0.2)

    async def call() -> GatewayError:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await provider.create(
                Endpoint.CHAT, {"model": "m"}, UpstreamCall("r", deployment.connect_timeout)
            )
        except GatewayError as error:
            assert loop.time() - started < 5  # the deployment's 0.2 s, not the provider's 30 s
            return error
        finally:
            await provider.aclose()
        raise AssertionError("the call did not time out")

    error = asyncio.run(call())
    assert error.status == 504 and error.code == "upstream_timeout"
