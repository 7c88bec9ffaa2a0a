"""The fallback executor for interactive requests.

Walks the plan's candidates in order. A retryable error is retried on the same model as the
retry policy says (honouring Retry-After when it fits the deadline); any other error, or
retries used up, moves on to the next candidate. For streams, all of this happens before the
first byte reaches the client: once a chunk is out, a failure ends the stream instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from modelyard import tracing
from modelyard.errors import (
    CircuitOpen,
    DeadlineExceeded,
    GatewayError,
    InvalidRequest,
    RateLimited,
    UpstreamFailed,
)
from modelyard.pricing.prices import TokenUsage
from modelyard.providers.base import (
    ChatResult,
    EmbeddingAdapter,
    ProviderAdapter,
    StreamState,
)
from modelyard.providers.errors import FALL_BACK_ON, ErrorKind, UpstreamError
from modelyard.resilience.breaker import CircuitBreaker
from modelyard.resilience.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from modelyard.routing.planner import Candidate


@dataclass(slots=True)
class Attempt:
    model: str
    provider: str
    status: str  # "ok" | "error"
    error_type: str | None
    latency_ms: int
    http_status: int | None = None
    #: the upstream's Retry-After (seconds), when it sent one
    retry_after: float | None = None
    #: the exact usage of an answer that was not served (a hedge's finished loser)
    usage: TokenUsage | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "provider": self.provider,
            "status": self.status,
            "error_type": self.error_type,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True, slots=True)
class Limits:
    #: the whole request, every attempt and wait included
    deadline_seconds: float = 120.0
    #: one non-streaming attempt
    attempt_seconds: float = 60.0
    #: a streaming attempt until its first chunk
    first_token_seconds: float = 20.0


@dataclass(slots=True)
class StreamStart:
    """A stream whose first chunk has arrived: from here on it is the client's."""

    candidate: Candidate
    first_chunk: bytes
    chunks: AsyncIterator[bytes]
    state: StreamState
    started: float


@dataclass
class Execution:
    attempts: list[Attempt] = field(default_factory=list)
    #: set when any attempt reached an upstream (the request must then be billed/ledgered)
    reached_upstream: bool = False
    #: the largest context window a model has refused this request for: smaller ones are
    #: not tried (a context-length error falls back to a larger window only)
    context_floor: int = 0


T = TypeVar("T")


class FallbackExecutor:
    def __init__(
        self,
        adapter_for: Callable[[str], ProviderAdapter],
        *,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        breaker: CircuitBreaker | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.adapter_for = adapter_for
        self.retry_policy = retry_policy
        self.breaker = breaker or CircuitBreaker()
        self.limits = limits

    async def chat(
        self,
        candidates: Sequence[Candidate],
        body: dict[str, Any],
        execution: Execution,
        hedge: bool = False,
    ) -> tuple[Candidate, ChatResult]:
        return await self._complete(
            candidates, body, execution, lambda adapter: adapter.chat, _hedge_delay(hedge, False)
        )

    async def embed(
        self, candidates: Sequence[Candidate], body: dict[str, Any], execution: Execution
    ) -> tuple[Candidate, ChatResult]:
        """An embeddings call, with the same retries and fallback as `chat`."""
        return await self._complete(candidates, body, execution, _embed_of)

    async def _complete(
        self,
        candidates: Sequence[Candidate],
        body: dict[str, Any],
        execution: Execution,
        operation: Callable[[ProviderAdapter], Callable[..., Awaitable[ChatResult]]],
        hedge_after: Callable[[Candidate], float] | None = None,
    ) -> tuple[Candidate, ChatResult]:
        deadline = time.monotonic() + self.limits.deadline_seconds

        async def attempt(
            candidate: Candidate, adapter: ProviderAdapter
        ) -> tuple[Candidate, ChatResult]:
            timeout = min(self.limits.attempt_seconds, deadline - time.monotonic())
            async with asyncio.timeout(max(timeout, 0.001)):
                call = operation(adapter)
                return candidate, await call(candidate.provider, candidate.model, body)

        return await self._walk(candidates, execution, deadline, attempt, hedge_after)

    async def open_stream(
        self,
        candidates: Sequence[Candidate],
        body: dict[str, Any],
        execution: Execution,
        hedge: bool = False,
    ) -> StreamStart:
        deadline = time.monotonic() + self.limits.deadline_seconds

        async def attempt(candidate: Candidate, adapter: ProviderAdapter) -> StreamStart:
            state = StreamState()
            started = time.monotonic()
            chunks = adapter.stream(candidate.provider, candidate.model, body, state).__aiter__()
            timeout = min(self.limits.first_token_seconds, deadline - time.monotonic())
            try:
                async with asyncio.timeout(max(timeout, 0.001)):
                    first = await anext(chunks)
                if state.native_error is None:  # a native stream's adapter parsed it already
                    _check_first_chunk(first)
            except StopAsyncIteration:
                raise UpstreamError(ErrorKind.MALFORMED_RESPONSE, "empty stream") from None
            except BaseException:
                await _close(chunks)
                raise
            return StreamStart(candidate, first, chunks, state, started)

        return await self._walk(candidates, execution, deadline, attempt, _hedge_delay(hedge, True))

    async def _walk(
        self,
        candidates: Sequence[Candidate],
        execution: Execution,
        deadline: float,
        attempt: Callable[[Candidate, ProviderAdapter], Awaitable[T]],
        hedge_after: Callable[[Candidate], float] | None = None,
    ) -> T:
        """Try candidates in order; with `hedge_after`, race each one against the next."""
        queue = list(candidates)
        while queue:
            candidate = queue.pop(0)
            if hedge_after is not None and queue:
                backup = queue.pop(0)
                result = await self._race(
                    candidate, backup, execution, deadline, attempt, hedge_after(candidate)
                )
            else:
                result = await self._candidate(candidate, execution, deadline, attempt)
            if result is not _FAILED:
                return cast(T, result)
        raise self._exhausted(execution)

    def _exhausted(self, execution: Execution) -> GatewayError:
        """Why no candidate answered, as the client should act on it: 429 with the soonest
        Retry-After when every upstream rate-limited it, 503 with the time until a circuit
        half-opens when every candidate's circuit is open, 502 otherwise."""
        extra = {"attempts": [a.as_dict() for a in execution.attempts]}
        tried = [a for a in execution.attempts if a.status != "skipped"]
        if tried and all(a.error_type == ErrorKind.RATE_LIMITED.value for a in tried):
            waits = [a.retry_after for a in tried if a.retry_after is not None]
            return RateLimited(
                "every upstream that can serve this request is rate-limiting it",
                code="upstream_rate_limited",
                headers={"retry-after": str(max(1, math.ceil(min(waits))))} if waits else {},
                extra=extra,
            )
        skipped = {a.model for a in execution.attempts if a.error_type == "circuit_open"}
        if not tried and skipped:
            wait = min(self.breaker.retry_after(model) for model in skipped)
            return CircuitOpen(
                "the circuit of every model that can serve this request is open",
                headers={"retry-after": str(max(1, math.ceil(wait)))},
                extra=extra,
            )
        return UpstreamFailed("every upstream attempt failed", extra=extra)

    async def _race(
        self,
        primary: Candidate,
        backup: Candidate,
        execution: Execution,
        deadline: float,
        attempt: Callable[[Candidate, ProviderAdapter], Awaitable[T]],
        delay: float,
    ) -> T | object:
        """Hedging: start `backup` if `primary` has not answered within `delay` seconds, keep
        whichever answers first, cancel the other (its attempt is recorded as cancelled)."""
        first = asyncio.create_task(self._candidate(primary, execution, deadline, attempt))
        done, _ = await asyncio.wait({first}, timeout=delay)
        if done:
            result = first.result()
            if result is not _FAILED:
                return result
            return await self._candidate(backup, execution, deadline, attempt)
        second = asyncio.create_task(self._candidate(backup, execution, deadline, attempt))
        order = [first, second]
        pending = {first, second}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                answers = [t.result() for t in order if t in done and t.result() is not _FAILED]
                if answers:  # both in one loop turn: the primary's is served, the other closed
                    for loser in answers[1:]:
                        await _discard(loser, execution)
                    return answers[0]
            return _FAILED
        finally:
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task

    async def _candidate(
        self,
        candidate: Candidate,
        execution: Execution,
        deadline: float,
        attempt: Callable[[Candidate, ProviderAdapter], Awaitable[T]],
    ) -> T | object:
        """One candidate with its retries: the result, or `_FAILED` to fall back."""
        key = candidate.model.id
        if candidate.model.context_window <= execution.context_floor:
            execution.attempts.append(
                Attempt(key, candidate.provider.id, "skipped", "context_too_small", 0)
            )
            return _FAILED
        if not self.breaker.allows(key):
            execution.attempts.append(
                Attempt(key, candidate.provider.id, "skipped", "circuit_open", 0)
            )
            return _FAILED
        adapter = self.adapter_for(candidate.provider.wire)
        retries = 0
        while True:
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    "the request's deadline passed before an upstream answered",
                    extra={"attempts": [a.as_dict() for a in execution.attempts]},
                )
            started = time.monotonic()
            self.breaker.begin(key)
            execution.reached_upstream = True
            try:
                result = await tracing.attempt(
                    key, candidate.provider.id, attempt(candidate, adapter)
                )
            except (UpstreamError, TimeoutError) as exc:
                error = (
                    exc
                    if isinstance(exc, UpstreamError)
                    else UpstreamError(ErrorKind.TIMEOUT, "upstream attempt timed out")
                )
                execution.attempts.append(
                    Attempt(
                        key,
                        candidate.provider.id,
                        "error",
                        error.kind.value,
                        _ms_since(started),
                        error.status,
                        error.retry_after,
                    )
                )
                if error.retryable:
                    self.breaker.failure(key)
                else:  # the upstream answered: not a verdict on its health, but a trial's end
                    self.breaker.release(key)
                if error.kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED:
                    execution.context_floor = max(
                        execution.context_floor, candidate.model.context_window
                    )
                policy = candidate.retry or self.retry_policy
                retrier = policy.retrier_for(error.kind.value)
                if error.retryable and retrier and retries < retrier.max_attempts:
                    retries += 1
                    wait = max(retrier.delay(retries), error.retry_after or 0.0)
                    if (error.retry_after or 0) <= (retrier.max_delay_seconds or 60) and (
                        time.monotonic() + wait < deadline
                    ):
                        await asyncio.sleep(wait)
                        continue
                if error.kind not in FALL_BACK_ON:
                    # the request itself was refused: another provider would refuse it too
                    raise InvalidRequest(
                        f"the upstream rejected the request: {error.message}",
                        code="upstream_bad_request",
                        extra={"attempts": [a.as_dict() for a in execution.attempts]},
                    ) from None
                return _FAILED
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    execution.attempts.append(
                        Attempt(
                            key,
                            candidate.provider.id,
                            "cancelled",
                            "hedge_lost",
                            _ms_since(started),
                        )
                    )
                self.breaker.release(key)  # a cancelled (or broken) trial still ends
                raise
            self.breaker.success(key)
            execution.attempts.append(
                Attempt(key, candidate.provider.id, "ok", None, _ms_since(started))
            )
            return result


#: what `_candidate` returns when the walk must go on to the next candidate
_FAILED = object()
#: a hedge starts when an attempt is this much slower than expected (a stand-in for its p95)
HEDGE_FACTOR = 1.5


def _hedge_delay(hedge: bool, stream: bool) -> Callable[[Candidate], float] | None:
    """Seconds to wait for a candidate before racing the next: its expected time to first
    token for streams, its expected whole latency otherwise."""
    if not hedge:
        return None
    if stream:
        return lambda c: HEDGE_FACTOR * c.expected_ttft_ms / 1000
    return lambda c: HEDGE_FACTOR * c.estimated_latency_ms / 1000


def _embed_of(adapter: ProviderAdapter) -> Callable[..., Awaitable[ChatResult]]:
    if not isinstance(adapter, EmbeddingAdapter):
        raise UpstreamError(ErrorKind.BAD_REQUEST, "this provider's API has no embeddings")
    return adapter.embed


async def _discard(answer: object, execution: Execution) -> None:
    """A hedge's other answer, finished in the same loop turn as the served one: its attempt
    becomes a lost hedge (with its exact usage when it has one, the provider bills it) and
    its stream, if it is one, is closed now rather than by the garbage collector."""
    if isinstance(answer, StreamStart):
        candidate, usage = answer.candidate, None
        await _close(answer.chunks)
    else:
        candidate, result = cast(tuple[Candidate, ChatResult], answer)
        usage = result.usage
    for record in reversed(execution.attempts):
        if record.model == candidate.model.id and record.status == "ok":
            record.status, record.error_type, record.usage = "cancelled", "hedge_lost", usage
            return


def _check_first_chunk(chunk: bytes) -> None:
    """Commit to a stream only if its first chunk is a chunk: anything else (broken JSON, an
    error object) is the upstream failing, retried or fallen back from like any failure."""
    try:
        parsed = json.loads(chunk)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or "error" in parsed:
        raise UpstreamError(
            ErrorKind.MALFORMED_RESPONSE, f"malformed first stream chunk: {chunk[:80]!r}"
        )


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
