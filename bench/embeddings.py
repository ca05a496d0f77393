"""What packed floats save: one batch of 1,000 vectors of 1,536 dimensions through the gateway
as REST JSON numbers (`encoding_format: float`), as REST base64 (what the openai SDK asks for)
and over the typed gRPC `CreateEmbedding` (packed floats), each decoded by the client into
floats, against the same upstream.

The upstream (`python -m bench.embeddings upstream PORT`, on the load core) answers every
request with prepared bytes of the encoding asked for, so it costs the same on every path.
The gateway and its Envoy run on the core of the system under test. Each round runs the three
paths back to back; the table has the medians of the rounds: the answer's bytes as the client
receives them, the time from sending to holding the floats, and the CPU the gateway's
processes (Envoy and Python) spent per call.

`python -m bench.embeddings` runs it alone and prints the result; `make bench` runs it as one
of its scenarios.
"""

from __future__ import annotations

import argparse
import array
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import orjson
import requests
import yaml
from aiohttp import web

from bench.load import KEY
from bench.procs import LOAD_CORE, SUT_CORE, Proc, free_port, start, wait_for_port
from bench.systems import BIN
from llm_gateway.v1 import embeddings_pb2, llm_gateway_service_pb2_grpc

INPUTS = 1000
DIMENSIONS = 1536
MODEL = "embed"
ROUNDS = 9
# A REST answer of JSON numbers is about 30 MB: above the default `max_response_bytes`.
_MAX_RESPONSE_BYTES = 128 * 1024 * 1024
_GRPC_OPTIONS = [("grpc.max_receive_message_length", _MAX_RESPONSE_BYTES)]


def _answers() -> dict[str, bytes]:
    """The upstream's answer in each encoding: deterministic float32 values."""
    vector = array.array("f", ((i % 97) / 97.0 - 0.5 for i in range(DIMENSIONS)))
    packed = base64.b64encode(vector.tobytes()).decode()
    floats = vector.tolist()
    usage = {"prompt_tokens": INPUTS * 8, "total_tokens": INPUTS * 8}

    def answer(embedding: Any) -> bytes:
        data = [{"object": "embedding", "index": i, "embedding": embedding} for i in range(INPUTS)]
        return orjson.dumps({"object": "list", "data": data, "model": MODEL, "usage": usage})

    return {"float": answer(floats), "base64": answer(packed)}


def serve_upstream(port: int) -> None:
    """Runs the upstream: `POST /v1/embeddings` answers in the encoding asked for."""
    prepared = _answers()

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        encoding = body.get("encoding_format") or "float"
        if len(body.get("input") or ()) != INPUTS:
            return web.json_response({"error": {"message": "expected the bench batch"}}, status=400)
        return web.Response(body=prepared[encoding], content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _start(work: Path) -> tuple[list[Proc], str]:
    """The upstream and a gateway in front of it; returns them and Envoy's address (REST and
    gRPC)."""
    upstream_port = free_port()
    upstream = start(
        "embedding-upstream",
        [sys.executable, "-m", "bench.embeddings", "upstream", str(upstream_port)],
        LOAD_CORE,
        work / "logs",
    )
    wait_for_port(upstream_port)
    rest = f"127.0.0.1:{free_port()}"
    config = {
        "listen": {"rest": rest, "grpc": f"127.0.0.1:{free_port()}"},
        "providers": {
            "upstream": {"type": "openai", "base_url": f"http://127.0.0.1:{upstream_port}/v1"}
        },
        "models": {MODEL: {"provider": "upstream", "model": MODEL, "operations": ["embeddings"]}},
        "keys": [{"name": "bench", "key": KEY}],
        "limits": {"max_response_bytes": _MAX_RESPONSE_BYTES},
    }
    work.mkdir(parents=True, exist_ok=True)
    path = work / "embeddings.yaml"
    path.write_text(yaml.safe_dump(config))
    gateway = start(
        "gateway-embeddings",
        [str(BIN / "llm-gateway"), "up", "--config", str(path)],
        SUT_CORE,
        work / "logs",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(
                f"http://{rest}/v1/models", headers={"authorization": f"Bearer {KEY}"}, timeout=1
            ).ok:
                return [upstream, gateway], rest
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the gateway did not start: see {gateway.log}")


_TEXTS = [f"chunk {i} of a document to index" for i in range(INPUTS)]


def _rest(rest: str, encoding: str) -> tuple[int, list[Any]]:
    """One REST call; returns the answer's bytes and the vectors as floats."""
    answer = requests.post(
        f"http://{rest}/v1/embeddings",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": MODEL, "input": _TEXTS, "encoding_format": encoding},
        timeout=60,
    )
    answer.raise_for_status()
    data = orjson.loads(answer.content)["data"]
    if encoding == "base64":
        vectors: list[Any] = []
        for item in data:
            values = array.array("f")
            values.frombytes(base64.b64decode(item["embedding"]))
            vectors.append(values)
    else:
        vectors = [item["embedding"] for item in data]
    return len(answer.content), vectors


def _typed(stub: Any, request: Any) -> tuple[int, list[Any]]:
    """One typed call; returns the answer's serialized size and the vectors as floats."""
    answer = stub.CreateEmbedding(
        request, metadata=[("authorization", f"Bearer {KEY}")], timeout=60
    )
    return answer.ByteSize(), [item.values for item in answer.data]


def measure(work: Path, rounds: int = ROUNDS) -> dict[str, Any]:
    """Bytes, seconds and gateway CPU per call for each path (medians of `rounds`)."""
    procs, rest = _start(work)
    gateway = procs[1]
    channel = grpc.insecure_channel(rest, options=_GRPC_OPTIONS)  # through Envoy
    try:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        request = embeddings_pb2.EmbeddingRequest(model=MODEL, texts=_TEXTS)
        paths = {
            "rest_float": lambda: _rest(rest, "float"),
            "rest_base64": lambda: _rest(rest, "base64"),
            "grpc_packed": lambda: _typed(stub, request),
        }
        for call in paths.values():  # warm every path once
            call()
        samples: dict[str, dict[str, list[float]]] = {
            name: {"bytes": [], "seconds": [], "cpu_ms": []} for name in paths
        }
        for _ in range(rounds):
            for name, call in paths.items():
                cpu = gateway.cpu_seconds()
                started = time.perf_counter()
                size, vectors = call()
                elapsed = time.perf_counter() - started
                spent = gateway.cpu_seconds() - cpu
                if len(vectors) != INPUTS or len(vectors[-1]) != DIMENSIONS:
                    raise RuntimeError(f"{name}: wrong answer shape")
                samples[name]["bytes"].append(size)
                samples[name]["seconds"].append(elapsed)
                samples[name]["cpu_ms"].append(1000 * spent)
        rows = {
            name: {key: statistics.median(values) for key, values in taken.items()}
            for name, taken in samples.items()
        }
        float_row = rows["rest_float"]
        for row in rows.values():
            row["seconds_ratio"] = row["seconds"] / float_row["seconds"]
            row["bytes_ratio"] = row["bytes"] / float_row["bytes"]
        return {
            "inputs": INPUTS,
            "dimensions": DIMENSIONS,
            "rounds": rounds,
            "rows": rows,
            "samples": samples,
        }
    finally:
        channel.close()
        for proc in reversed(procs):
            proc.stop()


_PATHS = {
    "rest_float": "REST, `encoding_format: float` (JSON numbers)",
    "rest_base64": "REST, `encoding_format: base64` (the openai SDK's default)",
    "grpc_packed": "typed gRPC `CreateEmbedding` (packed floats), through Envoy",
}


def section(result: dict[str, Any]) -> list[str]:
    """The report's lines for this scenario."""
    lines = [
        "## Embeddings: packed floats against REST",
        "",
        f"One batch of {result['inputs']:,} inputs, {result['dimensions']:,} dimensions each, "
        "from an OpenAI-compatible upstream that answers with prepared bytes; the client holds "
        f"the floats at the end of each call. Medians of {result['rounds']} rounds, the three "
        "paths back to back in each (`bench/embeddings.py`).",
        "",
        "| path | answer bytes | vs float | seconds to the floats | vs float | gateway CPU |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in _PATHS.items():
        row = result["rows"][name]
        lines.append(
            f"| {label} | {row['bytes'] / 2**20:.1f} MB | {row['bytes_ratio']:.2f}x | "
            f"{row['seconds'] * 1000:.0f} ms | {row['seconds_ratio']:.2f}x | "
            f"{row['cpu_ms']:.0f} ms |"
        )
    return [*lines, ""]


def target(result: dict[str, Any]) -> tuple[str, str, bool]:
    """Packed floats must be faster to the floats than REST's JSON numbers."""
    packed = result["rows"]["grpc_packed"]
    return (
        "embeddings: typed gRPC (packed floats) faster than REST floats, 1,000 x 1,536",
        f"{packed['seconds'] * 1000:.0f} ms, {packed['seconds_ratio']:.2f}x of REST's; "
        f"{packed['bytes_ratio']:.2f}x the bytes",
        packed["seconds_ratio"] < 1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", nargs="?", choices=["measure", "upstream"], default="measure")
    parser.add_argument("port", nargs="?", type=int)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    if args.role == "upstream":
        serve_upstream(args.port)
        return
    with tempfile.TemporaryDirectory(prefix="llm-gateway-bench-embeddings-") as folder:
        print(json.dumps(measure(Path(folder), args.rounds)["rows"], indent=1))


if __name__ == "__main__":
    main()
