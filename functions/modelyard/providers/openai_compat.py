"""The OpenAI Chat Completions wire format: OpenAI, DeepSeek, Qwen (DashScope compatible mode),
Kimi (Moonshot), Yi, Groq, Together, OpenRouter, vLLM, Ollama and aggregators, by base URL.

Streams pass through as bytes: each event's JSON goes to the client exactly as the upstream
sent it (never decoded to text and encoded again), and is parsed only when it carries usage or
an error, so the common chunk costs a substring test, not a JSON round trip.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from modelyard.capped import TooLarge, read_capped
from modelyard.catalog import Model, Provider
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import ChatResult, StreamState, StreamTranslator
from modelyard.providers.credentials import provider_api_key
from modelyard.providers.errors import (
    ErrorKind,
    UpstreamError,
    kind_for_status,
    parse_retry_after,
)
from modelyard.providers.http import http_client
from modelyard.providers.native import RESPONSES, is_private, native_request, sse_frame
from modelyard.providers.responses_upstream import (
    ResponsesTranslator,
    chat_result,
    responses_payload,
)


def usage_from_openai(usage: dict[str, Any] | None) -> TokenUsage | None:
    """Normalise OpenAI's usage object (and DeepSeek's cache-hit fields)."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0)
    out_details = usage.get("completion_tokens_details") or {}
    return TokenUsage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )


class OpenAICompatAdapter:
    """Adapter for every upstream that speaks OpenAI's Chat Completions API."""

    def _request(
        self, provider: Provider, model: Model, body: dict[str, Any], stream: bool
    ) -> httpx.Request:
        payload = dict(body)
        payload["model"] = model.upstream
        for name in [name for name in payload if name == "modelyard" or is_private(name)]:
            del payload[name]  # the gateway's own (a /v1/messages thinking: reasoning_effort)
        if stream:
            payload["stream"] = True
            # Always ask for usage: a stream must be billed from the provider's own count.
            payload["stream_options"] = {
                **(body.get("stream_options") or {}),
                "include_usage": True,
            }
        else:
            payload.pop("stream", None)
            payload.pop("stream_options", None)
        return _post(provider, "/chat/completions", payload, model)

    async def chat(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        native = native_request(body, RESPONSES, provider.dialects)
        if native is not None:  # a /v1/responses request, to a provider that speaks it
            payload = responses_payload(native, model, stream=False)
            request = _post(provider, "/responses", payload, model)
            return await send_json(request, provider, http_error, chat_result)
        return await _send(self._request(provider, model, body, stream=False), provider, "choices")

    async def embed(self, provider: Provider, model: Model, body: dict[str, Any]) -> ChatResult:
        """OpenAI's embeddings endpoint, the body passed through with the upstream model name."""
        payload = {**body, "model": model.upstream}
        payload.pop("modelyard", None)
        return await _send(_post(provider, "/embeddings", payload, model), provider, "data")

    async def stream(
        self, provider: Provider, model: Model, body: dict[str, Any], state: StreamState
    ) -> AsyncIterator[bytes]:
        native = native_request(body, RESPONSES, provider.dialects)
        if native is not None:
            request = _post(provider, "/responses", responses_payload(native, model, True), model)
            translator = ResponsesTranslator(state)
            async with open_stream(request, http_error) as response:
                frames = native_events(response, provider, translator, translator.error_frame)
                async for frame in frames:
                    yield frame
            return
        request = self._request(provider, model, body, stream=True)
        async with open_stream(request, http_error) as response:
            async for data in sse_data(response, provider):
                if data == b"[DONE]":
                    return
                if b'"usage":{' in data or b'"usage": {' in data or b'"error"' in data:
                    parsed = _parse_chunk(data, provider)
                    if "error" in parsed:
                        error = parsed["error"] or {}
                        raise UpstreamError(
                            kind_for_status(
                                int(error.get("code") or 500)
                                if str(error.get("code", "")).isdigit()
                                else 500,
                                str(error.get("message", "")),
                            ),
                            f"{provider.id} stream error: {error.get('message', 'unknown')}",
                        )
                    usage = usage_from_openai(parsed.get("usage"))
                    if usage is not None:
                        state.usage = usage
                    if not parsed.get("choices"):
                        state.usage_chunk = parsed
                        continue
                    _note_choices(parsed, state)
                state.chunks += 1
                yield data


def _post(provider: Provider, path: str, payload: dict[str, Any], model: Model) -> httpx.Request:
    """The upstream request; Azure OpenAI names the deployment in the path and takes its key
    in an `api-key` header, everyone else a Bearer token."""
    base = provider.base_url.rstrip("/")
    if provider.api_version:
        url = f"{base}/openai/deployments/{model.upstream}{path}"
        headers = key_header(provider, "api-key")
        return post_json(url, payload, headers, {"api-version": provider.api_version})
    return post_json(base + path, payload, key_header(provider, "authorization", "Bearer "))


async def _send(request: httpx.Request, provider: Provider, items: str) -> ChatResult:
    """A non-streaming call whose answer must hold the list `items` and usage."""

    def result(data: Any) -> ChatResult:
        usage = usage_from_openai(data.get("usage"))
        if not isinstance(data.get(items), list) or usage is None:
            raise ValueError(f"no {items} or usage")
        return ChatResult(body=data, usage=usage)

    return await send_json(request, provider, http_error, result)


def key_header(provider: Provider, name: str, prefix: str = "") -> dict[str, str]:
    """The provider's API key as the header `name` (none without a key)."""
    key = provider_api_key(provider.api_key_env)
    return {name: prefix + key} if key else {}


def post_json(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> httpx.Request:
    """A request that POSTs `payload` as compact JSON."""
    return http_client().build_request(
        "POST",
        url,
        params=params,
        content=json.dumps(payload, separators=(",", ":")),
        headers={"content-type": "application/json", **headers},
    )


#: an upstream's HTTP error (status, body, headers) in the taxonomy
ErrorReader = Callable[[int, bytes, httpx.Headers], UpstreamError]


async def send_json(
    request: httpx.Request,
    provider: Provider,
    error: ErrorReader,
    to_openai: Callable[[Any], ChatResult],
) -> ChatResult:
    """A non-streaming call; its JSON answer through `to_openai`, which raises `ValueError`
    (or fails on a shape it cannot read) for a malformed one."""
    response = await send(request, stream=True)
    try:
        if response.status_code >= 400:
            raise error(response.status_code, await read_error(response), response.headers)
        content = await read_capped(response.aiter_bytes(), MAX_RESPONSE_BYTES)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    except TooLarge as exc:  # a buggy compatible server may answer gigabytes
        raise UpstreamError(
            ErrorKind.MALFORMED_RESPONSE, f"response from {provider.id} is {exc}"
        ) from exc
    finally:
        await response.aclose()
    try:
        return to_openai(json.loads(content))
    except (ValueError, AttributeError, TypeError) as exc:
        raise malformed(provider, exc) from exc


#: the largest non-streaming answer read from an upstream: a completion is kilobytes, 2,048
#: embeddings of 1,536 floats ~40 MB as JSON (the SDKs ask for base64, a third of that)
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: what is read of an error answer (its message is cut to 500 characters anyway)
MAX_ERROR_BYTES = 64 * 1024


async def read_error(response: httpx.Response) -> bytes:
    """The start of an error answer, at most `MAX_ERROR_BYTES` of it."""
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) >= MAX_ERROR_BYTES:
            break
    return bytes(content[:MAX_ERROR_BYTES])


@asynccontextmanager
async def open_stream(request: httpx.Request, error: ErrorReader) -> AsyncIterator[httpx.Response]:
    """A streaming call's response, open while the block reads it: its HTTP error raised
    through `error`, transport failures mapped, and the connection released however it ends."""
    response = await send(request, stream=True)
    try:
        if response.status_code >= 400:
            raise error(response.status_code, await read_error(response), response.headers)
        yield response
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    finally:
        await response.aclose()


def _parse_chunk(data: bytes, provider: Provider) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise UpstreamError(
            ErrorKind.MALFORMED_RESPONSE, f"malformed stream chunk from {provider.id}"
        ) from exc
    if not isinstance(parsed, dict):
        raise UpstreamError(ErrorKind.MALFORMED_RESPONSE, f"malformed chunk from {provider.id}")
    return parsed


def _note_choices(chunk: dict[str, Any], state: StreamState) -> None:
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]


async def send(request: httpx.Request, stream: bool = False) -> httpx.Response:
    """The shared client's send, with transport failures mapped into the taxonomy."""
    try:
        return await http_client().send(request, stream=stream)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc


#: the longest SSE line accepted from an upstream (a chunk is a few hundred bytes)
MAX_SSE_LINE_BYTES = 4 * 1024 * 1024


async def sse_data(response: httpx.Response, provider: Provider) -> AsyncIterator[bytes]:
    """The payload of each `data:` line of an SSE stream, as the upstream's bytes (no text
    decoding). `event:` lines, comments (": keep-alive") and blank separators are skipped: the
    formats that name their events repeat the name inside the data."""
    pending = b""
    async for block in response.aiter_bytes():
        *lines, pending = (pending + block).split(b"\n")
        if len(pending) > MAX_SSE_LINE_BYTES:
            raise UpstreamError(
                ErrorKind.MALFORMED_RESPONSE, f"oversized stream line from {provider.id}"
            )
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if pending.startswith(b"data:"):
        yield pending[5:].strip()


async def sse_json_events(
    response: httpx.Response, provider: Provider
) -> AsyncIterator[dict[str, Any]]:
    """Each `data:` line of an SSE stream, parsed."""
    async for data in sse_data(response, provider):
        yield _parse_chunk(data, provider)


async def native_events(
    response: httpx.Response,
    provider: Provider,
    translator: StreamTranslator,
    error_frame: Callable[[str], bytes],
) -> AsyncIterator[bytes]:
    """The upstream's own events, each an SSE frame named by its `type` around the data as
    sent (providers.native). Each is also fed to `translator`, whose chunks are dropped: it
    only fills in the stream's state (usage, finish, counts) and raises on an error event."""
    state = translator.state
    state.native_error = error_frame
    async for data in sse_data(response, provider):
        event = _parse_chunk(data, provider)
        state.chunks += len(translator.feed(event))
        yield sse_frame(str(event.get("type")), data)
        if translator.done:
            return
    translator.close()


def malformed(provider: Provider, exc: Exception) -> UpstreamError:
    return UpstreamError(
        ErrorKind.MALFORMED_RESPONSE, f"malformed response from {provider.id}: {exc}"
    )


def transport_error(exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(ErrorKind.TIMEOUT, f"upstream timed out ({type(exc).__name__})")
    return UpstreamError(ErrorKind.CONNECTION, f"upstream connection failed ({type(exc).__name__})")


def http_error(status: int, content: bytes, headers: httpx.Headers) -> UpstreamError:
    """An upstream HTTP error, with the provider's own message when its body has one."""
    message = ""
    try:
        parsed = json.loads(content)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
    except ValueError:
        message = content[:200].decode(errors="replace")
    return UpstreamError(
        kind_for_status(status, message),
        f"upstream returned {status}: {message}"[:500],
        status=status,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )
