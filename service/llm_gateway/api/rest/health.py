"""`GET /healthz`: whether the gateway takes requests, for callers that cannot speak gRPC
health, and which gateway process answers (so `llm-gateway up` can prove that its Envoy
reaches its own gateway, not another one on the machine)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.rest import framing
from llm_gateway.v1 import health_rest_service_pb2, health_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]


class HealthRestServicer(health_rest_service_pb2_grpc.HealthRestServiceServicer):
    """Answers 200 while serving, 503 once draining; `instance` names this process."""

    def __init__(self) -> None:
        self.instance = uuid.uuid4().hex
        self.serving = True

    async def Check(
        self, request: health_rest_service_pb2.HealthzRequest, context: Context
    ) -> HttpBody:
        status = "serving" if self.serving else "not_serving"
        if not self.serving:
            await context.send_initial_metadata(((framing.STATUS_HEADER, "503"),))
        return framing.json_body({"status": status, "instance": self.instance})
