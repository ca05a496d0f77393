"""What every finished generation leaves behind: its log line, its metrics and span, and its
usage record."""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

from llm_gateway.config.settings import Price
from llm_gateway.dataplane.call import CallInfo
from llm_gateway.errors import error_type
from llm_gateway.logs import log_request
from llm_gateway.model.request import GenerationRequest
from llm_gateway.telemetry import RequestWatch
from llm_gateway.usage.accounting import Usage
from llm_gateway.usage.pricing import cost
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.records import UsageRecord

CLIENT_CLOSED = 499


class Accountant:
    """Writes each finished request's log line, metrics, span and usage record."""

    def __init__(
        self,
        prices: Mapping[str, Price],
        recorder: UsageRecorder | None,
        log_prompts: bool,
    ) -> None:
        self.prices = prices
        self._recorder = recorder
        self._log_prompts = log_prompts

    def account(
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
        """Reports the request; hands the usage record of an admitted one to the recorder;
        returns its cost, if known."""
        attempts = watch.attempts
        deployment = attempts.deployment
        upstream_model = deployment.upstream_model if deployment else None
        price = cost(self.prices, upstream_model, usage)
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
            "surface": request.surface,
            "endpoint": request.operation,
            "model": request.model,
            "deployment": attempts.served_by,
            "upstream": deployment.provider.name if deployment else None,
            "upstream_model": upstream_model,
            "attempts": attempts.count,
            "passthrough": attempts.passthrough,
            "stream": request.stream,
            "status": status,
            "cancelled": status == CLIENT_CLOSED,
            "latency_ms": latency_ms,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "usage_estimated": usage.estimated,
        }
        if attempts.dropped:
            fields["dropped"] = list(attempts.dropped)
        if failure is not None:
            fields["error"] = error_type(failure)
        if watch.trace_id is not None:
            fields["trace_id"] = watch.trace_id
        if ttft_ms is not None:
            fields["ttft_ms"] = ttft_ms
        if price is not None:
            fields["cost"] = price
        if self._log_prompts:
            fields["body"] = request.caller_body
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
