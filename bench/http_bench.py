"""Over HTTP, one uvicorn worker each, every server in its own process:

- the gateway as deployed (`python -m uvicorn handlers.router:app`, as functions/run.sh does)
  three ways: publishing every usage event to an SQS stand-in (bench/sqs_standin.py, its own
  process: the gateway's whole cost, without moto's), publishing to SQS on moto, and with a
  publisher that does nothing (its own cost without the SQS call);
- the bare forwarder (bench/forwarder.py): the floor of this design;
- the simulated upstream directly;
- LiteLLM's proxy (`litellm --config`, its venv), pointed at the same simulator.

The load generator runs in the harness's process (its own GIL), closed loop, 16 connections,
bounded in time and count. Also: peak RSS of each server after its load, and the streaming
figures (time to first token and per-chunk cost through the gateway vs direct).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from common import (
    BENCH,
    FUNCTIONS,
    MESSAGES,
    MODEL,
    OUT,
    PACED_MODEL,
    PACED_PROVIDER,
    PACED_TOKENS_PER_SECOND,
    PACED_TTFT_MS,
    PROJECT_PYTHON,
    LoadResult,
    Proc,
    Row,
    Summary,
    chat_body,
    fmt,
    free_port,
    http_load,
    log,
    percentile,
    purge_usage_queue,
    wait_for_port,
)

CONCURRENCY = 16
NOPUB_APP = "gateway_nopub:app"


def _uvicorn(app: str, port: int, app_dir: str) -> list[str]:
    return [
        PROJECT_PYTHON, "-m", "uvicorn", app,
        "--app-dir", app_dir,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--no-access-log",
        "--log-level", "warning",
        "--timeout-keep-alive", "900",
    ]  # fmt: skip


class Servers:
    def __init__(self) -> None:
        self.procs: dict[str, Proc] = {}
        self.urls: dict[str, str] = {}
        self.headers: dict[str, dict[str, str]] = {}

    def start(
        self,
        name: str,
        proc: Proc,
        port: int,
        url: str,
        headers: dict[str, str],
        timeout: float = 60,
    ) -> None:
        self.procs[name] = proc
        wait_for_port(port, timeout, proc.popen)
        self.urls[name] = url
        self.headers[name] = headers

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()


def start_gateway(
    servers: Servers, info: dict[str, Any], *, publish: bool = True, sqs_url: str = ""
) -> str:
    """The gateway; its usage events go to moto's SQS, or to `sqs_url`, or (not publish)
    nowhere."""
    port = free_port()
    name = "gateway-nopub" if not publish else "gateway-sqs" if sqs_url else "gateway-moto"
    env = {**info["env"], "PYTHONPATH": f"{FUNCTIONS}{os.pathsep}{BENCH}"}
    if sqs_url:
        env["AWS_ENDPOINT_URL_SQS"] = sqs_url  # botocore's per-service endpoint variable
    app = "handlers.router:app" if publish else NOPUB_APP
    proc = Proc(name, _uvicorn(app, port, str(FUNCTIONS)), env)
    servers.start(
        name,
        proc,
        port,
        f"http://127.0.0.1:{port}/v1/chat/completions",
        {"authorization": f"Bearer {info['api_key']}"},
    )
    # the first request builds the gateway (boto3 clients, catalog, key): not part of the load
    response = httpx.post(
        servers.urls[name], json=chat_body(), headers=servers.headers[name], timeout=30
    )
    response.raise_for_status()
    return name


def start_sqs_standin(servers: Servers) -> str:
    port = free_port()
    proc = Proc("sqs-standin", _uvicorn("sqs_standin:app", port, str(BENCH)))
    url = f"http://127.0.0.1:{port}"
    servers.start("sqs-standin", proc, port, url, {})
    return url


def start_forwarder(servers: Servers, info: dict[str, Any]) -> None:
    port = free_port()
    env = {"BENCH_FORWARD_URL": f"{info['sim_url']}/deepseek/v1/chat/completions"}
    proc = Proc("forwarder", _uvicorn("forwarder:app", port, str(BENCH)), env)
    servers.start("forwarder", proc, port, f"http://127.0.0.1:{port}/v1/chat/completions", {})


def start_litellm_proxy(servers: Servers, info: dict[str, Any], python: str) -> None:
    from litellm_env import ENV as LITELLM_ENV

    port = free_port()
    master_key = "sk-" + secrets.token_hex(32)
    config = OUT / "litellm-proxy.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {info['sim_url']}/deepseek/v1\n"
        "      api_key: sk-simulated\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
    )
    litellm = os.path.join(os.path.dirname(python), "litellm")
    argv = [
        python,
        litellm,
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    proc = Proc("litellm-proxy", argv, LITELLM_ENV)
    servers.start(
        "litellm-proxy",
        proc,
        port,
        f"http://127.0.0.1:{port}/v1/chat/completions",
        {"authorization": f"Bearer {master_key}"},
        timeout=120,
    )
    deadline = time.monotonic() + 60
    while True:  # the port opens before the proxy has loaded its config
        try:
            response = httpx.post(
                servers.urls["litellm-proxy"],
                json=chat_body(),
                headers=servers.headers["litellm-proxy"],
                timeout=30,
            )
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"LiteLLM proxy never answered (see {proc.log_path})")
        time.sleep(0.5)


def _throughput(info: dict[str, Any], quick: bool, python: str | None, note: str) -> list[Row]:
    servers = Servers()
    rounds = 1 if quick else 4  # short alternating rounds: bursts of other load hit all
    duration = 3.0
    warmup = 1.0
    max_requests = 50_000
    results: dict[str, list[LoadResult]] = {}
    hwm: dict[str, int | None] = {}
    cpu: dict[str, float] = {}  #: CPU seconds each server used during its own load
    try:
        log("http: starting the gateway (3 publishers), SQS stand-in, forwarder, LiteLLM proxy")
        sqs_url = start_sqs_standin(servers)
        start_gateway(servers, info, sqs_url=sqs_url)
        start_gateway(servers, info)
        start_gateway(servers, info, publish=False)
        start_forwarder(servers, info)
        servers.urls["direct"] = f"{info['sim_url']}/deepseek/v1/chat/completions"
        servers.headers["direct"] = {}
        litellm_error = ""
        if python is not None:
            try:
                start_litellm_proxy(servers, info, python)
            except Exception as exc:
                litellm_error = f"LiteLLM proxy failed to start: {exc}"
                log(litellm_error)
        names = [
            n
            for n in (
                "direct",
                "forwarder",
                "gateway-sqs",
                "gateway-moto",
                "gateway-nopub",
                "litellm-proxy",
            )
            if n in servers.urls
        ]
        for round_no in range(rounds):
            for name in names:
                log(
                    f"http: round {round_no + 1}/{rounds}, {name}, {duration:.0f} s at "
                    f"concurrency {CONCURRENCY}"
                )
                purge_usage_queue(info)
                watched = [n for n in (name, "sqs-standin") if n in servers.procs]
                cpu_before = {n: servers.procs[n].cpu_s() for n in watched}
                result = asyncio.run(
                    http_load(
                        servers.urls[name],
                        chat_body(),
                        servers.headers[name],
                        concurrency=CONCURRENCY,
                        duration_s=duration,
                        max_requests=max_requests,
                        warmup_s=warmup,
                    )
                )
                if result.first_error:
                    log(f"http: {name}: {result.errors} errors, first: {result.first_error}")
                results.setdefault(name, []).append(result)
                for n in watched:  # the stand-in's share counts against what it served
                    key = name if n == name else f"{n} for {name}"
                    cpu[key] = cpu.get(key, 0.0) + servers.procs[n].cpu_s() - cpu_before[n]
        for name, proc in servers.procs.items():
            hwm[name] = proc.vm_hwm_kb()
        answered = sum(r.answered for r in results["gateway-sqs"]) + 1  # + start_gateway's
        published, calls = _published(sqs_url, answered)
    finally:
        servers.stop()

    s = {name: _merge(parts) for name, parts in results.items()}
    gw, moto, fw, d = s["gateway-sqs"], s["gateway-moto"], s["forwarder"], s["direct"]
    nopub = s.get("gateway-nopub")
    rows = [
        Row(
            "http",
            "req/s: gateway vs bare FastAPI+httpx forwarder",
            gw.rps,
            "req/s",
            fw.rps,
            "forwarder req/s",
            "every usage event published (SendMessageBatch on the event loop) to an SQS "
            f"stand-in in its own process; {published} events for {answered} answers, "
            f"{published / max(calls, 1):.1f} a call; errors={gw.errors}",
            target=">= 0.60x",
            met=gw.rps >= 0.6 * fw.rps,
            higher_is_better=True,
        ),
        Row(
            "http",
            "req/s: gateway publishing to SQS on moto vs forwarder",
            moto.rps,
            "req/s",
            fw.rps,
            "forwarder req/s",
            "moto's SQS spends milliseconds of CPU a message on the same 2 cores: it bounds "
            f"this figure, real SQS does not run here; errors={moto.errors}",
            higher_is_better=True,
        ),
    ]
    if nopub is not None:
        rows.append(
            Row(
                "http",
                "req/s: gateway without publish vs forwarder",
                nopub.rps,
                "req/s",
                fw.rps,
                "forwarder req/s",
                f"publisher that does nothing; errors={nopub.errors}",
                target=">= 0.60x",
                met=nopub.rps >= 0.6 * fw.rps,
                higher_is_better=True,
            )
        )
    lit = s.get("litellm-proxy")
    if lit is not None:
        rows.append(
            Row(
                "http",
                "req/s: gateway vs LiteLLM proxy",
                gw.rps,
                "req/s",
                lit.rps,
                "LiteLLM proxy req/s",
                "gateway publishing to the SQS stand-in; LiteLLM proxy keeps no spend (no "
                f"database); errors={lit.errors}",
                target=">= 4x",
                met=gw.rps >= 4 * lit.rps,
                higher_is_better=True,
            )
        )
        if nopub is not None:
            rows.append(
                Row(
                    "http",
                    "req/s: gateway without publish vs LiteLLM proxy",
                    nopub.rps,
                    "req/s",
                    lit.rps,
                    "LiteLLM proxy req/s",
                    "the gateway's own work: the SQS call is accounting's (its own rows)",
                    target=">= 4x",
                    met=nopub.rps >= 4 * lit.rps,
                    higher_is_better=True,
                )
            )
    else:
        rows.append(
            Row("http", "req/s: LiteLLM proxy: skipped", None, "", note=litellm_error or note)
        )
    rows += [
        Row(
            "http",
            "req/s: gateway vs direct to the simulator",
            gw.rps,
            "req/s",
            d.rps,
            "direct req/s",
            "the direct figure is bounded by the load generator",
            higher_is_better=True,
        ),
        Row(
            "http",
            "req/s: bare forwarder vs direct to the simulator",
            fw.rps,
            "req/s",
            d.rps,
            "direct req/s",
            "the floor of any Python proxy hop here",
            higher_is_better=True,
        ),
        Row(
            "http",
            "latency p50 at 16 in flight: gateway vs forwarder",
            gw.p50_ms,
            "ms",
            fw.p50_ms,
            "forwarder p50",
            f"direct p50 {fmt(d.p50_ms)} ms",
        ),
        Row(
            "http",
            "latency p99 at 16 in flight: gateway vs forwarder",
            gw.p99_ms,
            "ms",
            fw.p99_ms,
            "forwarder p99",
            f"direct p99 {fmt(d.p99_ms)} ms",
        ),
    ]
    if lit is not None:
        rows += [
            Row(
                "http",
                "latency p50 at 16 in flight: gateway vs LiteLLM proxy",
                gw.p50_ms,
                "ms",
                lit.p50_ms,
                "LiteLLM proxy p50",
                "",
            ),
            Row(
                "http",
                "latency p99 at 16 in flight: gateway vs LiteLLM proxy",
                gw.p99_ms,
                "ms",
                lit.p99_ms,
                "LiteLLM proxy p99",
                "",
            ),
        ]
    rows += _cpu_rows(cpu, results)
    mb = {k: (v / 1024 if v else None) for k, v in hwm.items()}
    g_mb = mb.get("gateway-sqs")
    rows.append(
        Row(
            "memory",
            "peak RSS under load: gateway vs LiteLLM proxy",
            g_mb,
            "MiB",
            mb.get("litellm-proxy"),
            "LiteLLM proxy peak RSS",
            "VmHWM of the uvicorn process after its load"
            if mb.get("litellm-proxy")
            else "LiteLLM proxy not measured",
            target="< 100 MiB",
            met=g_mb is not None and g_mb < 100,
        )
    )
    rows.append(
        Row(
            "memory",
            "peak RSS under load: gateway vs bare forwarder",
            g_mb,
            "MiB",
            mb.get("forwarder"),
            "forwarder peak RSS",
            "the gateway imports boto3 (SQS, DynamoDB) and its routing tables",
        )
    )
    return rows


def _cpu_rows(cpu: dict[str, float], results: dict[str, list[LoadResult]]) -> list[Row]:
    """CPU milliseconds per answer of each server process: less sensitive than req/s to what
    else the shared cores are doing."""
    per = {
        name: 1000 * seconds / max(1, sum(r.answered for r in results[name.split(" for ")[-1]]))
        for name, seconds in cpu.items()
    }
    how = "user+system CPU of the server process (/proc) over its load, per answer"
    rows = []
    for name, label, note in (
        ("gateway-sqs", "gateway", "publishing every event to the SQS stand-in"),
        ("gateway-nopub", "gateway without publish", "publisher that does nothing"),
        ("gateway-moto", "gateway publishing to SQS on moto", "the gateway's side only"),
    ):
        if name in per:
            rows.append(
                Row("http", f"CPU per request: {label} vs forwarder", per[name], "ms",
                    per.get("forwarder"), "forwarder CPU per request", f"{note}; {how}")
            )  # fmt: skip
    if "litellm-proxy" in per and "gateway-sqs" in per:
        rows.append(
            Row("http", "CPU per request: gateway vs LiteLLM proxy", per["gateway-sqs"], "ms",
                per["litellm-proxy"], "LiteLLM proxy CPU per request", how)
        )  # fmt: skip
    standin = per.get("sqs-standin for gateway-sqs")
    if standin is not None:
        rows.append(
            Row("http", "CPU per request: the SQS stand-in's side of the publish", standin, "ms",
                per.get("gateway-sqs"), "gateway CPU per request",
                "on these shared cores only in the benchmark: real SQS runs on AWS's machines")
        )  # fmt: skip
    return rows


def _published(sqs_url: str, answered: int) -> tuple[int, int]:
    """(events, calls) the stand-in received, once it has `answered` events or 5 s have
    passed (a response's body goes out before its event is published)."""
    deadline = time.monotonic() + 5
    while True:
        count = httpx.get(f"{sqs_url}/_standin/count", timeout=10).json()
        if count["received"] >= answered or time.monotonic() > deadline:
            return int(count["received"]), int(count["calls"])
        time.sleep(0.1)


def _merge(parts: list[LoadResult]) -> Summary:
    from common import summarise

    latencies = [x for p in parts for x in p.latencies_s]
    return summarise(latencies, sum(p.elapsed_s for p in parts), sum(p.errors for p in parts))


# -- streaming -----------------------------------------------------------------------------------
class StreamProblem(Exception):
    """A stream that did not carry a whole simulated answer (error event, too short, wrong)."""


#: a valid answer has the role chunk, at least this many content chunks and the finish chunk
MIN_CHUNKS = 10


async def _one_stream(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> tuple[float, float, int, float]:
    """(time to first content chunk, total time, chunks, last content chunk to the end)."""
    t0 = time.perf_counter()
    first = 0.0
    last = 0.0
    chunks = 0
    done = False
    async with client.stream("POST", url, content=body, headers=headers) as response:
        if response.status_code != 200:
            raise StreamProblem(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            if line.startswith("data: [DONE]"):
                done = True
                continue
            if '"error"' in line and '"choices"' not in line:
                raise StreamProblem(f"error event: {line[:200]}")
            if '"choices":[{' in line:
                last = time.perf_counter() - t0
                first = first or last
            chunks += 1
    total = time.perf_counter() - t0
    if not done or chunks < MIN_CHUNKS:
        raise StreamProblem(
            f"short stream: {chunks} chunks, [DONE] {'seen' if done else 'missing'}"
        )
    return first, total, chunks, total - last


@dataclass
class StreamRun:
    samples: list[tuple[float, float, int, float]]
    errors: int = 0
    first_problem: str = ""


async def _streams(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    n: int,
    concurrency: int,
    seconds: float,
) -> StreamRun:
    content = json.dumps(body).encode()
    run = StreamRun([])
    budget = n
    deadline = time.monotonic() + seconds
    request_headers = {"content-type": "application/json", **headers}

    async def one() -> None:
        try:
            run.samples.append(await _one_stream(client, url, content, request_headers))
        except (StreamProblem, httpx.HTTPError) as exc:
            run.errors += 1
            run.first_problem = run.first_problem or f"{type(exc).__name__}: {exc}"[:240]

    async with httpx.AsyncClient(timeout=30.0) as client:
        for _ in range(2):
            await one()
        run.samples.clear()
        run.errors = 0

        async def worker() -> None:
            nonlocal budget
            while budget > 0 and time.monotonic() < deadline:
                budget -= 1
                await one()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return run


def _extend(total: StreamRun, part: StreamRun) -> None:
    total.samples += part.samples
    total.errors += part.errors
    total.first_problem = total.first_problem or part.first_problem


def _streaming(info: dict[str, Any], quick: bool) -> list[Row]:
    servers = Servers()
    try:
        gw = start_gateway(servers, info)
        gw_url, gw_headers = servers.urls[gw], servers.headers[gw]
        paced_direct = f"{info['sim_url']}/{PACED_PROVIDER}/v1/chat/completions"
        zero_direct = f"{info['sim_url']}/deepseek/v1/chat/completions"
        opts = {"stream": True, "stream_options": {"include_usage": True}}
        paced = chat_body(PACED_MODEL, **opts)
        long_messages = [
            *MESSAGES[:-1],
            {"role": "user", "content": MESSAGES[-1]["content"] + " [sim:tokens=200]"},
        ]
        long_body = {**chat_body(MODEL, **opts), "messages": long_messages}
        n = 12 if quick else 80
        n_long = 10 if quick else 60
        seconds = 20.0 if quick else 60.0
        log(
            f"streaming: TTFT ({PACED_TTFT_MS} ms simulated, {PACED_TOKENS_PER_SECOND} tok/s), "
            f"n={n} per side one at a time; per-chunk, 200-token streams, n={n_long}"
        )
        ttft_gw = StreamRun([])
        ttft_direct = StreamRun([])
        for _ in range(2):  # alternate halves so drift hits both alike
            purge_usage_queue(info)
            _extend(
                ttft_direct, asyncio.run(_streams(paced_direct, paced, {}, n // 2, 1, seconds / 2))
            )
            _extend(
                ttft_gw, asyncio.run(_streams(gw_url, paced, gw_headers, n // 2, 1, seconds / 2))
            )
        purge_usage_queue(info)
        long_direct = asyncio.run(_streams(zero_direct, long_body, {}, n_long, 1, seconds))
        long_gw = asyncio.run(_streams(gw_url, long_body, gw_headers, n_long, 1, seconds))
    finally:
        servers.stop()

    def ms(values: list[float], q: float) -> float:
        return percentile(values, q) * 1000

    g_first = [x[0] for x in ttft_gw.samples]
    d_first = [x[0] for x in ttft_direct.samples]
    g_tail = [x[3] for x in ttft_gw.samples]
    d_tail = [x[3] for x in ttft_direct.samples]
    problems = "; ".join(
        f"{name}: {r.errors} invalid ({r.first_problem})"
        for name, r in (
            ("gateway", ttft_gw),
            ("direct", ttft_direct),
            ("gateway 200-token", long_gw),
            ("direct 200-token", long_direct),
        )
        if r.errors
    )
    if problems:
        log(f"streaming: {problems}")

    def per_chunk(samples: list[tuple[float, float, int, float]]) -> list[float]:
        return [(total - first) / max(chunks - 1, 1) for first, total, chunks, _ in samples]

    g_chunk, d_chunk = per_chunk(long_gw.samples), per_chunk(long_direct.samples)
    chunks = long_gw.samples[0][2] if long_gw.samples else 0
    return [
        Row(
            "streaming",
            "time to first token p50: gateway vs direct",
            ms(g_first, 50),
            "ms",
            ms(d_first, 50),
            "direct TTFT p50",
            f"added {fmt(ms(g_first, 50) - ms(d_first, 50))} ms over HTTP (one extra hop); "
            f"simulated TTFT {PACED_TTFT_MS} ms; n={len(g_first)}"
            + (f"; INVALID STREAMS: {problems}" if problems else ""),
        ),
        Row(
            "streaming",
            "time to first token p99: gateway vs direct",
            ms(g_first, 99),
            "ms",
            ms(d_first, 99),
            "direct TTFT p99",
            f"added {fmt(ms(g_first, 99) - ms(d_first, 99))} ms",
        ),
        Row(
            "streaming",
            "stream tail p50 (last token to end of stream): gateway vs direct",
            ms(g_tail, 50),
            "ms",
            ms(d_tail, 50),
            "direct tail p50",
            "after [DONE] the gateway publishes the usage event (SQS on moto) before it ends "
            "the stream: the client has every byte, the response stays open until recorded",
        ),
        Row(
            "streaming",
            "per-chunk time p50: gateway vs direct (zero-latency stream)",
            ms(g_chunk, 50),
            "ms",
            ms(d_chunk, 50),
            "direct per-chunk p50",
            f"added {fmt((ms(g_chunk, 50) - ms(d_chunk, 50)) * 1000, 1)} us per chunk; "
            f"{chunks} chunks a stream; n={len(g_chunk)}",
        ),
        Row(
            "streaming",
            "per-chunk time p99: gateway vs direct (zero-latency stream)",
            ms(g_chunk, 99),
            "ms",
            ms(d_chunk, 99),
            "direct per-chunk p99",
            "",
        ),
    ]


def run(
    section: str, info: dict[str, Any], quick: bool, litellm_python: str | None, litellm_note: str
) -> list[Row]:
    if section == "http":
        return _throughput(info, quick, litellm_python, litellm_note)
    return _streaming(info, quick)
