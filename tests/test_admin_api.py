"""The admin API over gRPC and, through Envoy, as JSON under `/admin/v1/...`: keys and usage,
for the admin key only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import openai
import pytest
import requests
import yaml

from llm_gateway.config import ConfigError, parse_config
from llm_gateway.v1 import admin_pb2, admin_pb2_grpc
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack
from tests.test_virtual_keys import SECRET, sdk

ADMIN_KEY = "admin-key-0123456789"


@pytest.fixture(scope="module")
def administered(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("admin")
    storage = {
        "database": f"sqlite:///{folder}/g.db",
        "key_secret": SECRET,
        "admin_key": ADMIN_KEY,
        "usage_flush_seconds": 0.1,
    }
    stack = start_stack(folder, stack_config(upstream.base_url, storage=storage))
    yield stack
    stack.stop()


def admin_stub(stack: Stack) -> tuple[grpc.Channel, admin_pb2_grpc.AdminServiceStub]:
    channel = grpc.insecure_channel(stack.grpc_target)
    return channel, admin_pb2_grpc.AdminServiceStub(channel)


ADMIN = (("authorization", f"Bearer {ADMIN_KEY}"),)


def test_key_lifecycle_over_grpc(administered: Stack) -> None:
    channel, admin = admin_stub(administered)
    with channel:
        created = admin.CreateKey(
            admin_pb2.CreateKeyRequest(
                name="svc", models=["gpt-echo"], rpm=5, metadata={"team": "a"}
            ),
            metadata=ADMIN,
            timeout=10,
        )
        assert created.key.startswith("sk-gw-") and created.api_key.rpm == 5
        assert sdk(administered, created.key).models.list().data[0].id == "gpt-echo"
        listed = admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=ADMIN, timeout=10)
        assert created.api_key.id in [k.id for k in listed.keys]
        assert created.key not in str(listed)
        updated = admin.UpdateKey(
            admin_pb2.UpdateKeyRequest(id=created.api_key.id, models=["*"], enabled=True),
            metadata=ADMIN,
            timeout=10,
        )
        assert list(updated.models) == ["*"] and updated.rpm == 5  # untouched fields stay
        revoked = admin.RevokeKey(
            admin_pb2.RevokeKeyRequest(id=created.api_key.id), metadata=ADMIN, timeout=10
        )
        assert revoked.HasField("revoked_at")
        # This replica forgets its cached keys at once.
        with pytest.raises(openai.AuthenticationError):
            sdk(administered, created.key).models.list()
        with pytest.raises(grpc.RpcError) as missing:
            admin.GetKey(admin_pb2.GetKeyRequest(id="key_nope"), metadata=ADMIN, timeout=10)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as invalid:
            admin.CreateKey(admin_pb2.CreateKeyRequest(name=""), metadata=ADMIN, timeout=10)
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]


def test_only_the_admin_key_is_admitted(administered: Stack) -> None:
    channel, admin = admin_stub(administered)
    with channel:
        for metadata in ((), (("authorization", f"Bearer {KEY}"),)):
            with pytest.raises(grpc.RpcError) as refused:
                admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]


def test_admin_rest_through_envoy(administered: Stack) -> None:
    base = f"{administered.rest_url}/admin/v1"
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    created = requests.post(
        f"{base}/keys",
        json={"name": "rest-made", "budget_tokens": 5000},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 200, created.text
    body = created.json()
    key_id = body["api_key"]["id"]
    assert body["api_key"]["enabled"] is True and body["api_key"]["budget_period"] == "month"
    client = sdk(administered, body["key"])
    client.chat.completions.create(model="gpt-echo", messages=[{"role": "user", "content": "a b"}])
    patched = requests.patch(
        f"{base}/keys/{key_id}", json={"enabled": False}, headers=headers, timeout=10
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    fetched = requests.get(f"{base}/keys/{key_id}", headers=headers, timeout=10)
    assert fetched.json()["name"] == "rest-made"
    revoked = requests.post(f"{base}/keys/{key_id}:revoke", headers=headers, timeout=10)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] > 0
    deadline = time.monotonic() + 5
    while True:  # the usage record is written within usage_flush_seconds
        usage = requests.get(
            f"{base}/usage", params={"key_name": "rest-made"}, headers=headers, timeout=10
        )
        rows = usage.json()["rows"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(r["model"], r["requests"], r["completion_tokens"]) for r in rows] == [
        ("gpt-echo", "1", "2")
    ]
    refused = requests.get(f"{base}/keys", headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert refused.status_code == 401
    missing = requests.get(f"{base}/keys/key_nope", headers=headers, timeout=10)
    assert missing.status_code == 404


def test_a_short_admin_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match=r"storage\.admin_key: .*at least 16 characters"):
        parse_config(
            yaml.safe_dump(
                {
                    "providers": {"up": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}},
                    "models": {"m": {"provider": "up", "model": "x"}},
                    "storage": {
                        "database": "sqlite:///g.db",
                        "key_secret": SECRET,
                        "admin_key": "short",
                    },
                }
            ),
            "t.yaml",
            {},
        )


def test_a_stored_response_of_any_key_is_visible_to_the_admin_api(administered: Stack) -> None:
    made = sdk(administered, KEY).responses.create(model="gpt-echo", input="for the admin")
    channel, admin = admin_stub(administered)
    with channel:
        found = admin.GetStoredResponse(
            admin_pb2.GetStoredResponseRequest(response_id=made.id), metadata=ADMIN, timeout=10
        )
        assert found.owner == "config:tester" and found.expires_at > time.time()
        assert found.response["id"] == made.id
        with pytest.raises(grpc.RpcError) as caller:
            admin.GetStoredResponse(
                admin_pb2.GetStoredResponseRequest(response_id=made.id),
                metadata=(("authorization", f"Bearer {KEY}"),),
            )
        assert caller.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    answer = requests.get(
        f"{administered.rest_url}/admin/v1/responses/{made.id}",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["output"][0]["content"][0]["text"] == "for the admin"
    missing = requests.get(
        f"{administered.rest_url}/admin/v1/responses/resp_none",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )
    assert missing.status_code == 404
