"""The SIMULATED upstream's HTTP surface: one Starlette app serving every wire format, with
the call counts, the injected faults, the pacing and the simulated prompt cache they share.
Each handler validates as its provider does, reads the request as an `Ask`, lets
`core.compose` answer it, and has its wire module write the answer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import struct
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelyard.local.faults import Fault, parse_faults, pick_fault
from modelyard.local.simulator import anthropic, bedrock, gemini, openai_chat, responses, wire
from modelyard.local.simulator.core import Answer, Ask, SimModel, compose, token_count
from modelyard.providers.anthropic import error_type_for_status

#: OpenAI caches prompts from 1024 tokens on, in 128-token steps
PROMPT_CACHE_MIN_TOKENS = 1024
PROMPT_CACHE_STEP = 128
EMBEDDING_DIMENSIONS = 1536


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
        #: the last body each endpoint was sent, by its path after the provider (`v1/messages`):
        #: what the gateway sent upstream, for tests of what it forwards
        self.received: dict[str, dict[str, Any]] = {}
        #: hashes of the prompt prefixes each model has seen (the simulated prompt cache)
        self.prompt_prefixes: set[str] = set()

    def _receive(self, request: Request, body: Any) -> None:
        if isinstance(body, dict):
            self.received[request.url.path.split("/", 2)[-1]] = body

    # -- pacing, faults and the prompt cache ------------------------------------------------
    def _model(self, name: str) -> SimModel | None:
        return self.models.get(name.lower())

    def _delays(self, model: SimModel) -> tuple[float, float]:
        if self.latency == "zero":
            return 0.0, 0.0
        return model.ttft_ms / 1000, 1 / max(model.tokens_per_second, 1)

    def _cached_answer(self, ask: Ask, model: SimModel) -> Answer:
        """The answer, with the prompt prefix (all but the last turn) it reports as cached:
        seen before by this model and long enough, rounded down to the cache's steps."""
        answer = compose(ask, model)
        prefix = [(t.role, t.text) for t in ask.turns[:-1]]
        tokens = token_count(" ".join(text for _, text in prefix))
        if not prefix or tokens < PROMPT_CACHE_MIN_TOKENS:
            return answer
        key = hashlib.sha256(json.dumps([model.id, prefix]).encode()).hexdigest()
        if key in self.prompt_prefixes:
            answer.cached_tokens = tokens // PROMPT_CACHE_STEP * PROMPT_CACHE_STEP
        self.prompt_prefixes.add(key)
        return answer

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

    async def _respond(
        self,
        model: SimModel,
        fault: Fault | None,
        answer: Answer,
        whole: Callable[[], dict[str, Any]],
        frames: Callable[[], wire.Frames] | None,
        broken: tuple[bytes, bytes | None],
        headers: dict[str, str] = wire.SIM_HEADERS,
        media_type: str = "text/event-stream",
    ) -> Response:
        """The answer as the format writes it, streamed (`frames`, when the request asked for
        a stream) or whole, paced by the model; a malformed fault sends the format's `broken`
        (whole, stream) bytes instead."""
        ttft, per_token = self._delays(model)
        if frames is not None:
            paced = wire.paced(frames(), ttft, per_token, fault, broken[1], cut_at=3)
            return wire.stream(paced, media_type, headers)
        return await wire.answer(
            whole(), answer.completion_tokens, ttft, per_token, fault, broken[0], headers
        )

    def _retry_after(self, status: int) -> dict[str, str]:
        return {"retry-after": self.retry_after} if status == 429 else {}

    def _openai_refusal(self, status: int, message: str) -> Response:
        return wire.openai_error(
            status, message, wire.openai_error_type(status), headers=self._retry_after(status)
        )

    async def _openai_body_and_model(
        self, request: Request
    ) -> tuple[dict[str, Any], SimModel] | Response:
        """The request's JSON and the model it names, or OpenAI's error for either."""
        try:
            body = await request.json()
        except ValueError:
            return wire.openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        self._receive(request, body)
        model = self._model(str(body.get("model", "")))
        if model is None:
            return wire.openai_error(
                404,
                f"The model `{body.get('model')}` does not exist",
                "invalid_request_error",
                code="model_not_found",
            )
        return body, model

    # -- OpenAI wire format -------------------------------------------------------------------
    async def openai_chat(self, request: Request) -> Response:
        found = await self._openai_body_and_model(request)
        if isinstance(found, Response):
            return found
        body, model = found
        fault, refused = await self._call(model, self._openai_refusal)
        if refused is not None:
            return refused
        answer = self._cached_answer(openai_chat.ask(body), model)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await self._respond(
            model,
            fault,
            answer,
            lambda: openai_chat.completion(answer),
            (lambda: openai_chat.chunks(answer, include_usage)) if body.get("stream") else None,
            openai_chat.BROKEN,
        )

    async def openai_responses(self, request: Request) -> Response:
        found = await self._openai_body_and_model(request)
        if isinstance(found, Response):
            return found
        body, model = found
        hosted = responses.hosted_tools(body)
        if hosted:
            return wire.openai_error(
                400,
                f"The simulated upstream does not run hosted tools ({', '.join(hosted)}); "
                "only function tools are supported.",
                "invalid_request_error",
                code="unsupported_tool",
                param="tools",
            )
        if not isinstance(body.get("input"), str | list) or not body["input"]:
            return wire.openai_error(
                400,
                "Missing required parameter: 'input'.",
                "invalid_request_error",
                code="missing_required_parameter",
                param="input",
            )
        fault, refused = await self._call(model, self._openai_refusal)
        if refused is not None:
            return refused
        answer = self._cached_answer(responses.ask(body), model)
        return await self._respond(
            model,
            fault,
            answer,
            lambda: responses.response(answer, body),
            (lambda: responses.events(answer, body)) if body.get("stream") else None,
            responses.BROKEN,
        )

    # -- Anthropic wire format ----------------------------------------------------------------
    async def anthropic_messages(self, request: Request) -> Response:
        if not request.headers.get("anthropic-version"):
            return wire.anthropic_error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        try:
            body = await request.json()
        except ValueError:
            return wire.anthropic_error(400, "invalid_request_error", "invalid JSON body")
        self._receive(request, body)
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return wire.anthropic_error(
                400, "invalid_request_error", "max_tokens: Field required; messages: Field required"
            )
        model = self._model(str(body.get("model", "")))
        if model is None:
            return wire.anthropic_error(404, "not_found_error", f"model: {body.get('model')}")
        fault, refused = await self._call(
            model,
            lambda status, message: wire.anthropic_error(
                status, error_type_for_status(status), message, self._retry_after(status)
            ),
        )
        if refused is not None:
            return refused
        answer = compose(anthropic.ask(body), model)
        return await self._respond(
            model,
            fault,
            answer,
            lambda: anthropic.message(answer),
            (lambda: anthropic.events(answer)) if body.get("stream") else None,
            anthropic.BROKEN,
        )

    # -- OpenAI embeddings ---------------------------------------------------------------------
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
            return wire.openai_error(400, "'input' is a required property", "invalid_request_error")
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
            tokens += len(item) if isinstance(item, list) else token_count(text)
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
            headers=wire.SIM_HEADERS,
        )

    # -- Gemini wire format -------------------------------------------------------------------
    async def gemini_generate(self, request: Request) -> Response:
        name, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return wire.gemini_error(404, f"Method {method!r} not found.")
        try:
            body = await request.json()
        except ValueError:
            return wire.gemini_error(400, "Invalid JSON payload received.")
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            return wire.gemini_error(
                400, "* GenerateContentRequest.contents: contents is not specified"
            )
        model = self._model(name)
        if model is None:
            return wire.gemini_error(
                404,
                f"models/{name} is not found for API version v1beta, or is not supported for "
                f"{method}. Call ListModels to see the list of available models and their "
                "supported methods.",
            )
        fault, refused = await self._call(
            model, lambda status, message: wire.gemini_error(status, message, self.retry_after)
        )
        if refused is not None:
            return refused
        answer = compose(gemini.ask(body), model)
        streamed = method == "streamGenerateContent"
        if streamed and request.query_params.get("alt") != "sse":
            ttft, per_token = self._delays(model)  # without alt=sse: one JSON array, at the end
            await asyncio.sleep(ttft + per_token * answer.completion_tokens)
            return JSONResponse(gemini.chunks(answer), headers=wire.SIM_HEADERS)
        return await self._respond(
            model,
            fault,
            answer,
            lambda: gemini.response(answer),
            (lambda: gemini.frames(answer)) if streamed else None,
            gemini.BROKEN,
        )

    # -- Bedrock wire format ------------------------------------------------------------------
    async def bedrock_converse(self, request: Request) -> Response:
        stream = request.url.path.endswith("/converse-stream")
        if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return wire.bedrock_error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        try:
            body = await request.json()
        except ValueError:
            return wire.bedrock_error(400, "Malformed input request, please reformat your input.")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return wire.bedrock_error(400, "The messages field is required.")
        model = self._model(request.path_params["model_id"])
        if model is None:
            return wire.bedrock_error(400, "The provided model identifier is invalid.")
        fault, refused = await self._call(model, wire.bedrock_error)
        if refused is not None:
            return refused
        answer = compose(bedrock.ask(body), model)
        headers = {**wire.SIM_HEADERS, "x-amzn-requestid": str(uuid.uuid4())}
        corrupt = fault is not None and fault.kind == "malformed"

        def frames() -> wire.Frames:
            return wire.first_token_unpaced(
                [
                    (wire.bedrock_frame(event_type, payload, corrupt), wait)
                    for event_type, payload, wait in bedrock.events(answer)
                ]
            )

        return await self._respond(
            model,
            fault,
            answer,
            lambda: bedrock.converse(answer),
            frames if stream else None,
            bedrock.BROKEN,
            headers,
            "application/vnd.amazon.eventstream",
        )

    # -- control ------------------------------------------------------------------------------
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
                Route("/{provider}/v1/responses", self.openai_responses, methods=["POST"]),
                Route("/{provider}/v1/messages", self.anthropic_messages, methods=["POST"]),
                Route("/{provider}/v1/embeddings", self.openai_embeddings, methods=["POST"]),
                Route("/{provider}/v1beta/models/{target}", self.gemini_generate, methods=["POST"]),
                Route("/model/{model_id}/converse", self.bedrock_converse, methods=["POST"]),
                Route("/model/{model_id}/converse-stream", self.bedrock_converse, methods=["POST"]),
                Route("/_sim/stats", self.stats, methods=["GET"]),
                Route("/_sim/config", self.configure, methods=["POST"]),
            ]
        )


def _embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text`: the same text always gets the same vector."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]
