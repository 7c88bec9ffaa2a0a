"""Response cache benchmark: a hit against a miss, in the same run, end to end over HTTP.

    .venv/bin/python bench/bench_cache.py

One local stack (moto server, SIMULATED upstreams, the gateway on uvicorn, all on loopback),
requests sent one at a time by an httpx client. A miss is a temperature-0 request with a
prompt never sent before (GetItem finds nothing, the upstream answers, the entry is written in
the background); a hit repeats a request whose answer is stored (one GetItem, no upstream).
Both publish their usage event to SQS before answering, as production does. Measured twice:
with the simulator at zero latency (the gateway's own cost of each path) and at its
realistic per-model latency (what a client sees). moto on loopback stands in for DynamoDB and
SQS, so absolute figures are local ones; the ratio is the point. ``run()`` returns rows
{"name", "value", "unit", "baseline", "note"}; a hit row's baseline is the miss measured in
the same run.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))

from common import percentile  # noqa: E402

MODEL = "deepseek-v4-flash"
#: (latency mode, misses (and uncached requests), hits): realistic misses take ~0.8 s each
PLAN = (("zero", 300, 300), ("realistic", 20, 300))
WARMUP = 10


def _body(prompt: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "temperature": 0,
    }


def _timed(client: Any, body: dict[str, Any], expect: str | None) -> float:
    started = time.perf_counter()
    response = client.post("/chat/completions", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or response.headers.get("x-modelyard-cache") != expect:
        raise RuntimeError(
            f"expected a {expect}: {response.status_code} "
            f"{response.headers.get('x-modelyard-cache')} {response.text[:200]}"
        )
    return elapsed


def _settle(gateway: Any) -> None:
    deadline = time.monotonic() + 10
    while gateway.cache_writes and time.monotonic() < deadline:
        time.sleep(0.001)


def _empty_queue(stack: Any) -> None:
    """No aggregator runs here; keep moto's queue short so every phase sees the same SQS."""
    from modelyard import aws

    sqs = aws.client("sqs")
    while True:  # PurgeQueue is allowed once a minute: receive and delete instead
        messages = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def _measure(stack: Any, client: Any, latency: str, misses: int, hits: int) -> list[dict]:
    stack.simulator.configure_now(faults="", latency=latency)
    gateway = stack.app.state.gateway()
    run_id = uuid.uuid4().hex[:8]
    samples: dict[str, list[float]] = {"uncached": [], "miss": []}
    for kind, temperature, expect in (("uncached", 0.7, None), ("miss", 0, "miss")):
        _empty_queue(stack)
        for i in range(WARMUP + misses):
            body = {**_body(f"{kind} {run_id} {i}: name a colour"), "temperature": temperature}
            elapsed = _timed(client, body, expect)
            if i >= WARMUP:
                samples[kind].append(elapsed)
        _settle(gateway)
    cached = _body(f"hit {run_id}: name a colour")
    _timed(client, cached, "miss")
    _settle(gateway)
    _empty_queue(stack)
    hit_ms = [_timed(client, cached, "hit") for _ in range(WARMUP + hits)][WARMUP:]
    miss_ms = samples["miss"]
    note = f"sim latency {latency}, {MODEL}, non-streaming, sequential"
    rows = []
    for q in (50, 99):
        miss, hit = percentile(miss_ms, q), percentile(hit_ms, q)
        uncached = percentile(samples["uncached"], q)
        rows.append(
            {
                "name": f"cache not applicable p{q} (sim {latency})",
                "value": round(uncached, 2),
                "unit": "ms",
                "baseline": None,
                "note": f"{note}, temperature 0.7: no lookup, n={len(samples['uncached'])}",
            }
        )
        rows.append(
            {
                "name": f"cache miss p{q} (sim {latency})",
                "value": round(miss, 2),
                "unit": "ms",
                "baseline": round(uncached, 2),
                "note": f"{note}, n={len(miss_ms)}; baseline: not applicable p{q} (the "
                f"lookup's cost: {miss - uncached:+.1f} ms)",
            }
        )
        rows.append(
            {
                "name": f"cache hit p{q} (sim {latency})",
                "value": round(hit, 2),
                "unit": "ms",
                "baseline": round(miss, 2),
                "note": f"{note}, n={len(hit_ms)}; baseline: the miss p{q} of this run "
                f"({miss / hit:.1f}x faster)",
            }
        )
    return rows


def run() -> list[dict[str, object]]:
    import httpx

    from modelyard.local.stack import LocalStack

    saved = dict(os.environ)
    os.environ["MODELYARD_RESPONSE_CACHE"] = "on"  # bench/common.py turns it off elsewhere
    stack = LocalStack(sim_latency="zero", sim_faults="").start(poll=False)
    try:
        base_url = stack.serve_gateway()
        headers = {"authorization": f"Bearer {stack.api_key}"}
        rows: list[dict[str, object]] = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            for latency, misses, hits in PLAN:
                rows += _measure(stack, client, latency, misses, hits)
        return rows
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    if "--json" in sys.argv:  # for bench/run.py, which runs this in its own process
        print(json.dumps(run()))
        return
    for row in run():
        baseline = "" if row["baseline"] is None else f"  (baseline {row['baseline']} ms)"
        print(f"{row['name']:<42} {row['value']:>9} {row['unit']}{baseline}  {row['note']}")


if __name__ == "__main__":
    main()
