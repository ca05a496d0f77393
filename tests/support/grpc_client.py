"""Helpers for calling the typed gRPC service."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from llm_gateway.v1 import common_pb2, llm_gateway_service_pb2_grpc
from tests.support.stack import KEY

METADATA = (("authorization", f"Bearer {KEY}"),)


def stub(target: str) -> tuple[grpc.Channel, llm_gateway_service_pb2_grpc.LlmGatewayServiceStub]:
    channel = grpc.insecure_channel(target)
    return channel, llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)


def error_details(error: grpc.RpcError) -> tuple[common_pb2.Error, list[object]]:
    """Returns the `llm_gateway.v1.Error` and any other details of a failed call's status."""
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == error.code().value[0]  # type: ignore[attr-defined]
    found = common_pb2.Error()
    others: list[object] = []
    for detail in status.details:
        if detail.Is(common_pb2.Error.DESCRIPTOR):
            detail.Unpack(found)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            others.append(retry)
    return found, others
