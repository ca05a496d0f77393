"""Two gateway processes on one PostgreSQL and one Redis (servers of the tests' own) enforce
one limit together, share keys and their revocation, record usage in one place, and share
the Responses API's stored responses (continued, retrieved and cancelled on either)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.support.background import closed_within, running_background
from tests.support.databases import fresh_postgres_database
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack, stack_config, start_stack
from tests.test_virtual_keys import SECRET, keys_cli, sdk


@pytest.fixture(scope="module")
def replicas(
    upstream: ScriptedUpstream,
    postgres_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, Stack]]:
    storage = {
        "database": fresh_postgres_database(postgres_url, "replicas"),
        "redis_url": redis_url,
        "key_secret": SECRET,
        # Long: a revocation must reach the other gateway by notification, not by expiry.
        "key_cache_seconds": 30,
        "usage_flush_seconds": 0.1,
    }
    stacks: list[Stack] = []
    try:
        for name in ("one", "two"):
            config = stack_config(upstream.base_url, storage=storage)
            config["models"]["gpt-echo"]["rpm"] = 1000
            stacks.append(start_stack(tmp_path_factory.mktemp(name), config))
        yield stacks[0], stacks[1]
    finally:
        for stack in stacks:
            stack.stop()


def config_of(stack: Stack) -> Path:
    return stack.log_path.parent / "gateway.yaml"


def test_one_rpm_limit_across_two_gateways(replicas: tuple[Stack, Stack]) -> None:
    one, two = replicas
    created = keys_cli(config_of(one), "create", "--name", "shared", "--rpm", "10")
    clients = [sdk(one, created["key"]), sdk(two, created["key"])]
    outcomes = []
    for index in range(16):
        try:
            answer = clients[index % 2].chat.completions.with_raw_response.create(
                model="gpt-echo", messages=[{"role": "user", "content": "hi"}]
            )
            outcomes.append(int(answer.headers["x-ratelimit-remaining-requests"]))
        except openai.RateLimitError:
            outcomes.append(-1)
    assert outcomes[:10] == list(range(9, -1, -1))  # one count, whichever gateway answered
    assert outcomes[10:] == [-1] * 6


def test_revocation_reaches_both_gateways(replicas: tuple[Stack, Stack]) -> None:
    one, two = replicas
    created = keys_cli(config_of(two), "create", "--name", "revoked-later")
    for stack in replicas:
        assert sdk(stack, created["key"]).models.list().data
    keys_cli(config_of(one), "revoke", created["id"])
    for stack in replicas:
        deadline = time.monotonic() + 2  # far less than the 30 s cache
        while True:
            try:
                sdk(stack, created["key"]).models.list()
            except openai.AuthenticationError:
                break
            assert time.monotonic() < deadline, "the revocation did not reach a gateway"
            time.sleep(0.05)


def test_usage_of_both_gateways_in_one_report(replicas: tuple[Stack, Stack]) -> None:
    one, two = replicas
    created = keys_cli(config_of(one), "create", "--name", "reported")
    for stack in (one, two, two):
        sdk(stack, created["key"]).chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "one two"}]
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        report = keys_cli(config_of(two), "usage", "--key", "reported")
        if report and report[0]["requests"] == 3:
            break
        time.sleep(0.1)
    assert [(r["model"], r["requests"], r["completion_tokens"]) for r in report] == [
        ("gpt-echo", 3, 6)
    ]


def test_one_token_budget_across_two_gateways(replicas: tuple[Stack, Stack]) -> None:
    one, two = replicas
    created = keys_cli(config_of(one), "create", "--name", "budgeted", "--budget-tokens", "600")
    clients = [sdk(one, created["key"]), sdk(two, created["key"])]
    admitted = 0
    for index in range(10):
        try:
            # Each reserves max_tokens=290 plus a prompt estimate, and uses 2 tokens.
            clients[index % 2].chat.completions.create(
                model="gpt-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=290
            )
            admitted += 1
        except openai.RateLimitError as refused:
            assert refused.body["code"] == "insufficient_quota"  # type: ignore[index]
    assert admitted == 10  # each reservation (about 300) is settled to the 2 tokens used
    # Streams hold their reservations open: the budget's one account, shared by both
    # gateways, has room for one.
    held = []
    for index in range(4):
        try:
            held.append(
                clients[index % 2].chat.completions.create(
                    model="gpt-paced",
                    messages=[{"role": "user", "content": "hi"}],
                    max_tokens=290,
                    stream=True,
                )
            )
        except openai.RateLimitError:
            held.append(None)
    # 600 - 20 spent leaves room for one reservation of about 300, from either gateway.
    assert [h is not None for h in held] == [True, False, False, False]
    for stream in held:
        if stream is not None:
            list(stream)


def test_a_response_made_on_one_gateway_is_continued_retrieved_and_cancelled_on_the_other(
    replicas: tuple[Stack, Stack], upstream: ScriptedUpstream
) -> None:
    one, two = (openai.OpenAI(base_url=f"{s.rest_url}/v1", api_key=KEY) for s in replicas)
    first = one.responses.create(model="gpt-echo", input="made on one")
    second = two.responses.create(
        model="claude-echo", previous_response_id=first.id, input="continued on two"
    )
    assert "made on one" in str(upstream.last().body)
    assert two.responses.retrieve(first.id).output_text == "made on one"
    assert one.responses.retrieve(second.id).previous_response_id == first.id
    stranger = openai.OpenAI(base_url=f"{replicas[1].rest_url}/v1", api_key=OTHER_KEY)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(first.id)
    # A background response runs on the gateway that took it; a cancel sent to the other
    # reaches it through the store, and its upstream call is closed.
    request_id = "background-across-replicas"
    response_id = running_background(one, upstream, request_id)
    cancelled_at = time.monotonic()
    assert two.responses.cancel(response_id).status == "cancelled"
    closed_within(upstream, request_id, cancelled_at, 1.5)
    assert one.responses.retrieve(response_id).status == "cancelled"
