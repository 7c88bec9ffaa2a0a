"""Gemini `generateContent` / `streamGenerateContent` on the SIMULATED upstream: contents,
function declarations, `toolConfig.functionCallingConfig` and `generationConfig`
(maxOutputTokens, candidateCount, stopSequences, responseMimeType with responseSchema or
responseJsonSchema, responseLogprobs and logprobs) read as an `Ask`; the `Answer` written as
a `GenerateContentResponse` or as the partial responses of its stream."""

from __future__ import annotations

from typing import Any

from modelyard.local.simulator.core import Answer, Ask, Choice, Tool, Turn
from modelyard.local.simulator.wire import Frames, first_token_unpaced, sse

_MODES = {"NONE": "none", "ANY": "required", "VALIDATED": "auto"}

#: what a malformed fault sends instead of the answer (whole, streamed)
BROKEN = (b'{"candidates": [{"content": {', b'data: {"candidates": [{"content": \r\n\r\n')


def ask(body: dict[str, Any]) -> Ask:
    turns = []
    system = body.get("systemInstruction") or {}
    if system.get("parts"):
        turns.append(Turn("system", _text(system["parts"])))
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        is_result = any("functionResponse" in p for p in parts)
        role = "tool" if is_result else ("assistant" if content.get("role") == "model" else "user")
        turns.append(Turn(role, _text(parts)))
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames")
    config = body.get("generationConfig") or {}
    json_mode = config.get("responseMimeType") == "application/json"
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    return Ask(
        turns=turns,
        tools=[
            Tool(str(d.get("name")), d.get("parametersJsonSchema") or d.get("parameters"))
            for tool in body.get("tools") or []
            for d in tool.get("functionDeclarations") or []
        ],
        tool_choice=_MODES.get(str(calling.get("mode")), "auto"),
        allowed_tools=tuple(allowed) if allowed and calling.get("mode") == "ANY" else None,
        schema=schema if json_mode and isinstance(schema, dict) else None,
        json_object=json_mode,
        n=int(config.get("candidateCount") or 1),
        logprobs=bool(config.get("responseLogprobs")),
        top_logprobs=int(config.get("logprobs") or 0),
        stop=tuple(config.get("stopSequences") or ()),
        max_tokens=config.get("maxOutputTokens"),
    )


def _text(parts: list[dict[str, Any]]) -> str:
    return " ".join(str(p.get("text", "")) for p in parts)


def _usage(answer: Answer, completion_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": completion_tokens,
        "totalTokenCount": answer.prompt_tokens + completion_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.prompt_tokens}],
    }


def _calls(choice: Choice) -> list[dict[str, Any]]:
    return [{"functionCall": {"name": c.name, "args": c.input}} for c in choice.tool_calls]


def _candidate(
    answer: Answer, choice: Choice, parts: list[dict[str, Any]], span: tuple[int, int] | None
) -> dict[str, Any]:
    """A candidate with `parts`; the log probabilities of its tokens [span] when asked for."""
    candidate: dict[str, Any] = {
        "content": {"parts": parts, "role": "model"},
        "index": choice.index,
    }
    if answer.ask.logprobs and span is not None:
        entries = choice.logprobs(max(answer.ask.top_logprobs, 1))[span[0] : span[1]]
        result: dict[str, Any] = {
            "chosenCandidates": [{"token": e.token, "logProbability": e.logprob} for e in entries]
        }
        if answer.ask.top_logprobs:
            result["topCandidates"] = [
                {"candidates": [{"token": t, "logProbability": p} for t, p in e.top]}
                for e in entries
            ]
        candidate["logprobsResult"] = result
        if entries:
            candidate["avgLogprobs"] = sum(e.logprob for e in entries) / len(entries)
    return candidate


def _finish(choice: Choice) -> str:
    return "MAX_TOKENS" if choice.finish == "length" else "STOP"


def _envelope(answer: Answer, candidates: list[dict[str, Any]], tokens: int) -> dict[str, Any]:
    return {
        "candidates": candidates,
        "usageMetadata": _usage(answer, tokens),
        "modelVersion": answer.model,
        "responseId": answer.id,
    }


def response(answer: Answer) -> dict[str, Any]:
    candidates = []
    for choice in answer.choices:
        parts = ([{"text": choice.text}] if choice.pieces else []) + _calls(choice)
        candidate = _candidate(answer, choice, parts, (0, len(choice.pieces)))
        candidates.append({**candidate, "finishReason": _finish(choice)})
    return _envelope(answer, candidates, answer.completion_tokens)


def chunks(answer: Answer) -> list[dict[str, Any]]:
    """Each event a partial response with one candidate's next token (or its calls) and the
    usage so far; a candidate's last event has its finishReason."""
    out: list[dict[str, Any]] = []
    done = 0
    for choice in answer.choices:
        steps: list[tuple[list[dict[str, Any]], tuple[int, int] | None]] = [
            ([{"text": piece}], (i, i + 1)) for i, piece in enumerate(choice.pieces)
        ]
        if choice.tool_calls:
            steps.append((_calls(choice), None))
        for i, (parts, span) in enumerate(steps or [([{"text": ""}], None)]):
            candidate = _candidate(answer, choice, parts, span)
            done = min(done + 1, answer.completion_tokens)
            if i == max(len(steps), 1) - 1:
                candidate["finishReason"] = _finish(choice)
                done = sum(c.tokens for c in answer.choices[: choice.index + 1])
            out.append(_envelope(answer, [candidate], done))
    return out


def frames(answer: Answer) -> Frames:
    return first_token_unpaced([(sse(chunk, b"\r\n\r\n"), True) for chunk in chunks(answer)])
