"""A hard budget's reservation is never less than what the provider can bill the request.

The provider here is the most expensive one the request could meet: a tokenizer that spends
a token on every UTF-8 byte, the chat template's own tokens per message, the largest image
bill any provider documents, every prompt token written to the prompt cache where that is the
dearer rate, `n` answers each as long as allowed, and reasoning billed where that is dearer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.cli import _offline_catalog
from modelyard.errors import GatewayError
from modelyard.pricing.ceiling import worst_case_cost
from modelyard.pricing.prices import TokenUsage, cost_usd
from modelyard.routing.planner import Candidate, RequestFeatures, RouteRequest, plan_route

CATALOG = _offline_catalog()
TODAY = "2026-12-01"
CHAT_MODELS = sorted(m.id for m in CATALOG.models.values() if m.kind == "chat")
#: the largest image bill each wire documents (Anthropic ~1,600 tokens at 1.15 megapixels;
#: OpenAI 8 tiles x 170 + 85 at high detail after its resize; Gemini 1,290 at high resolution)
IMAGE_TOKENS = {"anthropic": 1600, "bedrock": 1600, "openai": 1445, "gemini": 1290}
#: tokens a chat template adds per message and to prime the answer (OpenAI documents 3 and 3)
TEMPLATE_PER_MESSAGE, TEMPLATE_PRIMING = 4, 3

scripts = st.sampled_from(
    [
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK, 3 bytes each
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji, 4 bytes each
        st.characters(codec="utf-8", exclude_categories=["Cs"]),  # anything
    ]
).flatmap(lambda alphabet: st.text(alphabet, max_size=3000))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    messages = []
    for _ in range(draw(st.integers(1, 4))):
        text = draw(scripts)
        images = draw(st.integers(0, 2))
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            parts += [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
            ] * images
            messages.append({"role": "user", "content": parts})
        else:
            messages.append({"role": draw(st.sampled_from(["user", "system"])), "content": text})
    body: dict[str, Any] = {"model": draw(st.sampled_from(CHAT_MODELS)), "messages": messages}
    cap = draw(st.none() | st.integers(1, 70_000))
    if cap is not None:
        body["max_tokens"] = cap
    n = draw(st.none() | st.integers(1, 4))
    if n is not None:
        body["n"] = n
    return body


def dearest_bill(candidate: Candidate, body: dict[str, Any]) -> Decimal:
    """What the most expensive provider could bill `body` on `candidate`."""
    tokens = TEMPLATE_PRIMING
    for message in body["messages"]:
        tokens += TEMPLATE_PER_MESSAGE + len(message["role"].encode())
        content = message["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if part["type"] == "text":
                tokens += len(part["text"].encode())
            else:
                tokens += IMAGE_TOKENS.get(candidate.provider.wire, 1600)
    prompt = min(tokens, candidate.model.context_window)
    price = candidate.price
    per_answer = min(body.get("max_tokens") or 10**9, candidate.model.max_output_tokens)
    output = (body.get("n") or 1) * per_answer
    writes = price.cache_write is not None and price.cache_write > price.input
    reasoning = price.reasoning is not None and price.reasoning > price.output
    usage = TokenUsage(
        input_tokens=prompt,
        output_tokens=output,
        cache_write_tokens=prompt if writes else 0,
        reasoning_tokens=output if reasoning else 0,
    )
    return cost_usd(usage, price)


@settings(max_examples=300, deadline=None)
@given(requests())
def test_no_admitted_request_can_cost_more_than_it_reserved(body: dict[str, Any]):
    try:
        plan = plan_route(
            RouteRequest.from_body(body), RequestFeatures.from_chat(body), CATALOG, today=TODAY
        )
    except GatewayError:  # refused before admission (no model can take it)
        return
    reserved = worst_case_cost(plan.candidates, body)
    assert reserved is not None
    for candidate in plan.candidates:
        assert dearest_bill(candidate, body) <= reserved, candidate.model.id


def test_a_lone_request_cannot_overshoot_a_one_cent_budget():
    """The review's kind of case: a CJK prompt on Claude (prompt-cache writes at $3.75/M):
    characters / 4 x 1.5 reserved $0.0039 for a bill of up to $0.0139. The review sent `n` 2
    with `max_tokens` 200; Claude cannot honour `n` > 1 (a 400 now), so the same output is one
    answer of 400."""
    body = {
        "model": "claude-4-sonnet",
        "max_tokens": 400,
        "messages": [{"role": "user", "content": "漢" * 700}],
    }
    plan = plan_route(
        RouteRequest.from_body(body), RequestFeatures.from_chat(body), CATALOG, today=TODAY
    )
    [candidate] = plan.candidates
    reserved = worst_case_cost(plan.candidates, body)
    assert reserved is not None and dearest_bill(candidate, body) <= reserved
