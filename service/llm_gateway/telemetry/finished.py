"""What the metrics record of one finished generation request, apart from the metrics
themselves: the data plane builds it without loading the Prometheus client, which a gateway
with metrics off never imports."""

from __future__ import annotations

from dataclasses import dataclass

# `gen_ai.operation.name` of each endpoint.
OPERATIONS = {"chat/completions": "chat", "completions": "text_completion"}


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    """What the metrics need of one finished generation request."""

    operation: str
    provider: str  # `gen_ai.provider.name`, empty when no upstream was chosen
    model: str
    deployment: str
    transport: str
    surface: str  # the API the caller used: openai, anthropic, gemini or grpc
    status: int
    error_type: str  # the error's code, empty on success
    duration: float
    time_to_first_token: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    attempts: int
    upstream_errors: tuple[tuple[str, str], ...]  # (deployment, error code) of failed attempts
    dropped: int = 0  # the caller's fields a translation left out
