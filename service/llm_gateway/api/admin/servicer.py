"""The admin API: virtual keys, usage and stored responses, for holders of the admin key
only."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from pydantic import SecretStr

from llm_gateway.api.admin import messages
from llm_gateway.api.grpc.status import abort
from llm_gateway.api.inbound import InboundCall
from llm_gateway.auth.directory import KeyDirectory
from llm_gateway.auth.key_admin import KeyAdmin
from llm_gateway.auth.keys import KeyRing
from llm_gateway.config.settings import KeySettings
from llm_gateway.errors import GatewayError, internal_error
from llm_gateway.store import KeyNotFound
from llm_gateway.store.responses import ResponseStore
from llm_gateway.v1 import admin_pb2, admin_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]
Out = TypeVar("Out", bound=Message)
_DEFAULT_DAYS = 30


def _disabled() -> GatewayError:
    return GatewayError(
        403, "The admin API is off: set storage.admin_key to use it.", code="admin_api_off"
    )


def _not_found(key_id: str) -> GatewayError:
    return GatewayError(404, f"No key has the id '{key_id}'.", param="id", code="key_not_found")


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """Serves `llm_gateway.v1.AdminService` (and `/admin/v1/...` through the proxy)."""

    def __init__(
        self,
        admin: KeyAdmin,
        directory: KeyDirectory,
        admin_key: SecretStr | None,
        responses: ResponseStore,
    ) -> None:
        self._admin = admin
        self._directory = directory
        self._responses = responses
        # The admin key is checked like configured API keys (constant time), on a ring of its own.
        self._admins = KeyRing([KeySettings(name="admin", key=admin_key)]) if admin_key else None

    async def _check(self, inbound: InboundCall) -> None:
        if self._admins is None:
            raise _disabled()
        await self._admins.authenticate(inbound.metadata)

    @asynccontextmanager
    async def _serving(self, context: Context) -> AsyncIterator[None]:
        inbound = InboundCall(context, "admin")
        try:
            await self._check(inbound)
            yield
        except KeyNotFound as missing:
            await abort(context, _not_found(str(missing)), inbound.request_id)
        except GatewayError as error:
            await abort(context, error, inbound.request_id)
        except Exception:
            log.exception("unexpected failure of admin request %s", inbound.request_id)
            await abort(context, internal_error(), inbound.request_id)
        finally:
            inbound.finish()

    async def _answer(self, context: Context, produce: Callable[[], Awaitable[Out]]) -> Out:
        async with self._serving(context):
            return await produce()
        raise AssertionError("unreachable: _serving re-raises every failure")

    async def _changed(self, change: Awaitable[Any]) -> admin_pb2.ApiKey:
        key = await change
        self._directory.forget()  # this replica at once; the store tells the others
        return messages.api_key(key)

    async def CreateKey(
        self, request: admin_pb2.CreateKeyRequest, context: Context
    ) -> admin_pb2.CreateKeyResponse:
        async def create() -> admin_pb2.CreateKeyResponse:
            secret, key = await self._admin.create(messages.create_settings(request))
            self._directory.forget()  # a key tried before it existed is cached as unknown
            return admin_pb2.CreateKeyResponse(key=secret, api_key=messages.api_key(key))

        return await self._answer(context, create)

    async def ListKeys(
        self, request: admin_pb2.ListKeysRequest, context: Context
    ) -> admin_pb2.ListKeysResponse:
        async def list_keys() -> admin_pb2.ListKeysResponse:
            keys = await self._admin.list_keys()
            return admin_pb2.ListKeysResponse(keys=[messages.api_key(k) for k in keys])

        return await self._answer(context, list_keys)

    async def GetKey(self, request: admin_pb2.GetKeyRequest, context: Context) -> admin_pb2.ApiKey:
        async def get() -> admin_pb2.ApiKey:
            return messages.api_key(await self._admin.get(request.id))

        return await self._answer(context, get)

    async def UpdateKey(
        self, request: admin_pb2.UpdateKeyRequest, context: Context
    ) -> admin_pb2.ApiKey:
        return await self._answer(
            context,
            lambda: self._changed(self._admin.update(request.id, messages.update_changes(request))),
        )

    async def RevokeKey(
        self, request: admin_pb2.RevokeKeyRequest, context: Context
    ) -> admin_pb2.ApiKey:
        return await self._answer(context, lambda: self._changed(self._admin.revoke(request.id)))

    async def GetUsage(
        self, request: admin_pb2.GetUsageRequest, context: Context
    ) -> admin_pb2.GetUsageResponse:
        async def usage() -> admin_pb2.GetUsageResponse:
            key_name = request.key_name if request.HasField("key_name") else None
            rows = await self._admin.usage(request.days or _DEFAULT_DAYS, key_name)
            return messages.usage_response(rows)

        return await self._answer(context, usage)

    async def GetStoredResponse(
        self, request: admin_pb2.GetStoredResponseRequest, context: Context
    ) -> admin_pb2.StoredResponse:
        async def found() -> admin_pb2.StoredResponse:
            stored = await self._responses.find_response(request.response_id, time.time())
            if stored is None:
                raise GatewayError(
                    404,
                    f"No stored response has the id '{request.response_id}'.",
                    param="response_id",
                    code="not_found",
                )
            return messages.stored_response(stored)

        return await self._answer(context, found)
