"""The standard gRPC health service, as the Kubernetes probes use it: on the gateway's own port
(the gateway container's probes) and through Envoy's listener (the sidecar's readiness)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.stack import Stack


def _check(target: str, service: str = "") -> int:
    with grpc.insecure_channel(target) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(answer.status)


def test_health_answers_on_the_gateway_and_through_envoy(stack: Stack) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    assert _check(stack.grpc_target) == serving
    assert _check(stack.envoy_target) == serving
    assert _check(stack.envoy_target, "llm_gateway.v1.LlmGatewayService") == serving


def test_health_of_an_unknown_service_is_not_found(stack: Stack) -> None:
    try:
        _check(stack.envoy_target, "no.such.Service")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    else:
        raise AssertionError("an unknown service must not be reported")
