"""Prometheus metrics: after a scripted mix of requests, the gateway's counters and histograms
say exactly what was sent, and Envoy's own stats are served beside them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from llm_gateway.v1 import chat_pb2, images_pb2, llm_gateway_service_pb2_grpc
from tests.support.grpc_client import METADATA, stub
from tests.support.scripted_transcriptions import wav
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack, stack_config, start_stack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "llm-gateway.json"
_METRIC = re.compile(r"\b((?:llm_gateway|gen_ai|envoy)_[a-z_]+)\b")
_GROUPING = re.compile(r"by \(([^)]*)\)")
_SELECTOR = re.compile(r"\{[^}]*\}")
_LABEL_VALUES = re.compile(r"label_values\((\w+), (\w+)\)")


@pytest.fixture(scope="module")
def measured(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = stack_config(upstream.base_url)
    for name in ("gpt-limited", "gpt-limited-too"):
        config["models"][name] = {"provider": "scripted", "model": "echo", "rpm": 1}
    config["prices"] = {
        "echo": {"input_per_million": 1_000_000, "output_per_million": 2_000_000},
        # Images: dall-e by size and quality (or size alone); GPT image tokens and images.
        "dall-e-3": {"per_image": {"1024x1024/standard": 0.04, "1024x1024/hd": 0.08,
                                   "1792x1024": 0.12}},
        "gpt-image-1": {"input_per_million": 1_000_000, "per_image": {"1024x1024": 10}},
        "tts-1": {"per_million_characters": 1_000_000},  # 1 per character spoken
        "whisper-1": {"per_minute": 60},  # 1 per second heard
    }  # fmt: skip
    running = start_stack(Path(tmp_path_factory.mktemp("measured")), config)
    yield running
    running.stop()


def _scrape(url: str) -> Samples:
    response = requests.get(url, timeout=5)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _sum(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def _chat(client: openai.OpenAI, model: str, **extra: object) -> None:
    client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "one two three"}], **extra
    )


def test_counters_and_histograms_match_a_scripted_mix(measured: Stack) -> None:
    before = _scrape(measured.metrics_url)
    client = openai.OpenAI(
        base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0, timeout=20
    )
    for _ in range(3):
        _chat(client, "gpt-echo")  # 3 prompt tokens, 3 completion tokens each
    for _ in range(2):
        chunks = list(
            client.chat.completions.create(
                model="gpt-echo",
                messages=[{"role": "user", "content": "one two three"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    channel, grpc_client = stub(measured.grpc_target)
    with channel:
        grpc_client.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(
                model="gpt-echo", messages=[chat_pb2.ChatMessage(role="user", text="a b c")]
            ),
            metadata=METADATA,
            timeout=20,
        )
    with pytest.raises(openai.InternalServerError):
        _chat(client, "gpt-server-error")  # two attempts (retries: 1), both 500: a 502
    _chat(client, "gpt-falls-back")  # two attempts on `unavailable`, then gemini-echo
    _chat(client, "gpt-limited")
    with pytest.raises(openai.RateLimitError):
        _chat(client, "gpt-limited")  # rpm 1
    with pytest.raises(openai.NotFoundError):
        _chat(client, "no-such-model-4f1c")  # counted, but not under a label of its own

    text = requests.get(measured.metrics_url, timeout=5).text
    assert "no-such-model-4f1c" not in text
    # Refused requests have their log line too (and no usage record: nothing was used).
    lines = [json.loads(line) for line in measured.log_lines() if '"event":"request"' in line]
    refused_lines = [r for r in lines if r["model"] in ("no-such-model-4f1c", "gpt-limited")]
    assert sorted((r["status"], r.get("error")) for r in refused_lines) == [
        (200, None),
        (404, "model_not_found"),
        (429, "rate_limit_requests"),
    ]
    after = _scrape(measured.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    requests_total = "llm_gateway_requests_total"
    echo = {"gen_ai_request_model": "gpt-echo"}
    assert delta(requests_total, **echo, transport="rest", http_response_status_code="200") == 5
    assert delta(requests_total, **echo, transport="grpc", http_response_status_code="200") == 1
    assert (
        delta(
            requests_total,
            **echo,
            deployment="scripted/echo",
            gen_ai_provider_name="openai",
            gen_ai_operation_name="chat",
        )
        == 6
    )
    assert (
        delta(
            requests_total,
            gen_ai_request_model="gpt-server-error",
            http_response_status_code="502",
            error_type="upstream_error",
        )
        == 1
    )
    assert (
        delta(
            requests_total,
            gen_ai_request_model="gpt-falls-back",
            deployment="gemini/echo",
            gen_ai_provider_name="gcp.gemini",
        )
        == 1
    )
    assert (
        delta(
            requests_total,
            gen_ai_request_model="gpt-limited",
            http_response_status_code="429",
            error_type="rate_limit_requests",
        )
        == 1
    )
    assert (
        delta(requests_total, gen_ai_request_model="_OTHER", http_response_status_code="404") == 1
    )
    assert delta(requests_total) == 11

    duration = "gen_ai_server_request_duration_seconds"
    assert delta(f"{duration}_count", **echo) == 6
    assert delta(f"{duration}_bucket", **echo, le="+Inf") == 6
    assert 0 < delta(f"{duration}_sum", **echo) < 60
    ttft = "gen_ai_server_time_to_first_token_seconds"
    assert delta(f"{ttft}_count", **echo) == 2  # the two streams
    assert delta(f"{ttft}_sum", **echo) <= delta(f"{duration}_sum", **echo)
    assert delta("gen_ai_server_time_per_output_token_seconds_count", **echo) == 2

    tokens = "gen_ai_client_token_usage"
    assert delta(f"{tokens}_sum", **echo, gen_ai_token_type="input") == 6 * 3
    assert delta(f"{tokens}_sum", **echo, gen_ai_token_type="output") == 6 * 3
    assert delta(f"{tokens}_count", **echo, gen_ai_token_type="output") == 6
    # One echo answer on `gpt-limited` at 1 per input token and 2 per output token.
    assert delta("llm_gateway_cost_total", gen_ai_request_model="gpt-limited") == pytest.approx(
        3 * 1 + 3 * 2
    )

    errors = "llm_gateway_upstream_errors_total"
    assert delta(errors, deployment="scripted/server-error") == 2
    assert delta(errors, deployment="scripted/unavailable") == 2
    assert delta("llm_gateway_upstream_retries_total", gen_ai_request_model="gpt-server-error") == 1
    assert delta("llm_gateway_upstream_retries_total", gen_ai_request_model="gpt-falls-back") == 2
    assert delta("llm_gateway_limit_rejections_total", gen_ai_request_model="gpt-limited") == 1
    assert _sum(after, "llm_gateway_requests_in_flight") == 0


def test_requests_are_labelled_by_surface_and_drops_are_counted(measured: Stack) -> None:
    before = _scrape(measured.metrics_url)
    marked = {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    body = {
        "model": "gpt-echo",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": [marked]}],
    }
    response = requests.post(
        f"{measured.rest_url}/v1/messages",
        json=body,
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        timeout=20,
    )
    assert response.status_code == 200
    assert response.headers["x-llm-gateway-dropped"] == "messages.content.cache_control"
    after = _scrape(measured.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    served = {"gen_ai_request_model": "gpt-echo", "http_response_status_code": "200"}
    assert delta("llm_gateway_requests_total", **served, surface="anthropic") == 1
    assert delta("llm_gateway_requests_total", **served, surface="openai") == 0
    dropped = {"surface": "anthropic", "gen_ai_provider_name": "openai"}
    assert delta("llm_gateway_dropped_fields_total", **dropped) == 1


def test_responses_api_calls_are_labelled_with_their_surface(measured: Stack) -> None:
    before = _scrape(measured.metrics_url)
    client = openai.OpenAI(base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0)
    client.responses.create(model="gpt-echo", input="one two", reasoning={"summary": "auto"})
    with client.responses.create(model="claude-echo", input="three", stream=True) as stream:
        assert [event.type for event in stream][-1] == "response.completed"
    after = _scrape(measured.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    for model in ("gpt-echo", "claude-echo"):
        served = {"gen_ai_request_model": model, "http_response_status_code": "200"}
        assert delta("llm_gateway_requests_total", **served, surface="responses") == 1
    assert delta("llm_gateway_dropped_fields_total", surface="responses") == 1


def test_images_cost_their_tokens_and_a_price_per_image(measured: Stack) -> None:
    before = _scrape(measured.metrics_url)
    client = openai.OpenAI(base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0)
    client.images.generate(model="dall-e-3", prompt="x")  # 1024x1024/standard: 0.04
    client.images.generate(model="dall-e-3", prompt="x", quality="hd")  # 0.08
    client.images.generate(model="dall-e-3", prompt="x", size="1792x1024", quality="hd")  # 0.12
    # 12 input tokens at 1 each, and 10 per image: 2 images 32, streamed 1 image 22.
    client.images.generate(model="gpt-image-1", prompt="x", n=2)
    list(client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=1))
    with grpc.insecure_channel(measured.grpc_target) as channel:
        llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel).CreateImage(
            images_pb2.ImageRequest(model="gpt-image-1", prompt="x"), metadata=METADATA, timeout=10
        )  # 22
    after = _scrape(measured.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    cost = "llm_gateway_cost_total"
    assert delta(cost, gen_ai_request_model="dall-e-3") == pytest.approx(0.04 + 0.08 + 0.12)
    assert delta(cost, gen_ai_request_model="gpt-image-1") == pytest.approx(32 + 22 + 22)


def test_speech_costs_its_characters(measured: Stack) -> None:
    before = _scrape(measured.metrics_url)
    client = openai.OpenAI(base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0)
    client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there")  # 11
    after = _scrape(measured.metrics_url)
    cost = "llm_gateway_cost_total"
    spent = _sum(after, cost, gen_ai_request_model="tts-1") - _sum(
        before, cost, gen_ai_request_model="tts-1"
    )
    assert spent == pytest.approx(11)


def test_transcripts_cost_the_seconds_heard(measured: Stack) -> None:
    client = openai.OpenAI(base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0)
    cost = "llm_gateway_cost_total"

    def spent(**options: object) -> float:
        before = _sum(_scrape(measured.metrics_url), cost, gen_ai_request_model="whisper-1")
        client.audio.transcriptions.create(model="whisper-1", **options)  # type: ignore[call-overload]
        return _sum(_scrape(measured.metrics_url), cost, gen_ai_request_model="whisper-1") - before

    # As the upstream reports it (whisper-1 bills whole seconds), else the file's own length.
    assert spent(file=("a.wav", wav(2.5))) == pytest.approx(3)
    assert spent(file=("a.wav", wav(2.5)), response_format="text") == pytest.approx(2.5)


def test_in_flight_streams_are_counted_while_they_run(measured: Stack) -> None:
    response = requests.post(
        f"{measured.rest_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt-paced", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        stream=True,
        timeout=20,
    )
    chunks = response.iter_content(chunk_size=None)
    next(chunks)
    during = _scrape(measured.metrics_url)
    assert _sum(during, "llm_gateway_requests_in_flight", transport="rest", stream="true") == 1
    assert b"[DONE]" in b"".join(chunks)
    after = _scrape(measured.metrics_url)
    assert _sum(after, "llm_gateway_requests_in_flight", transport="rest", stream="true") == 0


def test_envoy_stats_are_served_on_their_own_port(measured: Stack) -> None:
    requests.get(f"{measured.rest_url}/v1/models", headers={"authorization": f"Bearer {KEY}"})
    samples = _scrape(measured.envoy_metrics_url)
    prefix = {"envoy_http_conn_manager_prefix": "rest_and_grpc"}
    assert _sum(samples, "envoy_http_downstream_rq_total", **prefix) >= 1
    # Only the stats: the admin interface's other pages are not reachable there.
    base = measured.envoy_metrics_url.removesuffix("/stats/prometheus")
    assert requests.post(f"{base}/quitquitquit", timeout=5).status_code == 404
    assert requests.get(f"{base}/config_dump", timeout=5).status_code == 404
    assert requests.get(f"{base}/ready", timeout=5).text.strip() == "LIVE"


def test_the_grafana_dashboard_queries_only_exported_metrics_and_labels(measured: Stack) -> None:
    client = openai.OpenAI(
        base_url=f"{measured.rest_url}/v1", api_key=KEY, max_retries=0, timeout=20
    )
    list(
        client.chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "a"}], stream=True
        )
    )
    with pytest.raises(openai.InternalServerError):
        _chat(client, "gpt-server-error")
    with pytest.raises(openai.RateLimitError):
        for _ in range(2):
            _chat(client, "gpt-limited-too")
    exported: dict[str, set[str]] = {}
    for (name, labels), _ in (
        _scrape(measured.metrics_url) | _scrape(measured.envoy_metrics_url)
    ).items():
        exported.setdefault(name, set()).update(label for label, _ in labels)

    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if "definition" in variable:
            metric, label = _LABEL_VALUES.fullmatch(variable["definition"]).groups()  # type: ignore[union-attr]
            assert label in exported[metric]
    assert len(expressions) >= 14
    for expression in expressions:
        names = _METRIC.findall(_SELECTOR.sub("", _GROUPING.sub("", expression)))
        assert names, expression
        for name in names:
            assert name in exported, f"{name} is not exported ({expression})"
        for grouping in _GROUPING.findall(expression):
            for label in (part.strip() for part in grouping.split(",")):
                assert any(label in exported[n] for n in names), (label, expression)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
