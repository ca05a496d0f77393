"""Token counts of an answer."""

from __future__ import annotations

from typing import TypedDict


class _PromptDetails(TypedDict, total=False):
    cached_tokens: int
    # Tokens written to a prompt cache (Anthropic's `cache_creation_input_tokens`).
    cache_creation_tokens: int
    audio_tokens: int


class _CompletionDetails(TypedDict, total=False):
    reasoning_tokens: int
    audio_tokens: int
    accepted_prediction_tokens: int
    rejected_prediction_tokens: int


class CompletionUsage(TypedDict, total=False):
    """What an answer used, in OpenAI's names; the details are set where the upstream says."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: _PromptDetails
    completion_tokens_details: _CompletionDetails
