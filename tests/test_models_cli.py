"""`llm-gateway models`: the table of models, their operations and prices, as the config (and
the offline default standing in) makes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from llm_gateway.cli import main

CONFIG = {
    "providers": {
        "openai": {"type": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-x"},
        "gemini": {"type": "gemini", "base_url": "https://generativelanguage.googleapis.com/v1beta"},
        "local": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"},
    },
    "models": {
        "gpt-4o-mini": {"provider": "openai", "model": "gpt-4o-mini"},
        "embed": {"provider": "openai", "model": "text-embedding-3-small",
                  "operations": ["embeddings"]},
        "gemini-embed": {"provider": "gemini", "model": "gemini-embedding-001",
                         "operations": ["embeddings"]},
        "chat-default": {"provider": "local", "model": "small"},
        "draw": {"provider": "openai", "model": "dall-e-3", "operations": ["images"]},
        "embed-default": {"provider": "local", "model": "minilm", "operations": ["embeddings"]},
        "hear": {"provider": "openai", "model": "whisper-1", "operations": ["audio"]},
    },
    "prices": {
        "gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6,
                        "cached_input_per_million": 0.075},
        "text-embedding-3-small": {"input_per_million": 0.02, "output_per_million": 0},
        "dall-e-3": {"per_image": {"1024x1024/hd": 0.08}},
        "whisper-1": {"per_minute": 0.006},
    },
    "keys": [{"name": "k", "key": "sk-test-key-0123456789"}],
    "offline_default": "chat-default",
    "offline_embedding_default": "embed-default",
}  # fmt: skip


def test_models_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    assert main(["models", "--config", str(path), "--json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["gpt-4o-mini"]["price"] == {
        "input_per_million": 0.15,
        "cached_input_per_million": 0.075,
        "output_per_million": 0.6,
        "per_image": {},
        "per_million_characters": 0,
        "per_minute": 0,
    }
    assert rows["hear"]["price"]["per_minute"] == 0.006
    assert rows["embed"]["operations"] == ["embeddings"]
    assert rows["embed"]["price"]["input_per_million"] == 0.02
    # Gemini has no key: the embedding offline default serves it, not the chat one.
    assert rows["gemini-embed"]["deployments"] == ["local/minilm"]
    assert rows["gemini-embed"]["price"] is None
    assert rows["draw"]["price"]["per_image"] == {"1024x1024/hd": 0.08}


def test_models_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    assert main(["models", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "operations", "input/M", "cached/M", "output/M",
                                "per", "image", "chars/M", "per", "minute",
                                "deployments"]  # fmt: skip
    assert lines[1].split()[:5] == ["gpt-4o-mini", "chat,completions,responses", "0.15",
                                    "0.075", "0.6"]  # fmt: skip
    hear = next(line for line in lines if line.startswith("hear "))
    assert hear.split()[5:9] == ["-", "0", "0.006", "openai/whisper-1"]


def test_an_image_kind_without_a_price_leaves_the_cost_unknown() -> None:
    from llm_gateway.config.settings import Price
    from llm_gateway.usage.accounting import Usage
    from llm_gateway.usage.pricing import cost

    prices = {"dall-e-3": Price(per_image={"1024x1024/hd": 0.08, "1792x1024": 0.12})}
    made = Usage(images=2, image_kind="1024x1024/hd")
    assert cost(prices, "dall-e-3", made) == pytest.approx(0.16)
    assert cost(prices, "dall-e-3", Usage(images=1, image_kind="1792x1024/hd")) == 0.12
    assert cost(prices, "dall-e-3", Usage(images=1, image_kind="1024x1792/hd")) is None
    spoken = {"tts-1": Price(per_million_characters=15)}
    assert cost(spoken, "tts-1", Usage(characters=1000)) == pytest.approx(0.015)
    heard = {"whisper-1": Price(per_minute=0.006)}
    assert cost(heard, "whisper-1", Usage(seconds=90)) == pytest.approx(0.009)
