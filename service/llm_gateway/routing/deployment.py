"""One deployment of a public model, with the live state the router balances on."""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_gateway.config.settings import DeploymentSettings, RoutingSettings
from llm_gateway.providers.base import Provider


@dataclass(eq=False, slots=True)
class Deployment:
    """A provider and upstream model serving a public model, its in-flight count and health.

    A deployment that fails `cooldown_failures` times in a row leaves the rotation for
    `cooldown_seconds`; once that time has passed it is tried again, and one success clears
    its record.
    """

    name: str
    provider: Provider
    upstream_model: str
    weight: float
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    in_flight: int = 0
    failures: int = 0
    cooling_until: float = 0.0
    last_failure: str | None = None  # the error code of the latest failure
    _policy: RoutingSettings = field(default_factory=RoutingSettings)

    @classmethod
    def from_settings(
        cls, settings: DeploymentSettings, provider: Provider, policy: RoutingSettings
    ) -> Deployment:
        """Builds a deployment from its configuration."""
        return cls(
            name=settings.label,
            provider=provider,
            upstream_model=settings.model,
            weight=settings.weight,
            connect_timeout=settings.connect_timeout,
            first_byte_timeout=settings.first_byte_timeout,
            idle_timeout=settings.idle_timeout,
            _policy=policy,
        )

    def available(self, now: float) -> bool:
        """Whether the deployment is in rotation at `now` (monotonic seconds)."""
        return now >= self.cooling_until

    def succeeded(self) -> None:
        """Records a served request."""
        self.failures = 0

    def recovered(self) -> None:
        """Puts the deployment back in rotation at once (its upstream is known to be back)."""
        self.failures = 0
        self.cooling_until = 0.0

    def failed(self, now: float, code: str | None = None) -> None:
        """Records a failure that is the deployment's fault (and its error code); may start a
        cooldown."""
        self.failures += 1
        self.last_failure = code
        if self.failures >= self._policy.cooldown_failures:
            self.cooling_until = now + self._policy.cooldown_seconds
            self.failures = 0
