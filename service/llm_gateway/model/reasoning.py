"""Reasoning state that crosses API families.

An upstream may sign its reasoning (Gemini's `thoughtSignature`, the signature of Anthropic's
thinking block), and need the signature back with the turn it came in. The canonical model
carries it in an assistant message's (or a stream delta's) `reasoning_signature`, tagged with
the family whose API made it (`signed_by`): a provider takes back only its own family's
(`signature_for`), as no API accepts another's. An OpenAI caller sees the tagged value and
sends it back as it got it. An Anthropic caller is shown it inside the signature of a
thinking block, which the gateway mints (`minted`) so that the caller's next turn brings it
back, and the gateway recognises (`carried`) and never sends to Anthropic, which would refuse a
signature it did not make (`without_minted_thinking`).
"""

from __future__ import annotations

from typing import Any

from llm_gateway.model.canonical import ChatMessage
from llm_gateway.model.wire import ApiFamily

_MINTED = "llm-gateway.v1."
# How a minted signature shows in a request's bytes (a quick test before any is looked for).
MINTED_MARK = _MINTED.encode()


def signed_by(family: ApiFamily, signature: str) -> str:
    """The canonical `reasoning_signature` for a signature `family`'s API made."""
    return f"{family.value}:{signature}"


def signature_for(family: ApiFamily, canonical: object) -> str | None:
    """The signature `family`'s API made, from a canonical `reasoning_signature` (a caller's
    value, so of any type); None for another family's, or an untagged one (as minted before
    signatures were tagged)."""
    prefix = f"{family.value}:"
    if not isinstance(canonical, str) or not canonical.startswith(prefix):
        return None
    return canonical[len(prefix) :] or None


def minted(signature: str | None) -> str:
    """The thinking-block signature that carries an upstream's signature (or none)."""
    return _MINTED + (signature or "")


def is_minted(signature: object) -> bool:
    """Whether a thinking block's signature is one the gateway minted."""
    return isinstance(signature, str) and signature.startswith(_MINTED)


def carried(signature: str) -> str | None:
    """The upstream's signature a minted one carries, if any."""
    return signature[len(_MINTED) :] or None


def without_signatures(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The messages without the signatures one upstream's API gave them, for another's."""
    if not any("reasoning_signature" in message for message in messages):
        return messages
    unsigned = []
    for message in messages:
        message = message.copy()
        message.pop("reasoning_signature", None)
        unsigned.append(message)
    return unsigned


def without_minted_thinking(messages: Any) -> Any:
    """Anthropic messages without the thinking blocks the gateway minted (Anthropic refuses
    a signature it did not make): a conversation that moved back to Anthropic."""
    if not isinstance(messages, list):
        return messages
    kept = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            blocks = [
                block
                for block in content
                if not (
                    isinstance(block, dict)
                    and block.get("type") == "thinking"
                    and is_minted(block.get("signature"))
                )
            ]
            message = {**message, "content": blocks}
        kept.append(message)
    return kept
