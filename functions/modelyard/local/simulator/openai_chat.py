"""OpenAI Chat Completions on the SIMULATED upstream: the request read as an `Ask`, the
`Answer` written as a `chat.completion` or as `chat.completion.chunk` SSE frames."""

from __future__ import annotations

from typing import Any

from modelyard.local.simulator.core import Answer, Ask, Choice, Tool, Turn, text_of
from modelyard.local.simulator.wire import FINGERPRINT, Frames, first_token_unpaced, sse

#: what a malformed fault sends instead of the answer (whole, streamed)
BROKEN = (
    b'{"id": "chatcmpl-broken", "choices": [',
    b'data: {"id": "chatcmpl-broken", "choices": [\n\n',
)


def ask(body: dict[str, Any]) -> Ask:
    mode, allowed = tool_choice(body.get("tool_choice"))
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    schema = (response_format.get("json_schema") or {}).get("schema")
    stop = body.get("stop")
    return Ask(
        turns=[
            Turn(str(m.get("role")), text_of(m.get("content"))) for m in body.get("messages") or []
        ],
        tools=[
            Tool(str(f.get("name", "tool")), f.get("parameters"))
            for f in ((t.get("function") or {}) for t in body.get("tools") or [])
        ],
        tool_choice=mode,
        allowed_tools=allowed,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        schema=schema if kind == "json_schema" and isinstance(schema, dict) else None,
        json_object=kind in ("json_object", "json_schema"),
        n=int(body.get("n") or 1),
        logprobs=bool(body.get("logprobs")),
        top_logprobs=int(body.get("top_logprobs") or 0),
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
    )


def tool_choice(choice: Any) -> tuple[str, tuple[str, ...] | None]:
    """OpenAI's tool_choice (a mode, `{"type": "function", "function": {"name"}}`, the
    Responses API's flat `{"type": "function", "name"}`, or `{"type": "allowed_tools"}`) as a
    mode and the names it allows."""
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or choice
        names = [(t.get("function") or t).get("name") for t in allowed.get("tools") or []]
        mode = "required" if allowed.get("mode") == "required" else "auto"
        return mode, tuple(str(name) for name in names)
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return "required", (str(name),)
    return (choice if choice in ("none", "required") else "auto"), None


def usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.total_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def logprob_entries(
    answer: Answer, choice: Choice, start: int = 0, end: int | None = None
) -> list[dict[str, Any]]:
    """OpenAI's per-token log probabilities of `choice`'s tokens [start:end] (Chat Completions'
    `logprobs.content` and the Responses API's `output_text.logprobs` share the shape)."""
    top = answer.ask.top_logprobs
    return [
        {
            "token": e.token,
            "logprob": e.logprob,
            "bytes": list(e.token.encode()),
            "top_logprobs": [
                {"token": t, "logprob": p, "bytes": list(t.encode())} for t, p in e.top[:top]
            ],
        }
        for e in choice.logprobs(top)[start:end]
    ]


def _logprobs(answer: Answer, choice: Choice, start: int = 0, end: int | None = None) -> Any:
    if not answer.ask.logprobs:
        return None
    return {"content": logprob_entries(answer, choice, start, end), "refusal": None}


def _tool_calls(choice: Choice) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in choice.tool_calls
    ]


def completion(answer: Answer) -> dict[str, Any]:
    choices = []
    for choice in answer.choices:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.text if choice.pieces else None,
            "refusal": None,
        }
        if choice.tool_calls:
            message["tool_calls"] = _tool_calls(choice)
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": _logprobs(answer, choice) if choice.pieces else None,
                "finish_reason": choice.finish,
            }
        )
    return {
        "id": "chatcmpl-sim" + answer.id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": usage(answer),
    }


def chunks(answer: Answer, include_usage: bool) -> Frames:
    """The stream's frames: per choice a role delta, its tokens, its tool calls (name first,
    then arguments) and its finish; the usage chunk last when asked for. Every delta after the
    first waits a token's time."""

    def chunk(
        choice: Choice, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": "chatcmpl-sim" + answer.id,
            "object": "chat.completion.chunk",
            "created": answer.created,
            "model": answer.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [
                {
                    "index": choice.index,
                    "delta": delta,
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            ],
        }
        if include_usage:
            out["usage"] = None
        return out

    frames: list[tuple[dict[str, Any], bool]] = []
    for choice in answer.choices:
        frames.append((chunk(choice, {"role": "assistant", "content": "", "refusal": None}), False))
        for i, piece in enumerate(choice.pieces):
            logprobs = _logprobs(answer, choice, i, i + 1)
            frames.append((chunk(choice, {"content": piece}, logprobs=logprobs), True))
        for index, call in enumerate(choice.tool_calls):
            named = {"name": call.name, "arguments": ""}
            head = {"index": index, "id": call.id, "type": "function", "function": named}
            frames.append((chunk(choice, {"tool_calls": [head]}), True))
            tail = {"index": index, "function": {"arguments": call.arguments}}
            frames.append((chunk(choice, {"tool_calls": [tail]}), True))
        frames.append((chunk(choice, {}, choice.finish), False))
    if include_usage:
        final = chunk(answer.choices[0], {})
        final["choices"] = []
        final["usage"] = usage(answer)
        frames.append((final, False))
    done = (b"data: [DONE]\n\n", False)
    return [*first_token_unpaced([(sse(payload), wait) for payload, wait in frames]), done]
