"""The upstreams and the four systems compared: (a) direct, (b) this gateway over REST through
Envoy, (c) this gateway over gRPC, (d) LiteLLM's proxy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import requests
import yaml

from bench.load import KEY, Target
from bench.procs import LOAD_CORE, SUT_CORE, Proc, free_port, start, wait_for_port
from llm_gateway.v1 import chat_pb2, llm_gateway_service_pb2_grpc

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
LITELLM_VENV = HERE / ".venv-litellm"
PACED_TTFT = "paced-30x20"  # 30 tokens, 20 ms apart: time to first token, inter-token delay
PACED_HOLD = "paced-40x200"  # 40 tokens at 5 tokens/s: streams held open
PACED_MODELS = (PACED_TTFT, PACED_HOLD)
CHAT_BODY = (
    '{"model":"bench-json","messages":[{"role":"user","content":'
    '"Hello, how are you today?"}],"max_tokens":50}'
)


@dataclass
class Upstreams:
    """The Envoy `direct_response` upstream and the paced streaming upstream."""

    envoy: Proc
    envoy_port: int
    paced: Proc
    paced_port: int

    def stop(self) -> None:
        self.envoy.stop()
        self.paced.stop()


def start_envoy_upstream(work: Path, name: str, core: str) -> tuple[Proc, int]:
    """Starts the `direct_response` Envoy upstream pinned to core; returns it and its port."""
    port, admin = free_port(), free_port()
    config = (HERE / "upstream_envoy.yaml").read_text()
    for key, value in {
        "PORT": port,
        "ADMIN_PORT": admin,
        "JSON_FILE": HERE / "fixtures" / "chat_completion.json",
        "SSE_FILE": HERE / "fixtures" / "chat_stream.sse",
    }.items():
        config = config.replace("${" + key + "}", str(value))
    path = work / f"{name}.yaml"
    path.write_text(config)
    command = [
        str(BIN / "envoy"),
        "-c",
        str(path),
        "--concurrency",
        "1",
        "--disable-hot-restart",
        "--log-level",
        "warn",
    ]
    proc = start(name, command, core, work / "logs")
    wait_for_port(port)
    return proc, port


def start_upstreams(work: Path) -> Upstreams:
    envoy, port = start_envoy_upstream(work, "upstream-envoy", LOAD_CORE)
    paced_port = free_port()
    paced = start(
        "upstream-paced",
        [sys.executable, str(HERE / "paced_upstream.py"), str(paced_port)],
        LOAD_CORE,
        work / "logs",
    )
    wait_for_port(paced_port)
    return Upstreams(envoy, port, paced, paced_port)


@dataclass
class System:
    """One system under test, with how to reach it."""

    key: str  # a, b, c, d
    label: str
    target: Target  # unary load
    stream_protocol: str
    stream_address: str
    proc: Proc | None = None


def direct(upstreams: Upstreams) -> System:
    url = f"http://127.0.0.1:{upstreams.envoy_port}/json/v1/chat/completions"
    return System(
        "a",
        "direct to the upstream",
        Target("direct", "rest", url),
        "rest",
        f"http://127.0.0.1:{upstreams.paced_port}/v1",
    )


def gateway_config(
    upstreams: Upstreams, work: Path, realistic: bool = False
) -> tuple[Path, dict[str, object]]:
    """The gateway's config for the bench: bare (the upstreams, one key from the file), or the
    configuration a real deployment runs (`realistic`: metrics on, usage recorded to SQLite,
    prices, and callers with a virtual key that has rpm/tpm limits and a budget, see
    `realistic_key`)."""
    config: dict[str, object] = {
        "listen": {
            "rest": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "envoy_admin": f"127.0.0.1:{free_port()}",
        },
        "providers": {
            "json": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{upstreams.envoy_port}/json/v1",
            },
            "sse": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{upstreams.envoy_port}/sse/v1",
            },
            "paced": {"type": "openai", "base_url": f"http://127.0.0.1:{upstreams.paced_port}/v1"},
        },
        "models": {
            "bench-json": {"provider": "json", "model": "bench"},
            "bench-sse": {"provider": "sse", "model": "bench"},
            **{m: {"provider": "paced", "model": m} for m in PACED_MODELS},
        },
        "keys": [{"name": "bench", "key": KEY}],
        "shutdown_grace_seconds": 2,
    }
    if realistic:
        listen = config["listen"]
        assert isinstance(listen, dict)
        listen["metrics"] = f"127.0.0.1:{free_port()}"
        config["storage"] = {
            "database": f"sqlite:///{work / 'usage.db'}",
            "key_secret": "bench-key-secret-0123456789",
        }
        config["prices"] = {"bench": {"input_per_million": 0.15, "output_per_million": 0.6}}
    path = work / ("gateway-realistic.yaml" if realistic else "gateway.yaml")
    path.write_text(yaml.safe_dump(config))
    return path, config


def realistic_key(path: Path, bin_dir: Path = BIN) -> str:
    """Issues the realistic configuration's virtual key (limits and a budget far above what
    the load reaches, so that they are checked on every request and never refuse one)."""
    created = subprocess.run(
        [
            str(bin_dir / "llm-gateway"),
            "keys",
            "create",
            "--name",
            "bench",
            "--rpm",
            "100000000",
            "--tpm",
            "100000000000",
            "--budget-cost",
            "1000000000",
            "--config",
            str(path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(created.stdout)["key"])


def start_gateway(
    upstreams: Upstreams,
    work: Path,
    command: str = "up",
    *,
    bin_dir: Path = BIN,
    name: str | None = None,
) -> tuple[Proc, dict[str, object]]:
    """Starts a gateway (`bin_dir`: whose installation, this tree's by default) on the
    system-under-test core with the bare bench config."""
    path, config = gateway_config(upstreams, work)
    proc = start(
        name or f"gateway-{command}",
        [str(bin_dir / "llm-gateway"), command, "--config", str(path)],
        SUT_CORE,
        work / "logs",
    )
    return proc, config


def start_realistic_gateway(
    upstreams: Upstreams, work: Path, *, bin_dir: Path = BIN, name: str = "gateway-realistic"
) -> tuple[Proc, System]:
    """Starts a gateway with the configuration a real deployment runs (`gateway_config`'s
    `realistic`) in a folder of its own; returns it and its REST system, whose requests carry
    the virtual key, once it has answered one."""
    folder = work / name
    folder.mkdir()
    path, config = gateway_config(upstreams, folder, realistic=True)
    key = realistic_key(path, bin_dir)
    proc = start(
        name, [str(bin_dir / "llm-gateway"), "up", "--config", str(path)], SUT_CORE, work / "logs"
    )
    try:
        rest, _ = gateway_systems(proc, config)
        rest.target = dataclasses.replace(rest.target, key=key)
        first_success(rest)
    except BaseException:
        proc.stop()
        raise
    return proc, rest


def gateway_systems(proc: Proc, config: dict[str, object]) -> tuple[System, System]:
    listen = config["listen"]
    assert isinstance(listen, dict)
    rest = System(
        "b",
        "llm-gateway, REST through Envoy",
        Target("gateway-rest", "rest", f"http://{listen['rest']}/v1/chat/completions"),
        "rest",
        f"http://{listen['rest']}/v1",
        proc,
    )
    typed = System(
        "c",
        "llm-gateway, gRPC",
        Target("gateway-grpc", "grpc", str(listen["grpc"])),
        "grpc",
        str(listen["grpc"]),
        proc,
    )
    return rest, typed


def ensure_litellm() -> Path:
    """Installs LiteLLM's proxy into its own virtual environment once; returns its command."""
    command = LITELLM_VENV / "bin" / "litellm"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True
        )
    return command


def start_litellm(upstreams: Upstreams, work: Path) -> tuple[Proc, System]:
    port = free_port()
    models = [
        {
            "model_name": "bench-json",
            "litellm_params": {
                "model": "openai/bench",
                "api_key": "sk-none",
                "api_base": f"http://127.0.0.1:{upstreams.envoy_port}/json/v1",
            },
        },
        *(
            {
                "model_name": m,
                "litellm_params": {
                    "model": f"openai/{m}",
                    "api_key": "sk-none",
                    "api_base": f"http://127.0.0.1:{upstreams.paced_port}/v1",
                },
            }
            for m in PACED_MODELS
        ),
    ]
    path = work / "litellm.yaml"
    path.write_text(yaml.safe_dump({"model_list": models, "general_settings": {"master_key": KEY}}))
    proc = start(
        "litellm",
        [
            str(ensure_litellm()),
            "--config",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        SUT_CORE,
        work / "logs",
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    system = System(
        "d",
        "LiteLLM proxy",
        Target("litellm", "rest", f"http://127.0.0.1:{port}/v1/chat/completions"),
        "rest",
        f"http://127.0.0.1:{port}/v1",
        proc,
    )
    return proc, system


def first_success(system: System, limit: float = 120.0) -> float:
    """Polls the system with real requests; returns seconds from its spawn to the first 200."""
    assert system.proc is not None
    while time.monotonic() - system.proc.started < limit:
        if system.proc.popen.poll() is not None:
            raise RuntimeError(f"{system.label} exited; see {system.proc.log}")
        if _succeeds(system):
            return time.monotonic() - system.proc.started
        time.sleep(0.01)
    raise TimeoutError(f"{system.label} did not answer within {limit}s")


def _succeeds(system: System) -> bool:
    if system.target.protocol == "rest":
        try:
            response = requests.post(
                system.target.address,
                data=CHAT_BODY,
                timeout=2,
                headers={
                    "authorization": f"Bearer {system.target.key}",
                    "content-type": "application/json",
                },
            )
        except requests.RequestException:
            return False
        return response.status_code == 200
    request = chat_pb2.ChatCompletionRequest(
        model="bench-json", messages=[chat_pb2.ChatMessage(role="user", text="hi")]
    )
    with grpc.insecure_channel(system.stream_address) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        try:
            stub.CreateChatCompletion(
                request, metadata=(("authorization", f"Bearer {system.target.key}"),), timeout=2
            )
        except grpc.RpcError:
            return False
    return True
