"""In-process figures: the gateway's own cost per request, the usage publish, LiteLLM's Router,
a profile of the hot path, and the resilience figures of issue 6.

The gateway app runs in this process and is called through ASGI directly (no client library,
no socket on the client side); its upstream is the zero-latency simulator in another process.
The baseline is the same request sent from this process straight to that simulator with one
pooled httpx client. Variants are interleaved in blocks so that drift hits them alike.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from common import (
    BENCH,
    FALLBACK_MODEL,
    MODEL,
    OUT,
    Row,
    Summary,
    chat_body,
    fmt,
    log,
    purge_usage_queue,
    summarise,
)

BLOCK = 100


@dataclass
class Acc:
    """Latencies and failures accumulated over alternating blocks."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> Summary:
        return summarise(self.latencies, sum(self.latencies), self.errors)


class NullPublisher:
    """A publisher that does nothing: the gateway's overhead without the SQS call."""

    async def publish(self, event: Any) -> str:
        return "dropped"


def apply_stack_env(info: dict[str, Any]) -> None:
    from modelyard import aws
    from modelyard.settings import get_settings

    os.environ.update(info["env"])
    aws.reset_clients()
    get_settings.cache_clear()


def build_gateway(publisher: Any, *, breaker: Any = None, retry_policy: Any = None) -> Any:
    """`modelyard.wiring.build_gateway`, then the publisher, breaker and policy swapped in.

    Built through the production wiring so that the figures follow the library as it changes.
    """
    from modelyard.settings import get_settings
    from modelyard.wiring import build_gateway as production_gateway

    gateway = production_gateway(get_settings())
    gateway.publisher = publisher
    if breaker is not None:
        gateway.executor.breaker = breaker
    if retry_policy is not None:
        # the seeded per-model policies (infra/seed/retry.json) win over the executor's own:
        # drop them so that this policy applies to every candidate
        import dataclasses

        gateway.executor.retry_policy = retry_policy
        load = gateway.config.catalog_async

        async def catalog_without_retry_policies() -> Any:
            return dataclasses.replace(await load(), retry_policies={})

        gateway.config.catalog_async = catalog_without_retry_policies
    return gateway


def real_publisher() -> Any:
    from modelyard import aws
    from modelyard.settings import get_settings
    from modelyard.usage.publisher import UsagePublisher

    settings = get_settings()
    return UsagePublisher(settings.usage_queue_url, settings.usage_table, aws.client)


class AsgiCaller:
    """POSTs to an ASGI app in process with a minimal scope: no client library, no socket."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.auth = f"Bearer {api_key}".encode()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"bench.local"),
                (b"content-type", b"application/json"),
                (b"authorization", self.auth),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        sent = False
        done = asyncio.Event()
        status = 0
        parts: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self.app(scope, receive, send)
        return status, b"".join(parts)


Call = Callable[[], Awaitable[bool]]


async def interleaved(
    calls: dict[str, Call],
    n: int,
    seconds: float,
    warmup: int = 50,
    between_blocks: Callable[[], None] | None = None,
) -> dict[str, Summary]:
    """Each call `n` times (or until `seconds` pass), in alternating blocks of BLOCK.

    `between_blocks` runs untimed before each block (e.g. draining moto's queue).
    """
    for call in calls.values():
        for _ in range(warmup):
            await call()
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    errors = dict.fromkeys(calls, 0)
    deadline = time.monotonic() + seconds
    while min(len(v) + errors[k] for k, v in latencies.items()) < n:
        if time.monotonic() > deadline:
            log(f"time bound ({seconds:.0f} s) reached before {n} requests per variant")
            break
        for name, call in calls.items():
            if between_blocks is not None:
                between_blocks()
            for _ in range(min(BLOCK, n)):
                t0 = time.perf_counter()
                ok = await call()
                elapsed = time.perf_counter() - t0
                if ok:
                    latencies[name].append(elapsed)
                else:
                    errors[name] += 1
    return {
        name: summarise(values, sum(values), errors[name]) for name, values in latencies.items()
    }


@dataclass
class Env:
    info: dict[str, Any]
    quick: bool
    litellm_python: str | None
    litellm_note: str

    @property
    def sim_url(self) -> str:
        return str(self.info["sim_url"])

    @property
    def api_key(self) -> str:
        return str(self.info["api_key"])


def responses_request(chat: dict[str, Any]) -> dict[str, Any]:
    """`chat` as a Responses API request (its messages as input items), not stored."""
    return {
        "model": chat["model"],
        "input": [{"role": m["role"], "content": m["content"]} for m in chat["messages"]],
        "temperature": chat["temperature"],
        "store": False,
    }


def _ok(status: int, payload: bytes) -> bool:
    return status == 200 and b'"choices"' in payload


async def _overhead(env: Env) -> tuple[list[Row], dict[str, Summary]]:
    from modelyard.api.app import create_app
    from modelyard.settings import get_settings

    n = 200 if env.quick else 2000
    seconds = 20.0 if env.quick else 90.0
    settings = get_settings()
    gw_null = build_gateway(NullPublisher())
    gw_full = build_gateway(real_publisher())
    app_null = AsgiCaller(create_app(gateway=gw_null, settings=settings), env.api_key)
    app_full = AsgiCaller(create_app(gateway=gw_full, settings=settings), env.api_key)
    body = json.dumps(chat_body()).encode()
    direct_url = f"{env.sim_url}/deepseek/v1/chat/completions"
    client = httpx.AsyncClient(timeout=30.0)

    async def direct() -> bool:
        response = await client.post(
            direct_url, content=body, headers={"content-type": "application/json"}
        )
        return response.status_code == 200

    async def core() -> bool:
        key = await gw_null.authenticate(f"Bearer {env.api_key}")
        outcome = await gw_null.chat(json.loads(body), key, "req_bench")
        await outcome.settle()  # as the app does before the body goes
        json.dumps(outcome.body, separators=(",", ":"))
        return True

    async def nopub() -> bool:
        return _ok(*await app_null.post("/v1/chat/completions", body))

    async def full() -> bool:
        return _ok(*await app_full.post("/v1/chat/completions", body))

    async def responses() -> bool:
        """The same request through the Responses API (bridged over chat; nothing stored)."""
        status, payload = await app_null.post("/v1/responses", responses_body)
        return status == 200 and b'"output_text"' in payload

    responses_body = json.dumps(responses_request(chat_body())).encode()
    log(f"in process: direct / core / app without publish / with publish / responses, n={n}")
    stats = await interleaved(
        {"direct": direct, "core": core, "nopub": nopub, "full": full, "responses": responses},
        n,
        seconds,
        between_blocks=lambda: purge_usage_queue(env.info),
    )

    # the usage publish alone (the network call that belongs to accounting)
    publish_n = 50 if env.quick else 500
    from modelyard.pricing.prices import TokenUsage  # noqa: F401  (warm import)
    from modelyard.usage.events import AttemptRecord, UsageEvent

    publisher = real_publisher()
    event = UsageEvent(
        request_id="req_bench_publish",
        tenant="local",
        key_id="bench",
        created_at="2026-01-01T00:00:00+00:00",
        day="2026-01-01",
        status="ok",
        task="chat",
        model=MODEL,
        provider="deepseek",
        input_tokens=20,
        output_tokens=24,
        attempts=[AttemptRecord(model=MODEL, provider="deepseek", status="ok", latency_ms=1)],
    )
    for _ in range(10):
        await publisher.publish(event)
    pub_lat = []
    deadline = time.monotonic() + seconds
    purge_usage_queue(env.info)
    for i in range(publish_n):
        if time.monotonic() > deadline:
            break
        if i % BLOCK == BLOCK - 1:
            purge_usage_queue(env.info)
        t0 = time.perf_counter()
        await publisher.publish(event)
        pub_lat.append(time.perf_counter() - t0)
    stats["publish"] = summarise(pub_lat, sum(pub_lat))
    await client.aclose()

    d, c, a, f, p = (stats[k] for k in ("direct", "core", "nopub", "full", "publish"))
    r = stats["responses"]
    added = a.p50_ms - d.p50_ms
    rows = [
        Row(
            "in-process",
            "latency p50: gateway app (no publish) vs direct upstream",
            a.p50_ms,
            "ms",
            d.p50_ms,
            "direct to simulator",
            f"added {fmt(added)} ms; n={a.n} each, errors={a.errors}",
        ),
        Row(
            "in-process",
            "latency p99: gateway app (no publish) vs direct upstream",
            a.p99_ms,
            "ms",
            d.p99_ms,
            "direct to simulator",
            f"added {fmt(a.p99_ms - d.p99_ms)} ms",
        ),
        Row(
            "in-process",
            "req/s one at a time: gateway app (no publish) vs direct",
            1000 / a.mean_ms,
            "req/s",
            1000 / d.mean_ms,
            "direct to simulator",
            "1 / mean latency, sequential",
            higher_is_better=True,
        ),
        Row(
            "in-process",
            "gateway added latency p50 (auth, route, price, response; no publish)",
            added,
            "ms",
            d.p50_ms,
            "direct upstream p50",
            "app p50 minus direct p50, same run",
            target="<= 1 ms",
            met=added <= 1.0,
        ),
        Row(
            "in-process",
            "gateway core added p50 (Gateway.chat without FastAPI)",
            c.p50_ms - d.p50_ms,
            "ms",
            added,
            "whole app added p50",
            "the rest is FastAPI/Starlette routing, middleware, validation, response",
        ),
        Row(
            "in-process",
            "Responses API added latency p50 (bridged over chat; no publish, store false)",
            r.p50_ms - d.p50_ms,
            "ms",
            added,
            "chat completions added p50",
            f"p99 added {fmt(r.p99_ms - d.p99_ms)} ms vs chat's {fmt(a.p99_ms - d.p99_ms)} ms; "
            f"errors={r.errors}",
        ),
        Row(
            "in-process",
            "gateway added latency p50 with the SQS publish",
            f.p50_ms - d.p50_ms,
            "ms",
            added,
            "added p50 without publish",
            f"p99 added {fmt(f.p99_ms - d.p99_ms)} ms; errors={f.errors}",
        ),
        Row(
            "in-process",
            "usage publish alone p50 (SendMessageBatch on the event loop, SQS on moto)",
            p.p50_ms,
            "ms",
            added,
            "gateway added p50 without publish",
            f"p99 {fmt(p.p99_ms)} ms, n={p.n}; moto on loopback, not real SQS",
        ),
    ]
    return rows, stats


def _litellm_router(env: Env, stats: dict[str, Summary]) -> list[Row]:
    if env.litellm_python is None:
        return [Row("in-process", "LiteLLM Router: skipped", None, "", note=env.litellm_note)]
    from litellm_env import ENV as LITELLM_ENV

    n = 200 if env.quick else 2000
    seconds = 30.0 if env.quick else 120.0
    log(f"in process: LiteLLM Router vs direct (in LiteLLM's venv), n={n}")
    done = subprocess.run(
        [
            env.litellm_python,
            str(BENCH / "litellm_worker.py"),
            "--api-base",
            f"{env.sim_url}/deepseek/v1",
            "--n",
            str(n),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        env={**os.environ, **LITELLM_ENV},
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        (OUT / "litellm-router.log").write_text(done.stdout + done.stderr)
        return [
            Row(
                "in-process",
                "LiteLLM Router: failed",
                None,
                "",
                note=f"see bench/out/litellm-router.log (exit {done.returncode})",
            )
        ]
    data = json.loads(lines[-1])
    ld = summarise(data["direct"], sum(data["direct"]))
    lr = summarise(data["router"], sum(data["router"]))
    stats["litellm_direct"], stats["litellm_router"] = ld, lr
    lit_added = lr.p50_ms - ld.p50_ms
    lit_added99 = lr.p99_ms - ld.p99_ms
    a, d = stats["nopub"], stats["direct"]
    added = a.p50_ms - d.p50_ms
    ratio = added / lit_added if lit_added > 0 else float("nan")
    return [
        Row(
            "in-process",
            "LiteLLM Router latency p50 vs direct upstream (its own process)",
            lr.p50_ms,
            "ms",
            ld.p50_ms,
            "direct to simulator",
            f"added {fmt(lit_added)} ms; {env.litellm_note}, n={lr.n}",
        ),
        Row(
            "in-process",
            "gateway added p50 vs LiteLLM Router added p50",
            added,
            "ms",
            lit_added,
            "LiteLLM Router added p50",
            "both: p50 minus the direct p50 measured in the same process",
            target="ratio <= 0.20",
            met=ratio <= 0.2,
        ),
        Row(
            "in-process",
            "gateway added p99 vs LiteLLM Router added p99",
            a.p99_ms - d.p99_ms,
            "ms",
            lit_added99,
            "LiteLLM Router added p99",
            "",
        ),
    ]


async def _profile(env: Env) -> str:
    """cProfile (and pyinstrument, when installed) of the app without publish."""
    from modelyard.api.app import create_app
    from modelyard.settings import get_settings

    n = 200 if env.quick else 1000
    app = AsgiCaller(
        create_app(gateway=build_gateway(NullPublisher()), settings=get_settings()), env.api_key
    )
    body = json.dumps(chat_body()).encode()
    for _ in range(50):
        await app.post("/v1/chat/completions", body)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        await app.post("/v1/chat/completions", body)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    out.write(f"cProfile of {n} in-process requests (gateway app, no publish)\n")
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    text = out.getvalue()
    try:
        from pyinstrument import Profiler
    except ImportError:
        text += "\n(pyinstrument not installed: cProfile only)\n"
    else:
        sampler = Profiler(interval=0.001, async_mode="enabled")  # 1 ms: finer samples cost GBs
        sampler.start()
        for _ in range(n):
            await app.post("/v1/chat/completions", body)
        sampler.stop()
        (OUT / "profile-pyinstrument.txt").write_text(
            sampler.output_text(unicode=True, color=False, show_all=False)
        )
    (OUT / "profile.txt").write_text(text)
    return str(OUT / "profile.txt")


async def _resilience(env: Env) -> list[Row]:
    from modelyard.api.app import create_app
    from modelyard.resilience.breaker import CircuitBreaker
    from modelyard.resilience.retry import RetryPolicy
    from modelyard.settings import get_settings

    settings = get_settings()
    n = 40 if env.quick else 200
    seconds = 15.0 if env.quick else 40.0
    body = json.dumps(chat_body(modelyard={"fallbacks": [FALLBACK_MODEL]})).encode()
    control = httpx.AsyncClient(timeout=10.0)

    async def faults(spec: str) -> None:
        # the simulator's run-time control (`/_sim/config`; `/_sim/faults` in older versions)
        for path in ("/_sim/config", "/_sim/faults"):
            response = await control.post(f"{env.sim_url}{path}", json={"faults": spec})
            if response.status_code != 404:
                response.raise_for_status()
                return
        raise RuntimeError("the simulator has no fault control endpoint")

    def app_with(**kwargs: Any) -> AsgiCaller:
        gateway = build_gateway(NullPublisher(), **kwargs)
        return AsgiCaller(create_app(gateway=gateway, settings=settings), env.api_key)

    never_open = app_with(breaker=CircuitBreaker(threshold=10**9))
    no_retry = app_with(breaker=CircuitBreaker(threshold=10**9), retry_policy=RetryPolicy(()))
    default = app_with()

    async def run(caller: AsgiCaller, count: int, into: Acc | None = None) -> Acc:
        acc = into or Acc()
        deadline = time.monotonic() + seconds
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            ok = _ok(*await caller.post("/v1/chat/completions", body))
            if ok:
                acc.latencies.append(time.perf_counter() - t0)
            else:
                acc.errors += 1
        return acc

    async def alternate(
        blocks: list[tuple[str, list[tuple[AsgiCaller, Acc]]]], count: int, block: int = 25
    ) -> None:
        """Fault settings alternate block by block, so drift on the machine hits all alike."""
        for _ in range(max(1, count // block)):
            for spec, callers in blocks:
                await faults(spec)
                for caller, acc in callers:
                    await run(caller, block, acc)

    clean, failover, mechanics = Acc(), Acc(), Acc()
    clean_default, chaos, skipped = Acc(), Acc(), Acc()
    try:
        await faults("")
        for caller in (never_open, no_retry, default):
            await run(caller, 20)
        log(f"resilience: no fault / first candidate 500 / 20% 500s, n={n}, alternating blocks")
        # the 20% run first: breaker state is shared across gateways (UsageTable), and the
        # breaker-open phase below leaves deepseek's open for its cool-down
        await alternate(
            [("", [(default, clean_default)]), ("*=500:0.2", [(default, chaos)])],
            max(n, 400 if not env.quick else 60),
        )
        await alternate(
            [
                ("", [(never_open, clean)]),
                (f"{MODEL}=500:1.0", [(never_open, failover), (no_retry, mechanics)]),
            ],
            n,
        )
        await faults(f"{MODEL}=500:1.0")
        await run(default, 10)  # opens deepseek's breaker (5 consecutive failures)
        await run(default, n, skipped)
    finally:
        await faults("")
        await control.aclose()

    clean, failover, mechanics, clean_default, chaos, skipped = (
        a.summary() for a in (clean, failover, mechanics, clean_default, chaos, skipped)
    )

    def ok_note(s: Summary) -> str:
        return f"{s.n} ok, {s.errors} failed"

    return [
        Row(
            "resilience",
            "first candidate 500: p50 (retry once, then fallback)",
            failover.p50_ms,
            "ms",
            clean.p50_ms,
            "no fault p50",
            f"added {fmt(failover.p50_ms - clean.p50_ms)} ms: 2 failed attempts + jittered "
            f"retry wait U(0, 0.2 s); {ok_note(failover)}",
        ),
        Row(
            "resilience",
            "first candidate 500: p99 (retry once, then fallback)",
            failover.p99_ms,
            "ms",
            clean.p99_ms,
            "no fault p99",
            ok_note(failover),
        ),
        Row(
            "resilience",
            "first candidate 500, no retry: p50 (the fallback itself)",
            mechanics.p50_ms,
            "ms",
            clean.p50_ms,
            "no fault p50",
            f"added {fmt(mechanics.p50_ms - clean.p50_ms)} ms: one failed attempt; "
            f"{ok_note(mechanics)}",
        ),
        Row(
            "resilience",
            "first candidate's breaker open: p50 (skipped)",
            skipped.p50_ms,
            "ms",
            clean_default.p50_ms,
            "no fault p50",
            f"added {fmt(skipped.p50_ms - clean_default.p50_ms)} ms; {ok_note(skipped)}",
        ),
        Row(
            "resilience",
            "20% injected 500s on every model: p99",
            chaos.p99_ms,
            "ms",
            clean_default.p99_ms,
            "no fault p99",
            f"p50 {fmt(chaos.p50_ms)} vs {fmt(clean_default.p50_ms)} ms; {ok_note(chaos)}; "
            "default retry policy and breaker",
        ),
    ]


def run(env: Env, sections: set[str]) -> list[Row]:
    rows: list[Row] = []

    async def main() -> None:
        if "overhead" in sections:
            overhead_rows, stats = await _overhead(env)
            rows.extend(overhead_rows)
            rows.extend(_litellm_router(env, stats))
        if "profile" in sections:
            log(f"profile written: {await _profile(env)}")
        if "resilience" in sections:
            rows.extend(await _resilience(env))
        from modelyard.providers.http import http_client

        await http_client().aclose()  # this loop's pooled upstream client

    asyncio.run(main())
    return rows
