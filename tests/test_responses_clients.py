"""Clients built on the Responses API, as their users run them against the gateway: the OpenAI
Agents SDK running an agent with a function tool to completion over Anthropic- and
Gemini-format upstreams, and LangChain's `ChatOpenAI(use_responses_api=True)`."""

from __future__ import annotations

import asyncio
import json

import agents
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack


@pytest.mark.parametrize("model", ["claude-echo", "gemini-echo", "gpt-echo"])
def test_an_agents_sdk_agent_calls_its_function_tool_and_finishes(
    stack: Stack, upstream: ScriptedUpstream, model: str
) -> None:
    calls: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    client = openai.AsyncOpenAI(base_url=f"{stack.rest_url}/v1", api_key=KEY, max_retries=0)
    agent = agents.Agent(
        name="forecaster",
        instructions="Answer with the weather tool.",
        tools=[get_weather],
        model=agents.OpenAIResponsesModel(model=model, openai_client=client),
        model_settings=agents.ModelSettings(tool_choice="auto"),
        reset_tool_choice=True,
    )

    async def run() -> agents.RunResult:
        settings = agents.RunConfig(tracing_disabled=True)
        return await agents.Runner.run(agent, "What is the weather in Paris?", run_config=settings)

    upstream.clear()
    result = asyncio.run(run())
    assert calls == ["Paris"]
    assert isinstance(result.final_output, str) and result.final_output
    # The tool's result went back to the model in the last turn, in its family's format.
    assert "sunny in Paris" in json.dumps(upstream.requests[-1].body)


def test_langchain_chat_openai_on_the_responses_api_invokes_and_streams(stack: Stack) -> None:
    chat = ChatOpenAI(
        model="claude-echo",
        base_url=f"{stack.rest_url}/v1",
        api_key=KEY,  # type: ignore[arg-type]
        use_responses_api=True,
        max_retries=0,
    )
    answer = chat.invoke("hello from langchain")
    assert answer.text == "hello from langchain"
    assert answer.response_metadata.get("id", "").startswith("resp_")
    streamed = "".join(chunk.text for chunk in chat.stream("streamed through the gateway"))
    assert streamed == "streamed through the gateway"
