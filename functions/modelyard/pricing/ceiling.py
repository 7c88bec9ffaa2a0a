"""The most a chat request can cost: what a hard budget reserves before any upstream call.

A reservation below the bill lets one request overshoot a hard budget, so every term here is
an upper bound, never an estimate:

- input: every tokenizer the providers use (byte-level BPE, SentencePiece with byte
  fallback) spends at most one token per UTF-8 byte of text, so the prompt's text bytes bound
  its tokens; each message adds at most `MESSAGE_OVERHEAD_TOKENS` of chat template, a request
  `REQUEST_OVERHEAD_TOKENS`, tools or a response schema `TOOLS_OVERHEAD_TOKENS` of the
  provider's own instructions, and an image at most `IMAGE_MAX_TOKENS` (above what any
  provider bills for its largest image after its own resizing). No prompt exceeds the model's
  context window (the provider refuses it), so that caps it too;
- output: `n` answers of at most `max_tokens` each (the model's own maximum when unset or
  larger), reasoning included;
- rates: the dearest that can apply to each token, so input at the cache-write rate where it
  is dearer than plain input, and output at the reasoning rate where that is dearer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from modelyard.pricing.prices import MILLION, normalize

if TYPE_CHECKING:
    from modelyard.routing.planner import Candidate

MESSAGE_OVERHEAD_TOKENS = 8
REQUEST_OVERHEAD_TOKENS = 16
TOOLS_OVERHEAD_TOKENS = 1024
IMAGE_MAX_TOKENS = 2048
#: request fields that reach the prompt besides the messages
PROMPT_FIELDS = ("tools", "functions", "response_format", "tool_choice")


def input_token_ceiling(body: dict[str, Any]) -> int:
    """At most how many input tokens any provider can bill for `body` (see the module)."""
    messages = body.get("messages") or []
    tokens = REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS * len(messages)
    for message in messages:
        text, images = _message_parts(message)
        tokens += text + images * IMAGE_MAX_TOKENS
    extras = [body[name] for name in PROMPT_FIELDS if body.get(name)]
    if extras:
        tokens += TOOLS_OVERHEAD_TOKENS + _utf8_len(json.dumps(extras, ensure_ascii=False))
    return tokens


def output_token_ceiling(body: dict[str, Any], model_max: int) -> int:
    """`n` answers of at most the request's cap, which the model's own maximum bounds."""
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    per_answer = min(int(asked), model_max) if asked else model_max
    return max(int(body.get("n") or 1), 1) * per_answer


def worst_case_cost(candidates: Sequence[Candidate], body: dict[str, Any]) -> Decimal | None:
    """The most `body` can cost on any candidate it may be served or retried on."""
    prompt = input_token_ceiling(body)
    costs = []
    for c in candidates:
        price = c.price
        input_rate = max(price.input, price.cache_write or 0, price.cached_input or 0)
        output_rate = max(price.output, price.reasoning or 0)
        input_tokens = min(prompt, c.model.context_window)
        output_tokens = output_token_ceiling(body, c.model.max_output_tokens)
        costs.append(normalize((input_tokens * input_rate + output_tokens * output_rate) / MILLION))
    return max(costs) if costs else None


def _message_parts(message: dict[str, Any]) -> tuple[int, int]:
    """(UTF-8 bytes of the message's text and other fields, images in it)."""
    rest = {k: v for k, v in message.items() if k != "content"}
    size = _utf8_len(json.dumps(rest, ensure_ascii=False)) if rest else 0
    content = message.get("content")
    if isinstance(content, str):
        return size + _utf8_len(content), 0
    images = 0
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            size += _utf8_len(str(part))
        elif part.get("type") in ("image_url", "image", "input_image"):
            images += 1
        elif isinstance(part.get("text"), str):
            size += _utf8_len(part["text"])
        else:
            size += _utf8_len(json.dumps(part, ensure_ascii=False))
    return size, images


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
