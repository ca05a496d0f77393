"""Counts the input tokens of a request the way its caller's API does (Anthropic's
`count_tokens`, Gemini's `countTokens`).

The count is the upstream's own where the model has a deployment of the caller's API family
(the request is passed to its counting endpoint as the caller sent it; for the Responses API,
an OpenAI upstream of `responses_api: native`); otherwise, or when
that upstream cannot be reached, it is estimated from the request's size, and the answer says
so. Counting is free on every provider, so it is neither limited nor billed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from llm_gateway.dataplane.call import CallInfo
from llm_gateway.errors import GatewayError, model_not_allowed
from llm_gateway.limits import estimate_prompt
from llm_gateway.model.request import GenerationRequest
from llm_gateway.providers.base import TokenCounting, UpstreamCall, takes_as_sent
from llm_gateway.routing import Router

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A count: the upstream's answer as its bytes, or an estimate (`data` None)."""

    tokens: int
    data: bytes | None = None
    deployment: str | None = None

    @property
    def estimated(self) -> bool:
        """Whether the gateway estimated the count rather than an upstream counting it."""
        return self.data is None


async def count_tokens(router: Router, request: GenerationRequest, call: CallInfo) -> TokenCount:
    """Counts `request`'s input tokens; raises the caller's 404 or 403 for a model it may not
    use, and an upstream's refusal (4xx) of the request as it is."""
    route = router.resolve(request.model)
    if not call.caller.may_use(request.model):
        raise model_not_allowed(request.model)
    wire = request.wire
    now = time.monotonic()
    for model in router.chain(route):
        for deployment in model.deployments:
            provider = deployment.provider
            if wire is None or not takes_as_sent(provider, wire.family):
                continue
            if not isinstance(provider, TokenCounting) or not deployment.available(now):
                continue
            upstream = UpstreamCall(call.request_id, deployment.connect_timeout)
            try:
                tokens, data = await provider.count_tokens(
                    wire, deployment.upstream_model, upstream
                )
            except GatewayError as error:
                if error.status < 500:
                    raise
                log.warning("counting on %s failed (%s): estimated", deployment.name, error.code)
                break
            return TokenCount(tokens, data, deployment.name)
    return TokenCount(estimate_prompt(request.sizing))
