"""SIMULATED upstream providers for local runs, tests and benchmarks. Not a real model.

Speaks the providers' documented wire formats, non-streaming and streaming: OpenAI Chat
Completions (with `stream_options.include_usage`) and embeddings; Anthropic Messages with its
SSE event types; Google Gemini `generateContent` / `streamGenerateContent?alt=sse`; AWS Bedrock
Converse / ConverseStream, the stream in AWS's binary event-stream framing that botocore
parses. Tool calls, JSON mode, each provider's error bodies and retry hints. Paces itself by
each model's time to first token and tokens per second, counts calls, and injects the faults
of `MODELYARD_SIM_FAULTS`. Every reply says it is simulated (`system_fingerprint:
"modelyard-simulated"` where the format has a place for it, header `x-modelyard-simulated:
true` always).

In-band control for tests: `[sim:tokens=N]` in the last user message sets the reply length.

SIMULATED prompt caching (OpenAI's rule, deterministic): on the OpenAI wire, a request whose
messages before the last one come to at least 1024 tokens and repeat a prefix the same model
saw before reports that prefix, rounded down to 128-token steps, as
`prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import struct
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from modelyard.local.faults import Fault, parse_faults, pick_fault
from modelyard.providers.anthropic import error_type_for_status, openai_request

FINGERPRINT = "modelyard-simulated"
SIM_HEADERS = {"x-modelyard-simulated": "true"}
DEFAULT_REPLY_TOKENS = 24
#: OpenAI caches prompts from 1024 tokens on, in 128-token steps
PROMPT_CACHE_MIN_TOKENS = 1024
PROMPT_CACHE_STEP = 128
EMBEDDING_DIMENSIONS = 1536
_TOKENS_DIRECTIVE = re.compile(r"\[sim:tokens=(\d{1,5})\]")
_WORDS = [
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "model",
    "that",
    "fits",
    "its",
    "task",
    "and",
    "budget",
    "while",
    "keeping",
    "every",
    "token",
    "accounted",
    "for",
    "across",
    "providers",
    "and",
    "regions",
]


@dataclass(frozen=True, slots=True)
class SimModel:
    id: str
    upstream: str
    ttft_ms: int
    tokens_per_second: int


class SimulatedFailure(Exception):
    """Raised inside a response to cut the connection (a reset or a mid-stream failure)."""


class Simulator:
    def __init__(
        self,
        models: list[SimModel],
        *,
        faults: str | None = None,
        latency: str = "realistic",
        retry_after: str = "1",
        seed: int | None = None,
    ) -> None:
        self.models = {m.upstream.lower(): m for m in models} | {m.id.lower(): m for m in models}
        self.faults = parse_faults(faults)
        self.latency = latency
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.calls: Counter[str] = Counter()
        #: hashes of the prompt prefixes each model has seen (the simulated prompt cache)
        self.prompt_prefixes: set[str] = set()

    # -- pacing and content --------------------------------------------------------------------
    def _model(self, name: str) -> SimModel | None:
        return self.models.get(name.lower())

    def _delays(self, model: SimModel) -> tuple[float, float]:
        if self.latency == "zero":
            return 0.0, 0.0
        return model.ttft_ms / 1000, 1 / max(model.tokens_per_second, 1)

    def _cached_tokens(self, model: SimModel, messages: list[dict[str, Any]]) -> int:
        """Tokens of the prompt prefix (all but the last message) seen before, if long enough."""
        prefix = messages[:-1]
        tokens = _token_count(" ".join(_text_of(m.get("content")) for m in prefix))
        if not prefix or tokens < PROMPT_CACHE_MIN_TOKENS:
            return 0
        key = hashlib.sha256(json.dumps([model.id, prefix], sort_keys=True).encode()).hexdigest()
        seen = key in self.prompt_prefixes
        self.prompt_prefixes.add(key)
        return tokens // PROMPT_CACHE_STEP * PROMPT_CACHE_STEP if seen else 0

    async def _call(
        self, model: SimModel, refuse: Callable[[int, str], Response]
    ) -> tuple[Fault | None, Response | None]:
        """Count a call to `model` and draw its injected fault: a status fault is answered by
        `refuse(status, message)` (the format's error), a timeout hangs; any other fault is
        returned for the answer to act on (malformed, reset, midstream)."""
        self.calls[model.id] += 1
        fault = pick_fault(self.faults, (model.id, model.upstream), self.rng)
        if fault is not None and fault.status is not None:
            return fault, refuse(fault.status, f"simulated {fault.status} from {model.id}")
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(3600)
        return fault, None

    def _retry_after(self, status: int) -> dict[str, str]:
        return {"retry-after": self.retry_after} if status == 429 else {}

    def _openai_refusal(self, status: int, message: str) -> Response:
        return _openai_error(
            status, message, _error_type(status), headers=self._retry_after(status)
        )

    async def _openai_body_and_model(
        self, request: Request
    ) -> tuple[dict[str, Any], SimModel] | Response:
        """The request's JSON and the model it names, or OpenAI's error for either."""
        try:
            body = await request.json()
        except ValueError:
            return _openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        model = self._model(str(body.get("model", "")))
        if model is None:
            return _openai_error(
                404,
                f"The model `{body.get('model')}` does not exist",
                "invalid_request_error",
                code="model_not_found",
            )
        return body, model

    # -- OpenAI wire format --------------------------------------------------------------------
    async def openai_chat(self, request: Request) -> Response:
        found = await self._openai_body_and_model(request)
        if isinstance(found, Response):
            return found
        body, model = found
        fault, refused = await self._call(model, self._openai_refusal)
        if refused is not None:
            return refused
        reply = _Reply.build(body, model)
        reply.cached_tokens = self._cached_tokens(model, body.get("messages") or [])
        ttft, per_token = self._delays(model)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = reply.openai_chunks(include_usage)
            frames = [
                (_sse(chunk), i > 1 and bool(chunk["choices"]) and not _finished(chunk))
                for i, chunk in enumerate(chunks)
            ]
            frames.append((b"data: [DONE]\n\n", False))
            broken = b'data: {"id": "chatcmpl-broken", "choices": [\n\n'
            return _stream(_paced(frames, ttft, per_token, fault, broken, cut_at=3))
        broken = b'{"id": "chatcmpl-broken", "choices": ['
        return await _answer(reply.openai_completion(), reply, ttft, per_token, fault, broken)

    # -- Anthropic wire format -----------------------------------------------------------------
    async def anthropic_messages(self, request: Request) -> Response:
        if not request.headers.get("anthropic-version"):
            return _anthropic_error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        try:
            body = await request.json()
        except ValueError:
            return _anthropic_error(400, "invalid_request_error", "invalid JSON body")
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return _anthropic_error(
                400, "invalid_request_error", "max_tokens: Field required; messages: Field required"
            )
        model = self._model(str(body.get("model", "")))
        if model is None:
            return _anthropic_error(404, "not_found_error", f"model: {body.get('model')}")
        fault, refused = await self._call(
            model,
            lambda status, message: _anthropic_error(
                status, error_type_for_status(status), message, self._retry_after(status)
            ),
        )
        if refused is not None:
            return refused
        reply = _Reply.build(openai_request(body), model)
        ttft, per_token = self._delays(model)
        if body.get("stream"):
            frames = [
                (_named_event(event), event["type"] == "content_block_delta" and i > 3)
                for i, event in enumerate(reply.anthropic_events())
            ]
            broken = b'event: message_start\ndata: {"type": "message_start", \n\n'
            return _stream(_paced(frames, ttft, per_token, fault, broken, cut_at=4))
        broken = b'{"type": "message", "content": ['
        return await _answer(reply.anthropic_message(), reply, ttft, per_token, fault, broken)

    # -- OpenAI embeddings ----------------------------------------------------------------------
    async def openai_embeddings(self, request: Request) -> Response:
        found = await self._openai_body_and_model(request)
        if isinstance(found, Response):
            return found
        body, model = found
        inputs = body.get("input")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and isinstance(inputs[0], int)
        ):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return _openai_error(400, "'input' is a required property", "invalid_request_error")
        _, refused = await self._call(model, self._openai_refusal)
        if refused is not None:
            return refused
        await asyncio.sleep(self._delays(model)[0])
        dimensions = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += len(item) if isinstance(item, list) else _token_count(text)
            vector = _embedding(text, dimensions)
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
                if as_base64
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model.upstream,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            headers=SIM_HEADERS,
        )

    # -- Gemini wire format --------------------------------------------------------------------
    async def gemini_generate(self, request: Request) -> Response:
        name, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return _gemini_error(404, f"Method {method!r} not found.")
        try:
            body = await request.json()
        except ValueError:
            return _gemini_error(400, "Invalid JSON payload received.")
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            return _gemini_error(
                400, "* GenerateContentRequest.contents: contents is not specified"
            )
        model = self._model(name)
        if model is None:
            return _gemini_error(
                404,
                f"models/{name} is not found for API version v1beta, or is not supported for "
                f"{method}. Call ListModels to see the list of available models and their "
                "supported methods.",
            )
        fault, refused = await self._call(
            model, lambda status, message: _gemini_error(status, message, self.retry_after)
        )
        if refused is not None:
            return refused
        reply = _Reply.build(_gemini_view(body), model)
        ttft, per_token = self._delays(model)
        if method == "streamGenerateContent":
            if request.query_params.get("alt") != "sse":  # without it: one JSON array, at the end
                await asyncio.sleep(ttft + per_token * reply.completion_tokens)
                return JSONResponse(reply.gemini_chunks(), headers=SIM_HEADERS)
            frames = [
                (_sse(chunk, b"\r\n\r\n"), i > 0) for i, chunk in enumerate(reply.gemini_chunks())
            ]
            broken = b'data: {"candidates": [{"content": \r\n\r\n'
            return _stream(_paced(frames, ttft, per_token, fault, broken, cut_at=3))
        broken = b'{"candidates": [{"content": {'
        return await _answer(reply.gemini_response(), reply, ttft, per_token, fault, broken)

    # -- Bedrock wire format -------------------------------------------------------------------
    async def bedrock_converse(self, request: Request) -> Response:
        stream = request.url.path.endswith("/converse-stream")
        if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return _bedrock_error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        try:
            body = await request.json()
        except ValueError:
            return _bedrock_error(400, "Malformed input request, please reformat your input.")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _bedrock_error(400, "The messages field is required.")
        model = self._model(request.path_params["model_id"])
        if model is None:
            return _bedrock_error(400, "The provided model identifier is invalid.")
        fault, refused = await self._call(model, _bedrock_error)
        if refused is not None:
            return refused
        reply = _Reply.build(_converse_view(body), model)
        ttft, per_token = self._delays(model)
        headers = {**SIM_HEADERS, "x-amzn-requestid": str(uuid.uuid4())}
        if stream:
            corrupt = fault is not None and fault.kind == "malformed"
            frames = [
                (
                    _bedrock_frame(event_type, payload, corrupt),
                    event_type == "contentBlockDelta" and i > 1,
                )
                for i, (event_type, payload) in enumerate(reply.bedrock_events())
            ]
            events = _paced(frames, ttft, per_token, fault, None, cut_at=3)
            return _stream(events, "application/vnd.amazon.eventstream", headers)
        broken = b'{"output": {"message": '
        return await _answer(
            reply.bedrock_converse(), reply, ttft, per_token, fault, broken, headers
        )

    # -- control -------------------------------------------------------------------------------
    async def stats(self, _request: Request) -> Response:
        return JSONResponse({"simulated": True, "calls": dict(self.calls)})

    async def configure(self, request: Request) -> Response:
        """Replace the fault spec and/or latency mode at run time; resets the call counts."""
        body = await request.json()
        try:
            self.configure_now(body.get("faults"), body.get("latency"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": body.get("faults"), "latency": self.latency})

    def configure_now(self, faults: str | None = None, latency: str | None = None) -> None:
        if faults is not None:
            self.faults = parse_faults(faults)
        if latency is not None:
            if latency not in ("realistic", "zero"):
                raise ValueError("latency is 'realistic' or 'zero'")
            self.latency = latency
        self.calls.clear()
        self.prompt_prefixes.clear()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{provider}/v1/chat/completions", self.openai_chat, methods=["POST"]),
                Route("/{provider}/v1/messages", self.anthropic_messages, methods=["POST"]),
                Route("/{provider}/v1/embeddings", self.openai_embeddings, methods=["POST"]),
                Route("/{provider}/v1beta/models/{target}", self.gemini_generate, methods=["POST"]),
                Route("/model/{model_id}/converse", self.bedrock_converse, methods=["POST"]),
                Route("/model/{model_id}/converse-stream", self.bedrock_converse, methods=["POST"]),
                Route("/_sim/stats", self.stats, methods=["GET"]),
                Route("/_sim/config", self.configure, methods=["POST"]),
            ]
        )


@dataclass
class _Reply:
    """One simulated answer, rendered the same way streamed or not."""

    id: str
    created: int
    model: str
    pieces: list[str]
    tool_calls: list[dict[str, Any]]
    prompt_tokens: int
    cached_tokens: int = 0

    @property
    def completion_tokens(self) -> int:
        return len(self.pieces) + sum(len(t["function"]["arguments"]) // 4 for t in self.tool_calls)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    @classmethod
    def build(cls, body: dict[str, Any], model: SimModel) -> _Reply:
        messages = body.get("messages") or []
        text = " ".join(_text_of(m.get("content")) for m in messages)
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        match = _TOKENS_DIRECTIVE.search(last_user)
        wanted = int(match.group(1)) if match else DEFAULT_REPLY_TOKENS
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit:
            wanted = min(wanted, int(limit))
        tools = body.get("tools") or []
        tool_calls = []
        if tools and body.get("tool_choice") != "none" and messages[-1].get("role") != "tool":
            tool_calls = [_tool_call(tools[0])]
        pieces: list[str] = []
        if not tool_calls:
            fmt = (body.get("response_format") or {}).get("type")
            if fmt in ("json_object", "json_schema"):
                pieces = [json.dumps({"answer": "simulated", "model": model.id})]
            else:
                words = [f"(simulated {model.id})"] + [
                    _WORDS[i % len(_WORDS)] for i in range(max(wanted - 1, 0))
                ]
                pieces = [w if i == 0 else " " + w for i, w in enumerate(words[:wanted])]
        return cls(
            id="chatcmpl-sim" + uuid.uuid4().hex[:20],
            created=int(time.time()),
            model=model.upstream,
            pieces=pieces,
            tool_calls=tool_calls,
            prompt_tokens=max(1, round(len(text.split()) * 4 / 3)) + 3 * len(messages),
        )

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def openai_completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.pieces) if self.pieces else None,
            "refusal": None,
        }
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage(),
        }

    def openai_chunks(self, include_usage: bool) -> list[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": FINGERPRINT,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                out["usage"] = None
            return out

        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({"content": piece}) for piece in self.pieces]
        for index, call in enumerate(self.tool_calls):
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            chunks.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "function": {"arguments": call["function"]["arguments"]},
                            }
                        ]
                    }
                )
            )
        chunks.append(chunk({}, self.finish_reason))
        if include_usage:
            final = chunk({})
            final["choices"] = []
            final["usage"] = self.usage()
            chunks.append(final)
        return chunks

    def _anthropic_usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.prompt_tokens,
            "output_tokens": self.completion_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _anthropic_blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.pieces:
            blocks.append({"type": "text", "text": "".join(self.pieces)})
        for call in self.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": "toolu_" + call["id"].removeprefix("call_"),
                    "name": call["function"]["name"],
                    "input": json.loads(call["function"]["arguments"]),
                }
            )
        return blocks

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool_calls else "end_turn"

    def anthropic_message(self) -> dict[str, Any]:
        return {
            "id": "msg_sim" + self.id.removeprefix("chatcmpl-sim"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self._anthropic_blocks(),
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self._anthropic_usage(),
        }

    def anthropic_events(self) -> list[dict[str, Any]]:
        start = self.anthropic_message()
        start["content"] = []
        start["stop_reason"] = None
        start["usage"] = {**self._anthropic_usage(), "output_tokens": 1}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for index, block in enumerate(self._anthropic_blocks()):
            if block["type"] == "text":
                events.append(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
                if index == 0:
                    events.append({"type": "ping"})
                events += [
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    }
                    for piece in self.pieces
                ]
            else:
                events.append(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {**block, "input": {}},
                    }
                )
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {
                            "type": "input_json_delta",
                            "partial_json": json.dumps(block["input"]),
                        },
                    }
                )
            events.append({"type": "content_block_stop", "index": index})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.completion_tokens},
            }
        )
        events.append({"type": "message_stop"})
        return events

    # -- Gemini ----------------------------------------------------------------------------------
    def _gemini_usage(self, completion_tokens: int) -> dict[str, Any]:
        return {
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": completion_tokens,
            "totalTokenCount": self.prompt_tokens + completion_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": self.prompt_tokens}],
        }

    def _gemini_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "functionCall": {
                    "name": call["function"]["name"],
                    "args": json.loads(call["function"]["arguments"]),
                }
            }
            for call in self.tool_calls
        ]

    def gemini_response(self) -> dict[str, Any]:
        parts = [{"text": "".join(self.pieces)}] if self.pieces else []
        return {
            "candidates": [
                {
                    "content": {"parts": parts + self._gemini_calls(), "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": self._gemini_usage(self.completion_tokens),
            "modelVersion": self.model,
            "responseId": self.id.removeprefix("chatcmpl-sim"),
        }

    def gemini_chunks(self) -> list[dict[str, Any]]:
        """Each event a partial response with the usage so far; the last has finishReason."""
        parts = [[{"text": piece}] for piece in self.pieces]
        if self.tool_calls:
            parts.append(self._gemini_calls())
        chunks = []
        for i, chunk_parts in enumerate(parts or [[{"text": ""}]]):
            candidate: dict[str, Any] = {
                "content": {"parts": chunk_parts, "role": "model"},
                "index": 0,
            }
            last = i == len(parts or [[]]) - 1
            if last:
                candidate["finishReason"] = "STOP"
            done = self.completion_tokens if last else min(i + 1, self.completion_tokens)
            chunks.append(
                {
                    "candidates": [candidate],
                    "usageMetadata": self._gemini_usage(done),
                    "modelVersion": self.model,
                    "responseId": self.id.removeprefix("chatcmpl-sim"),
                }
            )
        return chunks

    # -- Bedrock ---------------------------------------------------------------------------------
    def _bedrock_usage(self) -> dict[str, Any]:
        return {
            "inputTokens": self.prompt_tokens,
            "outputTokens": self.completion_tokens,
            "totalTokens": self.prompt_tokens + self.completion_tokens,
            "cacheReadInputTokens": 0,
            "cacheWriteInputTokens": 0,
        }

    def _bedrock_uses(self) -> list[dict[str, Any]]:
        return [
            {
                "toolUseId": "tooluse_" + call["id"].removeprefix("call_sim"),
                "name": call["function"]["name"],
                "input": json.loads(call["function"]["arguments"]),
            }
            for call in self.tool_calls
        ]

    def bedrock_converse(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"text": "".join(self.pieces)}] if self.pieces else []
        content += [{"toolUse": use} for use in self._bedrock_uses()]
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self.stop_reason,
            "usage": self._bedrock_usage(),
            "metrics": {"latencyMs": 1},
        }

    def bedrock_events(self) -> list[tuple[str, dict[str, Any]]]:
        """(event type, payload) pairs: text blocks have no start event, tool blocks do."""
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        index = 0
        if self.pieces:
            events += [
                ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
                for piece in self.pieces
            ]
            events.append(("contentBlockStop", {"contentBlockIndex": 0}))
            index = 1
        for offset, use in enumerate(self._bedrock_uses()):
            block = index + offset
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            delta = {"toolUse": {"input": json.dumps(use["input"])}}
            events += [
                ("contentBlockStart", {"contentBlockIndex": block, "start": start}),
                ("contentBlockDelta", {"contentBlockIndex": block, "delta": delta}),
                ("contentBlockStop", {"contentBlockIndex": block}),
            ]
        events.append(("messageStop", {"stopReason": self.stop_reason}))
        events.append(("metadata", {"usage": self._bedrock_usage(), "metrics": {"latencyMs": 1}}))
        return events


async def _answer(
    body: dict[str, Any],
    reply: _Reply,
    ttft: float,
    per_token: float,
    fault: Fault | None,
    broken: bytes,
    headers: dict[str, str] = SIM_HEADERS,
) -> Response:
    """A whole answer, after as long as the model would take to write it, or its fault."""
    await asyncio.sleep(ttft + per_token * reply.completion_tokens)
    if fault is not None and fault.kind == "malformed":
        return Response(broken, media_type="application/json")
    if fault is not None and fault.kind in ("reset", "midstream"):
        return _CutResponse(body)
    return JSONResponse(body, headers=headers)


async def _paced(
    frames: list[tuple[bytes, bool]],
    ttft: float,
    per_token: float,
    fault: Fault | None,
    broken: bytes | None,
    cut_at: int,
) -> AsyncIterator[bytes]:
    """Stream frames as the model makes them: its time to first token, then a token's time
    before each frame marked paced; faults cut, garble or reset the stream."""
    if fault is not None and fault.kind == "reset":
        raise SimulatedFailure("connection reset before the first byte")
    await asyncio.sleep(ttft)
    if fault is not None and fault.kind == "malformed" and broken is not None:
        yield broken
        return
    for i, (frame, paced) in enumerate(frames):
        if fault is not None and fault.kind == "midstream" and i == cut_at:
            raise SimulatedFailure("connection dropped mid-stream")
        if paced:
            await asyncio.sleep(per_token)
        yield frame


def _stream(
    frames: AsyncIterator[bytes],
    media_type: str = "text/event-stream",
    headers: dict[str, str] = SIM_HEADERS,
) -> StreamingResponse:
    return StreamingResponse(frames, media_type=media_type, headers=headers)


def _sse(payload: dict[str, Any], end: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + end


def _named_event(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def _finished(chunk: dict[str, Any]) -> bool:
    return chunk["choices"][0].get("finish_reason") is not None


def _bedrock_frame(event_type: str, payload: dict[str, Any], corrupt: bool) -> bytes:
    message = event_stream_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload, separators=(",", ":")).encode(),
    )
    return message[:-4] + b"\x00\x00\x00\x00" if corrupt else message  # a wrong message CRC


class _CutResponse(Response):
    """Sends headers and part of the body, then drops the connection."""

    def __init__(self, content: dict[str, Any]) -> None:
        super().__init__(json.dumps(content).encode(), media_type="application/json")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[:10], "more_body": True})
        raise SimulatedFailure("connection reset mid-body")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _tool_call(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    properties = (function.get("parameters") or {}).get("properties") or {}
    samples = {"string": "simulated", "integer": 1, "number": 1.5, "boolean": True}
    arguments = {
        name: samples.get(str(spec.get("type")), "simulated") if isinstance(spec, dict) else None
        for name, spec in properties.items()
    }
    return {
        "id": "call_sim" + uuid.uuid4().hex[:16],
        "type": "function",
        "function": {"name": function.get("name", "tool"), "arguments": json.dumps(arguments)},
    }


def _anthropic_error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return JSONResponse(body, status_code=status, headers={**SIM_HEADERS, **(headers or {})})


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_exceeded"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def _openai_error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers={**SIM_HEADERS, **(headers or {})})


def event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One `application/vnd.amazon.eventstream` message: prelude (total and headers length,
    CRC32), string headers (type 7), payload, CRC32 of everything before it."""
    encoded = b"".join(
        struct.pack(">B", len(name))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _token_count(text: str) -> int:
    return max(1, round(len(text.split()) * 4 / 3))


def _embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text`: the same text always gets the same vector."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def _gemini_view(body: dict[str, Any]) -> dict[str, Any]:
    """A Gemini request seen as the OpenAI-shaped body `_Reply.build` reads."""
    messages = []
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        is_result = any("functionResponse" in p for p in parts)
        role = "tool" if is_result else ("assistant" if content.get("role") == "model" else "user")
        messages.append({"role": role, "content": " ".join(str(p.get("text", "")) for p in parts)})
    tools = [
        {
            "type": "function",
            "function": {
                "name": d.get("name"),
                "parameters": d.get("parametersJsonSchema") or d.get("parameters"),
            },
        }
        for tool in body.get("tools") or []
        for d in tool.get("functionDeclarations") or []
    ]
    config = body.get("generationConfig") or {}
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    json_mode = config.get("responseMimeType") == "application/json"
    return {
        "messages": messages,
        "tools": tools,
        "tool_choice": "none" if mode == "NONE" else "auto",
        "max_tokens": config.get("maxOutputTokens"),
        "response_format": {"type": "json_object"} if json_mode else None,
    }


def _converse_view(body: dict[str, Any]) -> dict[str, Any]:
    """A Converse request seen as the OpenAI-shaped body `_Reply.build` reads."""
    messages = []
    for message in body.get("messages") or []:
        blocks = message.get("content") or []
        is_result = any("toolResult" in b for b in blocks)
        text = " ".join(str(b.get("text", "")) for b in blocks)
        messages.append({"role": "tool" if is_result else message.get("role"), "content": text})
    tools = [
        {
            "type": "function",
            "function": {
                "name": (t.get("toolSpec") or {}).get("name"),
                "parameters": ((t.get("toolSpec") or {}).get("inputSchema") or {}).get("json"),
            },
        }
        for t in (body.get("toolConfig") or {}).get("tools") or []
    ]
    return {
        "messages": messages,
        "tools": tools,
        "max_tokens": (body.get("inferenceConfig") or {}).get("maxTokens"),
    }


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _gemini_error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    """A `google.rpc.Status` body; a 429 carries its wait as a RetryInfo detail."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
    }
    if status == 429 and retry_after:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
    return JSONResponse({"error": error}, status_code=status, headers=SIM_HEADERS)


_BEDROCK_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _bedrock_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    """An AWS JSON error: the code in `x-amzn-ErrorType`, the message in the body."""
    code = code or _BEDROCK_CODES.get(
        status, "InternalServerException" if status >= 500 else "ValidationException"
    )
    headers = {
        **SIM_HEADERS,
        "x-amzn-errortype": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-requestid": str(uuid.uuid4()),
    }
    return JSONResponse({"message": message}, status_code=status, headers=headers)
