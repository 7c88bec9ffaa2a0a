"""Google Gemini's `generateContent` API (v1beta REST), translated to and from OpenAI's shapes.

Request: system/developer messages become `systemInstruction`; turns become `contents` with the
roles `user` and `model`; images become `inlineData` (data URLs) or `fileData` parts; tool
calls and results become `functionCall` / `functionResponse` parts (a result names its
function, found through the call id); tools, `tool_choice`, JSON mode and the sampling
options go into `tools`, `toolConfig` and `generationConfig`: `n` as `candidateCount`, `top_k` as
`topK`, `logprobs` / `top_logprobs` as `responseLogprobs` / `logprobs` (the answer's
`logprobsResult` comes back as OpenAI's `choices[].logprobs`; the model must support them),
and `reasoning_effort` (or a `/v1/messages` request's `thinking` budget) as
`thinkingConfig.thinkingBudget` (providers/parameters.json). Schemas are sent as JSON Schema
(`parametersJsonSchema`, `responseJsonSchema`): OpenAI clients write JSON Schema, which the
older OpenAPI-subset fields reject (`additionalProperties`, type arrays).

Response and stream (`streamGenerateContent?alt=sse`, each event a whole
`GenerateContentResponse`): candidates become choices; a prompt blocked by safety filters
(`promptFeedback.blockReason`) or an answer stopped by them becomes `content_filtered`;
`usageMetadata` is normalised (thinking tokens are output tokens, billed as such).
"""

from __future__ import annotations

import json
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import (
    BlockFormat,
    ChatResult,
    ChunkWriter,
    StreamState,
    StreamTranslator,
    choice,
    completion,
    data_url,
    max_tokens,
    stop_sequences,
    tool_call,
    tool_choice,
    tool_names,
)
from modelyard.providers.errors import ErrorKind, UpstreamError
from modelyard.providers.openai_compat import (
    http_error,
    key_header,
    open_stream,
    post_json,
    send_json,
    sse_json_events,
)
from modelyard.providers.parameters import thinking_budget

#: finish reasons that mean a safety or policy filter stopped the answer
FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}
#: google.rpc status names that say more than the HTTP status does
STATUS_KINDS = {
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMITED,
    "UNAVAILABLE": ErrorKind.OVERLOADED,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
    "INTERNAL": ErrorKind.SERVER_ERROR,
    "UNAUTHENTICATED": ErrorKind.AUTH_ERROR,
    "PERMISSION_DENIED": ErrorKind.AUTH_ERROR,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
}
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def usage_from_gemini(usage: dict[str, Any] | None) -> TokenUsage:
    """`promptTokenCount` already includes cached tokens; thoughts are counted apart from the
    candidates, and tool-use prompts apart from the prompt."""
    usage = usage or {}
    thoughts = int(usage.get("thoughtsTokenCount") or 0)
    return TokenUsage(
        input_tokens=int(usage.get("promptTokenCount") or 0)
        + int(usage.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(usage.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=int(usage.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


# -- request ---------------------------------------------------------------------------------
def _image(url: str) -> dict[str, Any]:
    inline = data_url(url)
    if inline:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    mime = mimetypes.guess_type(url)[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _function_response(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A tool result as a `functionResponse` part: it names the function, found through the
    call id, and its `response` must be an object (`output` by convention)."""
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    try:
        output = json.loads(text)
    except ValueError:
        output = text
    name = names.get(str(message.get("tool_call_id")), message.get("name") or "")
    return {"functionResponse": {"name": name, "response": {"output": output}}}


def to_gemini(body: dict[str, Any], model: Model) -> dict[str, Any]:
    messages = body.get("messages") or []
    names = tool_names(messages)
    parts = BlockFormat(
        text=lambda part: {"text": part.get("text", "")},
        image=_image,
        tool_use=lambda _id, name, args: {"functionCall": {"name": name, "args": args}},
        tool_result=lambda message: _function_response(message, names),
        assistant="model",
        key="parts",
    )
    system, contents = parts.conversation(messages)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config = _generation_config(body, model)
    if config:
        out["generationConfig"] = config
    tools = body.get("tools")
    if tools:
        declarations = []
        for tool in tools:
            function = tool.get("function") or {}
            declaration = {"name": function["name"], "description": function.get("description", "")}
            if function.get("parameters"):
                declaration["parametersJsonSchema"] = function["parameters"]
            declarations.append(declaration)
        out["tools"] = [{"functionDeclarations": declarations}]
        calling = tool_choice(
            body.get("tool_choice"),
            {"auto": {"mode": "AUTO"}, "required": {"mode": "ANY"}, "none": {"mode": "NONE"}},
            lambda function: {"mode": "ANY", "allowedFunctionNames": [function["name"]]},
        )
        if calling:
            out["toolConfig"] = {"functionCallingConfig": calling}
    return out


def _generation_config(body: dict[str, Any], model: Model) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = max_tokens(body, model)
    if limit:
        config["maxOutputTokens"] = limit
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("n", "candidateCount"),
        ("top_k", "topK"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    stop = stop_sequences(body)
    if stop:
        config["stopSequences"] = stop
    if body.get("logprobs"):
        config["responseLogprobs"] = True
        if body.get("top_logprobs"):
            config["logprobs"] = body["top_logprobs"]
    budget = thinking_budget(body)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    response_format = body.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            config["responseJsonSchema"] = schema
    return config


# -- response --------------------------------------------------------------------------------
def _check_blocked(data: dict[str, Any]) -> None:
    reason = (data.get("promptFeedback") or {}).get("blockReason")
    if reason:
        raise UpstreamError(ErrorKind.CONTENT_FILTERED, f"gemini blocked the prompt ({reason})")
    for candidate in data.get("candidates") or ():
        if candidate.get("finishReason") in FILTERED:
            raise UpstreamError(
                ErrorKind.CONTENT_FILTERED,
                f"gemini stopped the answer ({candidate['finishReason']})",
            )


def _candidate_output(candidate: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if part.get("thought"):
            continue  # thought summaries are not the answer
        if "text" in part:
            texts.append(part["text"])
        elif "functionCall" in part:
            call = part["functionCall"]
            call_id = call.get("id") or "call_" + uuid.uuid4().hex[:24]
            calls.append(tool_call(call_id, call.get("name", ""), call.get("args") or {}))
    return texts, calls


def _finish(reason: str | None, has_calls: bool) -> str:
    if has_calls:
        return "tool_calls"
    return FINISH_REASONS.get(str(reason), "stop")


def to_openai(data: dict[str, Any], model: Model) -> ChatResult:
    _check_blocked(data)
    choices = []
    for i, candidate in enumerate(data.get("candidates") or ()):
        texts, calls = _candidate_output(candidate)
        finish = _finish(candidate.get("finishReason"), bool(calls))
        choices.append(choice(candidate.get("index", i), texts, calls, finish))
        if candidate.get("logprobsResult"):
            choices[-1]["logprobs"] = _logprobs(candidate["logprobsResult"])
    if not choices:
        raise ValueError("no candidates")
    response_id = data.get("responseId") or uuid.uuid4().hex
    return completion(
        "chatcmpl-" + response_id,
        data.get("modelVersion") or model.upstream,
        choices,
        usage_from_gemini(data.get("usageMetadata")),
    )


def _logprobs(result: dict[str, Any]) -> dict[str, Any]:
    """`logprobsResult` (the chosen token and the top alternatives at each step) as OpenAI's
    `logprobs.content`."""

    def entry(candidate: dict[str, Any]) -> dict[str, Any]:
        token = str(candidate.get("token", ""))
        logprob = float(candidate.get("logProbability") or 0.0)
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    tops = result.get("topCandidates") or []
    content = []
    for step, chosen in enumerate(result.get("chosenCandidates") or ()):
        alternatives = (tops[step] if step < len(tops) else {}).get("candidates") or ()
        content.append({**entry(chosen), "top_logprobs": [entry(c) for c in alternatives]})
    return {"content": content, "refusal": None}


def gemini_error(status: int, content: bytes, headers: httpx.Headers) -> UpstreamError:
    """The `google.rpc.Status` body: its status name refines the kind, and a `RetryInfo`
    detail gives the wait (Gemini sends no Retry-After header)."""
    error = http_error(status, content, headers)
    try:
        body = json.loads(content).get("error") or {}
    except (ValueError, AttributeError):
        return error
    name = body.get("status")
    details = body.get("details") or []
    if name in STATUS_KINDS:
        error.kind = STATUS_KINDS[name]
    elif any(d.get("reason") == "API_KEY_INVALID" for d in details if isinstance(d, dict)):
        error.kind = ErrorKind.AUTH_ERROR  # a bad key is a 400 INVALID_ARGUMENT
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match and error.retry_after is None:
                error.retry_after = float(match.group(1))
    return error


class GeminiAdapter:
    def _request(
        self, provider: Provider, model: Model, body: dict[str, Any], stream: bool
    ) -> httpx.Request:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return post_json(
            f"{provider.base_url.rstrip('/')}/v1beta/models/{model.upstream}:{method}",
            to_gemini(body, model),
            key_header(provider, "x-goog-api-key"),
        )

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        request = self._request(provider, model, body, False)
        return await send_json(request, provider, gemini_error, lambda data: to_openai(data, model))

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        request = self._request(provider, model, body, True)
        async with open_stream(request, gemini_error) as response:
            events = sse_json_events(response, provider)
            async for chunk in _StreamTranslator(state, model).translate(events):
                yield chunk


class _StreamTranslator(StreamTranslator):
    """Gemini stream events (each a partial `GenerateContentResponse`) in, OpenAI chunks out."""

    def __init__(self, state: StreamState, model: Model) -> None:
        super().__init__(state)
        self.model = model
        self.calls = 0

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "error" in event:
            error = event.get("error") or {}
            raise UpstreamError(
                STATUS_KINDS.get(str(error.get("status")), ErrorKind.SERVER_ERROR),
                f"gemini stream error: {error.get('message', 'unknown')}",
            )
        _check_blocked(event)
        if event.get("usageMetadata"):
            self.state.usage = usage_from_gemini(event["usageMetadata"])  # cumulative
        chunks = []
        if not self.out.id:  # the first event names the stream
            response_id = event.get("responseId") or uuid.uuid4().hex
            self.out = ChunkWriter(
                "chatcmpl-" + response_id, event.get("modelVersion") or self.model.upstream
            )
            chunks.append(self.start())
        for i, candidate in enumerate(event.get("candidates") or ()):
            index = candidate.get("index", i)
            texts, calls = _candidate_output(candidate)
            if texts:
                chunks.append(self.out.chunk({"content": "".join(texts)}, index=index))
            for call in calls:  # Gemini sends each call whole
                function = call["function"]
                chunks.append(
                    self.out.tool_call(
                        self.calls, call["id"], function["name"], function["arguments"], index
                    )
                )
                self.calls += 1
            if candidate.get("finishReason"):
                finish = _finish(candidate["finishReason"], self.calls > 0)
                chunks.append(self.finish(finish, index))
        return chunks

    def close(self) -> None:
        """The stream ended: its last usage, if any came, becomes the usage chunk."""
        if self.state.usage is not None:
            self.state.usage_chunk = self.out.usage_chunk(self.state.usage)
