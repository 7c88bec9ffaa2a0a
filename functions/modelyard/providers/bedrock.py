"""AWS Bedrock's Converse and ConverseStream APIs through boto3, translated to and from OpenAI's
shapes. IAM authenticates (the function's role): there is no key.

The provider's `base_url`, when set, is the `bedrock-runtime` endpoint (the local simulator);
empty means the region's own. boto3 blocks, so each call runs in a worker thread; a stream is
read one event per hop, and closing it releases the connection.

Request: system messages become `system` blocks; tool calls and results become `toolUse` /
`toolResult` blocks; images become `image` blocks (Converse takes bytes, so linked images are
fetched first); JSON mode, which Converse lacks, becomes a system instruction. Converse has
no `n` > 1, `logprobs`, `reasoning_effort`, `top_k` or server tools (its model-specific
`additionalModelRequestFields` differ per model family): providers/parameters.json says so, and
the planner routes requests that use them elsewhere. Response and
stream: content blocks and the stream's events become an OpenAI message or chunks; `usage` is
normalised (Converse counts cache reads and writes apart from `inputTokens`, and in
`totalTokens`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import (
    BlockFormat,
    ChatResult,
    ChunkWriter,
    StreamState,
    StreamTranslator,
    answer_tool,
    choice,
    completion,
    data_url,
    json_instruction,
    max_tokens,
    stop_sequences,
    tool_call,
    tool_choice,
)
from modelyard.providers.errors import ErrorKind, UpstreamError, kind_for_status
from modelyard.providers.fetch import FetchPolicy, fetch
from modelyard.providers.openai_compat import malformed
from modelyard.settings import get_settings

DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",  # the guardrail's own message is the answer
}
#: Converse error codes (any case: stream exceptions arrive as `throttlingException`)
ERROR_KINDS = {
    "throttlingexception": ErrorKind.RATE_LIMITED,
    "servicequotaexceededexception": ErrorKind.RATE_LIMITED,
    "serviceunavailableexception": ErrorKind.OVERLOADED,
    "modelnotreadyexception": ErrorKind.OVERLOADED,
    "modeltimeoutexception": ErrorKind.TIMEOUT,
    "internalserverexception": ErrorKind.SERVER_ERROR,
    "modelerrorexception": ErrorKind.SERVER_ERROR,
    "modelstreamerrorexception": ErrorKind.SERVER_ERROR,
    "accessdeniedexception": ErrorKind.AUTH_ERROR,
    "unrecognizedclientexception": ErrorKind.AUTH_ERROR,
    "expiredtokenexception": ErrorKind.AUTH_ERROR,
    "resourcenotfoundexception": ErrorKind.NOT_FOUND,
}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
MAX_IMAGE_BYTES = 3_932_160  # Converse's limit per image (3.75 MB)


def usage_from_bedrock(usage: dict[str, Any] | None) -> TokenUsage:
    usage = usage or {}
    read = int(usage.get("cacheReadInputTokens") or 0)
    written = int(usage.get("cacheWriteInputTokens") or 0)
    return TokenUsage(
        input_tokens=int(usage.get("inputTokens") or 0) + read + written,
        output_tokens=int(usage.get("outputTokens") or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


# -- request ---------------------------------------------------------------------------------
def _image(url: str) -> dict[str, Any]:
    inline = data_url(url)
    if inline is None or inline[0] not in IMAGE_FORMATS:
        raise UpstreamError(ErrorKind.BAD_REQUEST, "Bedrock takes png, jpeg, gif or webp images")
    try:
        data = base64.b64decode(inline[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(ErrorKind.BAD_REQUEST, "image data is not base64") from exc
    return {"image": {"format": IMAGE_FORMATS[inline[0]], "source": {"bytes": data}}}


def _text_of(content: Any) -> str:
    return "".join(str(p.get("text", "")) for p in content or () if isinstance(p, dict))


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    text = content if isinstance(content, str) else _text_of(content)
    result = {"toolUseId": message.get("tool_call_id"), "content": [{"text": text or " "}]}
    return {"toolResult": result}


BLOCKS = BlockFormat(
    # Converse rejects empty text blocks
    text=lambda part: {"text": part["text"]} if part.get("text") else None,
    image=_image,
    tool_use=lambda id_, name, args: {"toolUse": {"toolUseId": id_, "name": name, "input": args}},
    tool_result=_tool_result,
)


def to_converse(body: dict[str, Any], model: Model) -> dict[str, Any]:
    """The keyword arguments of boto3's `converse` / `converse_stream` for an OpenAI body."""
    system, messages = BLOCKS.conversation(body.get("messages") or [])
    answer = answer_tool(body)  # a JSON schema answer comes as a forced tool's input
    instruction = None if answer else json_instruction(body.get("response_format"))
    if instruction:
        system.append({"text": instruction})
    out: dict[str, Any] = {"modelId": model.upstream, "messages": messages}
    if system:
        out["system"] = system
    inference: dict[str, Any] = {"maxTokens": max_tokens(body, model, DEFAULT_MAX_TOKENS)}
    if body.get("temperature") is not None:
        inference["temperature"] = min(float(body["temperature"]), 1.0)  # Converse's range
    if body.get("top_p") is not None:
        inference["topP"] = body["top_p"]
    stop = stop_sequences(body)
    if stop:
        inference["stopSequences"] = stop
    out["inferenceConfig"] = inference
    tool_config = _tool_config(body, messages)
    if answer is not None:
        name, description, schema = answer
        spec = {"name": name, "description": description, "inputSchema": {"json": schema}}
        tool_config = {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": name}}}
    if tool_config:
        out["toolConfig"] = tool_config
    return out


def _tool_config(body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Tools and the choice among them. Converse has no "none": the tools are left out instead,
    unless the conversation already holds tool blocks, which require them."""
    tools = body.get("tools")
    if not tools:
        return None
    choice_ = body.get("tool_choice")
    has_tool_blocks = any(
        "toolUse" in b or "toolResult" in b for m in messages for b in m["content"]
    )
    if choice_ == "none" and not has_tool_blocks:
        return None
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": t["function"]["name"],
                    "description": t["function"].get("description") or t["function"]["name"],
                    "inputSchema": {"json": t["function"].get("parameters") or {"type": "object"}},
                }
            }
            for t in tools
        ]
    }
    mode = tool_choice(
        choice_,
        {"auto": {"auto": {}}, "required": {"any": {}}},
        lambda function: {"tool": {"name": function.get("name")}},
    )
    if mode:
        config["toolChoice"] = mode
    return config


# -- response --------------------------------------------------------------------------------
def _check_filtered(stop_reason: Any) -> None:
    if stop_reason == "content_filtered":
        raise UpstreamError(ErrorKind.CONTENT_FILTERED, "bedrock filtered the answer")


def to_openai(data: dict[str, Any], model: Model) -> ChatResult:
    _check_filtered(data.get("stopReason"))
    message = (data.get("output") or {}).get("message")
    if not isinstance(message, dict):
        raise ValueError("no output message")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(tool_call(use.get("toolUseId"), use.get("name"), use.get("input")))
    finish = FINISH_REASONS.get(str(data.get("stopReason")), "stop")
    request_id = (data.get("ResponseMetadata") or {}).get("RequestId") or uuid.uuid4().hex
    return completion(
        "chatcmpl-" + request_id,
        model.upstream,
        [choice(0, texts, calls, finish)],
        usage_from_bedrock(data.get("usage")),
    )


def bedrock_error(exc: Exception) -> UpstreamError:
    """A botocore exception (or event-stream parser error) in the taxonomy."""
    from botocore import exceptions
    from botocore.eventstream import ParserError

    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        message = str(error.get("Message") or exc)
        meta: dict[str, Any] = dict(exc.response.get("ResponseMetadata") or {})
        status = int(meta.get("HTTPStatusCode") or 0) or None
        kind = ERROR_KINDS.get(code.lower())
        if kind is None:
            kind = kind_for_status(status or 500, message)
        retry_after = (meta.get("HTTPHeaders") or {}).get("retry-after")
        return UpstreamError(
            kind,
            f"bedrock returned {code}: {message}"[:500],
            status=status,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    if isinstance(exc, exceptions.ReadTimeoutError | exceptions.ConnectTimeoutError):
        return UpstreamError(ErrorKind.TIMEOUT, f"bedrock timed out ({type(exc).__name__})")
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return UpstreamError(ErrorKind.AUTH_ERROR, "no AWS credentials for bedrock")
    if isinstance(exc, exceptions.ParamValidationError):
        return UpstreamError(ErrorKind.BAD_REQUEST, f"bedrock request invalid: {exc}"[:500])
    if isinstance(exc, ParserError):
        return UpstreamError(ErrorKind.MALFORMED_RESPONSE, f"malformed bedrock stream ({exc})")
    return UpstreamError(ErrorKind.CONNECTION, f"bedrock connection failed ({type(exc).__name__})")


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking boto3 call in a worker thread, its failure in the taxonomy."""
    from botocore.eventstream import ParserError
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError, ReadTimeoutError

    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except (BotoCoreError, ClientError, ParserError) as exc:
        raise bedrock_error(exc) from exc
    except ReadTimeoutError as exc:  # a stream read surfaces urllib3's errors unwrapped
        raise UpstreamError(ErrorKind.TIMEOUT, "bedrock stream read timed out") from exc
    except (HTTPError, OSError) as exc:
        kind = ErrorKind.CONNECTION
        raise UpstreamError(kind, f"bedrock connection failed ({type(exc).__name__})") from exc


async def inline_images(body: dict[str, Any]) -> dict[str, Any]:
    """The body with linked images fetched into data URLs: Converse takes image bytes only,
    where OpenAI's and Anthropic's APIs fetch a link themselves. Links go through
    `providers.fetch` (public https only, capped, or not at all when fetching is off)."""
    links = {
        url
        for message in body.get("messages") or ()
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") == "image_url"
        and not data_url(url := (part.get("image_url") or {}).get("url", ""))
    }
    if not links:
        return body
    policy = FetchPolicy.from_settings(get_settings())
    fetched = {}
    for link in links:
        media_type, data = await fetch(link, policy, MAX_IMAGE_BYTES, IMAGE_FORMATS.__contains__)
        fetched[link] = f"data:{media_type};base64,{base64.b64encode(data).decode()}"

    def inlined(part: dict[str, Any]) -> dict[str, Any]:
        url = (part.get("image_url") or {}).get("url")
        if part.get("type") != "image_url" or url not in fetched:
            return part
        return {**part, "image_url": {**part["image_url"], "url": fetched[url]}}

    messages = [
        {**m, "content": [inlined(p) for p in m["content"]]}
        if isinstance(m.get("content"), list)
        else m
        for m in body["messages"]
    ]
    return {**body, "messages": messages}


class BedrockAdapter:
    def _client(self, provider: Provider) -> Any:
        from modelyard import aws

        return aws.client("bedrock-runtime", provider.base_url or None)

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        kwargs = to_converse(await inline_images(body), model)
        data = await _call(self._client(provider).converse, **kwargs)
        try:
            return to_openai(data, model)
        except (ValueError, AttributeError, TypeError) as exc:
            raise malformed(provider, exc) from exc

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        kwargs = to_converse(await inline_images(body), model)
        response = await _call(self._client(provider).converse_stream, **kwargs)
        events = response["stream"]
        request_id = (response.get("ResponseMetadata") or {}).get("RequestId") or uuid.uuid4().hex
        translator = _StreamTranslator(state, ChunkWriter("chatcmpl-" + request_id, model.upstream))
        try:
            async for chunk in translator.translate(_events(events)):
                yield chunk
        finally:
            events.close()


async def _events(stream: Any) -> AsyncIterator[dict[str, Any]]:
    """A ConverseStream's events, each read in a worker thread."""
    iterator = iter(stream)
    while (event := await _call(next, iterator, None)) is not None:
        yield event


class _StreamTranslator(StreamTranslator):
    """ConverseStream events (as botocore parses them) in, OpenAI chunks out."""

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if "messageStart" in event:
            return [self.start()]
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use:
                block = start.get("contentBlockIndex", 0)
                return [self.tool_start(block, use.get("toolUseId"), use.get("name"))]
            return []
        if "contentBlockDelta" in event:
            block_delta = event["contentBlockDelta"]
            delta = block_delta.get("delta") or {}
            if "text" in delta:
                return [self.out.chunk({"content": delta["text"]})]
            if "toolUse" in delta:
                block = block_delta.get("contentBlockIndex", 0)
                return [self.tool_arguments(block, delta["toolUse"].get("input", ""))]
            return []  # reasoning content is not the answer
        if "messageStop" in event:
            reason = event["messageStop"].get("stopReason")
            _check_filtered(reason)
            return [self.finish(FINISH_REASONS.get(str(reason), "stop"))]
        if "metadata" in event:
            self.end(usage_from_bedrock(event["metadata"].get("usage")))
        return []  # contentBlockStop
