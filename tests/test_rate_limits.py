"""Requests and tokens per minute, per key and per model: reservations at admission,
settlement at the end, OpenAI's 429 and `x-ratelimit-*` headers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import openai
import pytest
import requests
from redis.asyncio import Redis

from llm_gateway.errors import GatewayError
from llm_gateway.limits import Limiter, Limits, RateLimiter, Units, estimate_tokens
from llm_gateway.limits.budget import Amount, Budget, BudgetLedger, Budgets, Spent, period_start
from llm_gateway.limits.shared import RedisLimiter
from llm_gateway.limits.shared_budget import RedisBudgets
from llm_gateway.model.token_counts import MAX_TOKEN_COUNT
from llm_gateway.usage.accounting import Usage
from llm_gateway.v1 import chat_pb2
from tests.support.grpc_client import stub
from tests.support.scripted_transcriptions import wav
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack, free_port, stack_config, start_stack
from tests.test_virtual_keys import SECRET, keys_cli, sdk


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_slide() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    scopes = {"key:a": Limits(rpm=3)}

    async def scenario() -> None:
        for _ in range(3):
            await limiter.admit(scopes, (10, 10))
            clock.now += 10
        with pytest.raises(GatewayError) as caught:
            await limiter.admit(scopes, (10, 10))
        assert caught.value.status == 429 and caught.value.code == "rate_limit_requests"
        assert caught.value.retry_after == "30"  # the first request leaves the window at 160
        assert ("x-ratelimit-remaining-requests", "0") in caught.value.headers
        clock.now = 160.0
        ticket = await limiter.admit(scopes, (10, 10))
        assert dict(ticket.headers)["x-ratelimit-remaining-requests"] == "0"
        assert dict(ticket.headers)["x-ratelimit-limit-requests"] == "3"

    asyncio.run(scenario())


@pytest.fixture(params=["in-process", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Callable[[], RateLimiter]:
    """Limiters with a one-second window, so that sliding is quick to observe."""
    if request.param == "in-process":
        return lambda: Limiter(span=1.0)
    url: str = request.getfixturevalue("redis_url")
    return lambda: RedisLimiter(Redis.from_url(url), span=1.0)


def scope() -> str:
    return f"key:{uuid.uuid4().hex}"  # a fresh window in a shared Redis


def test_tokens_are_reserved_then_settled(make_limiter: Callable[[], RateLimiter]) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        scopes = {scope(): Limits(tpm=1000)}
        first = await limiter.admit(scopes, (100, 300))
        await limiter.admit(scopes, (100, 300))
        with pytest.raises(GatewayError) as caught:
            await limiter.admit(scopes, (100, 300))  # 400 more would make 1,200
        assert caught.value.code == "rate_limit_tokens"
        assert ("x-ratelimit-remaining-tokens", "200") in caught.value.headers
        await limiter.settle(first, 50)  # it used far less than it reserved
        ticket = await limiter.admit(scopes, (100, 300))
        assert dict(ticket.headers)["x-ratelimit-remaining-tokens"] == str(1000 - 50 - 400 - 400)
        await asyncio.sleep(1.1)  # the window slides past every reservation
        ticket = await limiter.admit(scopes, (100, 300))
        assert dict(ticket.headers)["x-ratelimit-remaining-tokens"] == "600"

    asyncio.run(scenario())


def test_the_tightest_scope_is_reported_and_any_scope_refuses(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        key, model = scope(), scope().replace("key:", "model:")
        await limiter.admit({key: Limits(rpm=100), model: Limits(rpm=2)}, (1, 1))
        ticket = await limiter.admit({key: Limits(rpm=100), model: Limits(rpm=2)}, (1, 1))
        assert dict(ticket.headers)["x-ratelimit-limit-requests"] == "2"
        with pytest.raises(GatewayError) as caught:
            await limiter.admit({scope(): Limits(rpm=100), model: Limits(rpm=2)}, (1, 1))
        assert 0 < int(caught.value.retry_after or "0") <= 1

    asyncio.run(scenario())


def test_concurrent_admissions_never_overrun(make_limiter: Callable[[], RateLimiter]) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        scopes = {scope(): Limits(rpm=20, tpm=10_000)}

        async def one() -> bool:
            try:
                await limiter.admit(scopes, (100, 400))
            except GatewayError:
                return False
            return True

        admitted = await asyncio.gather(*(one() for _ in range(50)))
        assert sum(admitted) == 20  # 20 requests; 20 x 500 tokens fit in 10,000

    asyncio.run(scenario())


def test_estimate_counts_prompt_size_and_output_limit() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50, "n": 2}
    prompt, completion = estimate_tokens(body, 1024)
    assert 100 <= prompt <= 120 and completion == 100
    assert estimate_tokens({"prompt": "hi"}, 1024)[1] == 1024


def test_estimate_never_reserves_negative_or_absurd_amounts() -> None:
    """Whatever reaches the limiter, a count below zero cannot switch a limit off."""
    messages = [{"role": "user", "content": "hi"}]
    for body in (
        {"messages": messages, "max_tokens": -1_000_000_000},
        {"messages": messages, "max_completion_tokens": -5, "max_tokens": 10},
        {"messages": messages, "max_tokens": 50, "n": -3},
        {"messages": messages, "max_tokens": "many"},
    ):
        prompt, completion = estimate_tokens(body, 1024)
        assert prompt > 0 and completion >= 0, body
    assert estimate_tokens({"messages": messages, "max_tokens": 10**30}, 1024)[1] == MAX_TOKEN_COUNT
    assert estimate_tokens({"messages": messages, "max_tokens": "many"}, 1024)[1] == 1024
    assert estimate_tokens({"prompt": "x", "max_tokens": 0}, 1024)[1] == 0


def test_limiter_still_limits_after_a_negative_estimate() -> None:
    async def scenario() -> None:
        limiter = Limiter()
        scopes = {"key:a": Limits(tpm=2000)}
        await limiter.admit(scopes, estimate_tokens({"prompt": "x", "max_tokens": -(10**9)}, 1024))
        admitted = 0
        for _ in range(60):
            try:
                await limiter.admit(scopes, (4, 200))
                admitted += 1
            except GatewayError:
                pass
        assert admitted == 9  # 9 x 204 fit in 2,000 beside the first (1 prompt token)

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def limited(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("limited")
    config = stack_config(
        upstream.base_url,
        storage={"database": f"sqlite:///{folder}/g.db", "key_secret": SECRET},
    )
    config["models"]["gpt-echo"]["tpm"] = 1_000_000
    config["models"]["org/model-with-slash"]["rpm"] = 5
    # A paced stream of max_tokens=100 may cost 15 (it really costs about 3).
    config["prices"] = {
        "paced": {"input_per_million": 0, "output_per_million": 150_000},
        "dall-e-2": {"per_image": {"1024x1024": 10}},
    }
    stack = start_stack(folder, config)
    yield stack
    stack.stop()


def burst(client: openai.OpenAI, model: str, count: int, **extra: object) -> list[object]:
    def call(_: int) -> object:
        try:
            return client.chat.completions.with_raw_response.create(
                model=model,
                messages=[{"role": "user", "content": "hi"}],
                **extra,  # type: ignore[arg-type]
            )
        except openai.RateLimitError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def test_fifty_concurrent_requests_never_overrun_a_key_rpm(limited: Stack) -> None:
    created = keys_cli(
        Path(limited.log_path.parent / "gateway.yaml"), "create", "--name", "r20", "--rpm", "20"
    )
    results = burst(sdk(limited, created["key"]), "gpt-echo", 50)
    admitted = [r for r in results if not isinstance(r, openai.RateLimitError)]
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(admitted) == 20 and len(refused) == 30
    error = refused[0]
    assert error.body["code"] == "rate_limit_requests"  # type: ignore[index]
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    remaining = sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in admitted)  # type: ignore[attr-defined]
    assert remaining == list(range(20))


def concurrent_streams(client: openai.OpenAI, count: int, refusal: str) -> int:
    """Opens `count` streams at once (each lasts about a second, reserving a few prompt tokens
    and max_tokens=100 until it ends); returns how many were admitted. Every refusal must be a
    429 with the code `refusal`."""

    def stream(_: int) -> bool:
        try:
            chunks = client.chat.completions.create(
                model="gpt-paced",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=100,
                stream=True,
            )
        except openai.RateLimitError as refused:
            assert refused.body["code"] == refusal  # type: ignore[index]
            return False
        return bool(list(chunks))

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        return sum(pool.map(stream, range(count)))


def test_fifty_concurrent_streams_never_overrun_a_key_tpm(limited: Stack) -> None:
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(config, "create", "--name", "t1k", "--tpm", "1000")
    client = sdk(limited, created["key"])

    admitted = concurrent_streams(client, 50, "rate_limit_tokens")
    assert 8 <= admitted <= 9  # 1,000 / (100 + the prompt estimate), never more
    # Settled to real use (about 21 tokens each), the window has room again.
    after = client.chat.completions.with_raw_response.create(
        model="gpt-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=100
    )
    assert int(after.headers["x-ratelimit-remaining-tokens"]) > 500


def test_images_and_audio_count_their_configured_tokens(limited: Stack) -> None:
    # limits.tokens_per_image 1,000 and tokens_per_audio_second 10 (the defaults): dall-e-2
    # reports no tokens, whisper-1 only seconds, yet both count against a key's tpm.
    config = Path(limited.log_path.parent / "gateway.yaml")
    client = sdk(limited, keys_cli(config, "create", "--name", "img", "--tpm", "2500")["key"])
    made = client.images.with_raw_response.generate(model="dall-e-2", prompt="a", n=2)
    remaining = int(made.headers["x-ratelimit-remaining-tokens"])
    assert 2500 - 2001 <= remaining < 500  # two images reserved, and the prompt's one token
    with pytest.raises(openai.RateLimitError) as refused:
        client.images.generate(model="dall-e-2", prompt="a")  # settled at 2,000: no room
    assert refused.value.body["code"] == "rate_limit_tokens"  # type: ignore[index]
    heard = sdk(limited, keys_cli(config, "create", "--name", "aud", "--tpm", "100")["key"])
    heard.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(4.0)))
    with pytest.raises(openai.RateLimitError):  # 40 settled, 70 asked (7 s)
        heard.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(7.0)))
    heard.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(5.0)))  # 50 fit


def test_units_count_the_larger_of_tokens_and_work() -> None:
    units = Units(tokens_per_image=1000, tokens_per_audio_second=10)
    assert units.asked({"images": 3}) == 3000
    assert units.asked({"audio_seconds": 2.1}) == 30  # whole seconds, rounded up
    assert units.used(Usage(12, 272, images=1)) == 1000
    assert units.used(Usage(4000, 200, images=1)) == 4200  # the tokens, when more
    assert units.used(Usage(seconds=3.5)) == 40
    assert estimate_tokens({"prompt": "abcd", "max_tokens": 0, "images": 2}, 1024, units) == (
        2,
        2000,
    )


NEGATIVE = -1_000_000_000


def test_negative_token_counts_are_refused_on_every_surface(limited: Stack) -> None:
    """A negative count is a 400 naming the caller's own field, in the surface's shape,
    and a key at tpm 2,000 still admits only what fits beside such requests."""
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(config, "create", "--name", "neg", "--tpm", "2000")
    key = created["key"]
    client = sdk(limited, key)
    messages = [{"role": "user", "content": "hi"}]
    for field in ("max_tokens", "max_completion_tokens"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="gpt-paced", messages=messages, stream=True, **{field: NEGATIVE}
            )
        assert caught.value.body["param"] == field  # type: ignore[index]
        assert caught.value.body["code"] == "integer_below_min_value"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as legacy:
        client.completions.create(model="gpt-echo", prompt="hi", max_tokens=-1)
    assert legacy.value.body["param"] == "max_tokens"  # type: ignore[index]

    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    anthropic = requests.post(
        f"{limited.rest_url}/v1/messages",
        json={"model": "gpt-echo", "max_tokens": NEGATIVE, "messages": messages},
        headers=headers,
        timeout=10,
    )
    assert anthropic.status_code == 400
    assert anthropic.json()["type"] == "error"
    assert "max_tokens" in anthropic.json()["error"]["message"]
    gemini = requests.post(
        f"{limited.rest_url}/v1beta/models/gpt-echo:streamGenerateContent?alt=sse",
        json={
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"maxOutputTokens": NEGATIVE},
        },
        headers={"x-goog-api-key": key},
        timeout=10,
    )
    assert gemini.status_code == 400
    assert gemini.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "generationConfig.maxOutputTokens" in gemini.json()["error"]["message"]
    channel, gateway = stub(limited.grpc_target)
    with channel, pytest.raises(grpc.RpcError) as typed:
        request = chat_pb2.ChatCompletionRequest(
            model="gpt-echo", messages=[chat_pb2.ChatMessage(role="user", text="hi")], max_tokens=-5
        )
        list(gateway.StreamChatCompletion(request, metadata=(("x-api-key", key),), timeout=10))
    assert typed.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "max_tokens" in typed.value.details()  # type: ignore[attr-defined]
    # Nothing above reserved anything: 2,000 tokens admit 19 of 60 streams of 100 + ~5 tokens.
    assert concurrent_streams(client, 60, "rate_limit_tokens") <= 19


def test_model_limit_applies_to_all_callers_and_headers_come_on_every_answer(
    limited: Stack,
) -> None:
    first = keys_cli(Path(limited.log_path.parent / "gateway.yaml"), "create", "--name", "m1")
    second = keys_cli(Path(limited.log_path.parent / "gateway.yaml"), "create", "--name", "m2")
    model = "org/model-with-slash"
    answers = burst(sdk(limited, first["key"]), model, 3) + burst(
        sdk(limited, second["key"]), model, 3
    )
    assert sum(isinstance(a, openai.RateLimitError) for a in answers) == 1  # 6 asked, 5 allowed
    echo = sdk(limited, first["key"]).chat.completions.with_raw_response.create(
        model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
    )
    assert echo.headers["x-ratelimit-limit-tokens"] == "1000000"
    assert "x-ratelimit-limit-requests" not in echo.headers  # no request limit applies here


def test_limits_over_grpc_are_status_and_trailers(limited: Stack) -> None:
    created = keys_cli(
        Path(limited.log_path.parent / "gateway.yaml"), "create", "--name", "g1", "--rpm", "1"
    )
    metadata = (("authorization", f"Bearer {created['key']}"),)
    request = chat_pb2.ChatCompletionRequest(
        model="gpt-echo", messages=[chat_pb2.ChatMessage(role="user", text="hi")]
    )
    channel, gateway = stub(limited.grpc_target)
    with channel:
        _, call = gateway.CreateChatCompletion.with_call(request, metadata=metadata, timeout=10)
        assert dict(call.trailing_metadata())["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(grpc.RpcError) as caught:
            gateway.CreateChatCompletion(request, metadata=metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


def test_period_starts() -> None:
    moment = 1_795_376_836.0  # 2026-11-22 16:27:16 UTC
    assert period_start("day", moment) == 1_795_305_600.0  # 2026-11-22 00:00 UTC
    assert period_start("month", moment) == 1_793_491_200.0  # 2026-11-01 00:00 UTC
    assert period_start("total", moment) == 0.0


def test_budget_reserves_loads_spent_and_settles() -> None:
    loaded: list[tuple[str, float]] = []

    async def spent(key_id: str, since: float) -> tuple[int, float]:
        loaded.append((key_id, since))
        return 600, 0.5

    async def scenario() -> None:
        ledger = BudgetLedger(spent, clock=lambda: 1_795_376_836.0)
        budget = Budget(tokens=1000, cost=1.0, period="day")
        await ledger.reserve("k", budget, Amount(300))  # 600 spent + 300 reserved
        with pytest.raises(GatewayError) as caught:
            await ledger.reserve("k", budget, Amount(200))  # would make 1,100
        assert caught.value.status == 429 and caught.value.code == "insufficient_quota"
        # 50 tokens, but the cost is now 1.1
        await ledger.settle("k", budget, Amount(300), Amount(50, 0.6))
        with pytest.raises(GatewayError) as spent_out:
            await ledger.reserve("k", budget, Amount(1))
        assert "budget of 1.0" in spent_out.value.message
        assert loaded == [("k", 1_795_305_600.0)]  # read once per key and period

    asyncio.run(scenario())


def test_token_budget_of_a_virtual_key(limited: Stack) -> None:
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(
        config, "create", "--name", "b1", "--budget-tokens", "250", "--budget-period", "day"
    )
    client = sdk(limited, created["key"])
    # Each request reserves max_tokens=100 plus a prompt estimate and uses a few tokens.
    for _ in range(3):
        client.chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=100
        )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=240
        )
    assert caught.value.body["code"] == "insufficient_quota"  # type: ignore[index]


def test_a_cost_budget_reserves_the_price_of_the_images_asked_for(limited: Stack) -> None:
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(config, "create", "--name", "imgcost", "--budget-cost", "25")
    client = sdk(limited, created["key"])
    client.images.generate(model="dall-e-2", prompt="a", n=2)  # 20 of 25
    with pytest.raises(openai.RateLimitError) as caught:
        client.images.generate(model="dall-e-2", prompt="a")  # 10 more would overspend
    assert caught.value.body["code"] == "insufficient_quota"  # type: ignore[index]


def test_budget_ledger_rereads_what_other_replicas_spent() -> None:
    totals = iter([(100, 0.0), (900, 0.0)])  # another replica spends 800 meanwhile
    clock = Clock()

    async def spent(key_id: str, since: float) -> tuple[int, float]:
        return next(totals)

    async def scenario() -> None:
        ledger = BudgetLedger(spent, refresh_seconds=5, clock=clock)
        budget = Budget(tokens=1000, cost=None, period="total")
        await ledger.reserve("k", budget, Amount(200))  # 100 + 200
        await ledger.settle("k", budget, Amount(200), Amount(10))
        clock.now += 6
        with pytest.raises(GatewayError):  # 900 + 200 > 1,000 once re-read
            await ledger.reserve("k", budget, Amount(200))

    asyncio.run(scenario())


def test_fifty_concurrent_streams_never_overrun_a_token_budget(limited: Stack) -> None:
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(config, "create", "--name", "b50", "--budget-tokens", "1000")
    client = sdk(limited, created["key"])

    admitted = concurrent_streams(client, 50, "insufficient_quota")
    assert 8 <= admitted <= 9  # 1,000 / (100 + the prompt estimate), never more


def test_fifty_concurrent_streams_never_overspend_a_cost_budget(limited: Stack) -> None:
    config = Path(limited.log_path.parent / "gateway.yaml")
    created = keys_cli(config, "create", "--name", "c50", "--budget-cost", "50")
    client = sdk(limited, created["key"])

    admitted = concurrent_streams(client, 50, "insufficient_quota")
    # Three reservations of 15 fit in 50 while they run (late starters may find what the
    # first three did not use); before cost was reserved every one of the 50 was let in.
    assert 3 <= admitted <= 5
    deadline = time.monotonic() + 10
    while not (report := keys_cli(config, "usage", "--key", "c50")):
        assert time.monotonic() < deadline, "no usage records were written"
        time.sleep(0.2)  # written within the recorder's flush interval
    assert sum(row["requests"] for row in report) == admitted
    assert 0 < sum(row["cost"] for row in report) <= 50


@pytest.fixture(params=["in-process", "redis"])
def make_budgets(request: pytest.FixtureRequest) -> Callable[[Spent], Budgets]:
    if request.param == "in-process":
        return lambda spent: BudgetLedger(spent)
    url: str = request.getfixturevalue("redis_url")
    return lambda spent: RedisBudgets(Redis.from_url(url), spent)


def test_budget_reservations_made_while_spent_is_read_are_kept(
    make_budgets: Callable[[Spent], Budgets],
) -> None:
    async def slow_spent(key_id: str, since: float) -> tuple[int, float]:
        await asyncio.sleep(0.01)  # every concurrent first request waits here together
        return 0, 0.0

    async def scenario() -> int:
        budgets = make_budgets(slow_spent)
        budget = Budget(tokens=1000, cost=None, period="total")
        key = uuid.uuid4().hex

        async def one() -> bool:
            try:
                await budgets.reserve(key, budget, Amount(110))
            except GatewayError:
                return False
            return True

        return sum(await asyncio.gather(*(one() for _ in range(50))))

    assert asyncio.run(scenario()) == 9


def test_budgets_settle_spending_and_refuse_a_spent_cost(
    make_budgets: Callable[[Spent], Budgets],
) -> None:
    async def spent(key_id: str, since: float) -> tuple[int, float]:
        return 100, 0.25

    async def scenario() -> None:
        budgets = make_budgets(spent)
        budget = Budget(tokens=1000, cost=1.0, period="month")
        key = uuid.uuid4().hex
        await budgets.reserve(key, budget, Amount(800))  # 100 spent + 800
        with pytest.raises(GatewayError) as tokens:
            await budgets.reserve(key, budget, Amount(200))
        assert "has 100 left" in tokens.value.message
        await budgets.settle(key, budget, Amount(800), Amount(300, 0.8))  # 400 spent, cost 1.05
        with pytest.raises(GatewayError) as cost:
            await budgets.reserve(key, budget, Amount(1))
        assert cost.value.code == "insufficient_quota" and "budget of 1.0" in cost.value.message

    asyncio.run(scenario())


def test_concurrent_cost_reservations_never_overspend_a_cost_budget(
    make_budgets: Callable[[Spent], Budgets],
) -> None:
    """Cost is reserved at admission like tokens: 50 concurrent requests that may each cost
    15 against a budget of 50 admit three (45), and a settled one frees what it did not use."""

    async def spent(key_id: str, since: float) -> tuple[int, float]:
        await asyncio.sleep(0.01)
        return 0, 0.0

    async def scenario() -> None:
        budgets = make_budgets(spent)
        budget = Budget(tokens=None, cost=50.0, period="total")
        key = uuid.uuid4().hex

        async def one() -> Amount | None:
            try:
                await budgets.reserve(key, budget, Amount(100, 15.0))
            except GatewayError:
                return None
            return Amount(100, 15.0)

        admitted = [a for a in await asyncio.gather(*(one() for _ in range(50))) if a]
        assert len(admitted) == 3
        with pytest.raises(GatewayError) as refused:
            await budgets.reserve(key, budget, Amount(1, 15.0))
        assert "has 5 left" in refused.value.message
        await budgets.settle(key, budget, admitted[0], Amount(80, 4.0))  # 4 + 30 reserved
        await budgets.reserve(key, budget, Amount(100, 15.0))  # 49 committed
        with pytest.raises(GatewayError):
            await budgets.reserve(key, budget, Amount(1, 1.5))

    asyncio.run(scenario())


def test_limits_that_cannot_be_checked_are_a_503(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    storage = {
        "database": f"sqlite:///{tmp_path}/g.db",
        "key_secret": SECRET,
        "redis_url": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    }
    config = stack_config(upstream.base_url, storage=storage)
    config["keys"][0]["rpm"] = 100
    stack = start_stack(tmp_path, config)
    try:
        client = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "limits_unavailable"  # type: ignore[index]
        # A key without limits does not need the limit store.
        other = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=OTHER_KEY, max_retries=0)
        assert other.chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
        )
    finally:
        stack.stop()
