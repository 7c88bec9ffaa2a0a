"""The load model: a peak of synthetic traffic through the real aggregation code, counted.

Traffic: `rps` requests a second for `seconds`, from `tenants` tenants (Zipf, s = 1, one to
three keys each) over `models` models (Zipf) and the nine tasks, 3% of requests with a
fallback attempt; `duplicate_rate` of events delivered twice (the copy 0-30 s later),
`crash_rate` of invocations dying at a random write (every message comes back after the
queue's visibility timeout), `put_failure_rate` of ledger puts failing alone.

Delivery: SQS hands the aggregator batches of `batch_size` messages, or what arrived within
`window` seconds, whichever is first; a batch's writes happen in the second it closes (so a
hot item's writes a second are the batches a second that touch it). Today's design (`record`
per message: one transaction per request) is run on the same deliveries, its writes in the
second each message arrives.

Both runs write into a `RecordingDynamoDB` (local.recorder) and end with a check that every
counter equals the sum of the ledger items it covers, exactly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from modelyard.local.recorder import RecordingDynamoDB
from modelyard.routing.classifier import TASKS
from modelyard.store.dynamo import from_item
from modelyard.usage import aggregate, batches
from modelyard.usage.events import AttemptRecord, UsageEvent

VISIBILITY_TIMEOUT = 185  # template.yaml UsageQueue
TABLE = "usage"
Design = Literal["per-request", "per-batch"]


@dataclass(frozen=True)
class Traffic:
    rps: int = 10_000
    seconds: int = 10
    tenants: int = 1_000
    models: int = 20
    batch_size: int = 1_000  # template.yaml: the aggregator's BatchSize
    window: float = 5.0  # MaximumBatchingWindowInSeconds
    duplicate_rate: float = 0.01
    crash_rate: float = 0.01
    put_failure_rate: float = 0.001
    seed: int = 2026


@dataclass
class Result:
    design: Design
    requests: int
    write_units: int
    read_units: float
    transactions: int
    hottest_item: str
    hottest_writes_per_second: int
    hottest_counter: str
    hottest_counter_writes_per_second: int
    reconciled: bool
    hottest_partition: str = ""
    hottest_partition_units_per_second: int = 0

    def row(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "requests": self.requests,
            "write units / request": round(self.write_units / self.requests, 3),
            "read units / request": round(self.read_units / self.requests, 4),
            "transactions / request": round(self.transactions / self.requests, 4),
            "most writes to one item in a second": self.hottest_writes_per_second,
            "  that item": self.hottest_item,
            "most writes to one shared counter in a second": self.hottest_counter_writes_per_second,
            "  that counter": self.hottest_counter,
            "most write units to one partition key in a second": (
                self.hottest_partition_units_per_second
            ),
            "  that partition key": self.hottest_partition,
            "ledger == counters": self.reconciled,
        }


def zipf_weights(n: int) -> list[float]:
    return [1 / rank for rank in range(1, n + 1)]


def synthetic_events(traffic: Traffic, rng: random.Random) -> list[tuple[float, UsageEvent]]:
    """(arrival second, event) for every request of the peak, in arrival order."""
    tenants = [f"tenant-{i:04d}" for i in range(traffic.tenants)]
    models = [f"model-{i:02d}" for i in range(traffic.models)]
    keys = {t: [f"{t}-key-{k}" for k in range(rng.randint(1, 3))] for t in tenants}
    total = traffic.rps * traffic.seconds
    chosen_tenants = rng.choices(tenants, zipf_weights(len(tenants)), k=total)
    chosen_models = rng.choices(models, zipf_weights(len(models)), k=total)
    found = []
    for i in range(total):
        tenant, model, at = chosen_tenants[i], chosen_models[i], i / traffic.rps
        tokens_in, tokens_out = rng.randint(100, 10_000), rng.randint(10, 5_000)
        attempts = [AttemptRecord(model=model, provider="p", status="ok", latency_ms=900)]
        if rng.random() < 0.03:
            other = rng.choice(models)
            attempts.insert(0, AttemptRecord(model=other, provider="q", status="error"))
        second = int(at)
        event = UsageEvent(
            request_id=f"req_{traffic.seed}_{i:09d}",
            tenant=tenant,
            key_id=rng.choice(keys[tenant]),
            created_at=f"2026-11-24T14:{second // 60:02d}:{second % 60:02d}+00:00",
            day="2026-11-24",
            status="ok",
            task=rng.choice(TASKS),
            model=model,
            provider="p",
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=(tokens_in * Decimal("0.14") + tokens_out * Decimal("0.28")) / 10**6,
            latency_ms=900,
            ttft_ms=400,
            attempts=attempts,
        )
        found.append((at, event))
    return found


def deliveries(traffic: Traffic, rng: random.Random) -> list[tuple[float, UsageEvent]]:
    """Every delivery SQS makes of the peak's events, duplicates included, by time."""
    events = synthetic_events(traffic, rng)
    copies = [
        (at + rng.uniform(0, 30), e) for at, e in events if rng.random() < traffic.duplicate_rate
    ]
    return sorted(events + copies, key=lambda pair: pair[0])


def run(traffic: Traffic, design: Design) -> Result:
    rng = random.Random(traffic.seed)
    queue = deliveries(traffic, rng)
    clock = [0.0]
    db = RecordingDynamoDB(lambda: clock[0])
    faults = random.Random(traffic.seed + 1)
    requests = len({e.request_id for _, e in queue})
    while queue:
        redelivered: list[tuple[float, UsageEvent]] = []
        for closes, batch in _batches(queue, traffic):
            clock[0] = closes
            failed = _deliver(db, batch, design, traffic, faults, clock)
            redelivered += [(closes + VISIBILITY_TIMEOUT, e) for e in failed]
        queue = sorted(redelivered, key=lambda pair: pair[0])
    key, writes = db.counts.hottest()
    counter, counter_writes = db.counts.hottest(skip=("BATCH#",))
    [((partition, _), units)] = db.counts.units_per_key_second.most_common(1)
    return Result(
        design=design,
        requests=requests,
        write_units=db.counts.write_units,
        read_units=db.counts.read_units,
        transactions=db.counts.transactions,
        hottest_item=f"{key[0]} / {key[1]}",
        hottest_writes_per_second=writes,
        hottest_counter=f"{counter[0]} / {counter[1]}",
        hottest_counter_writes_per_second=counter_writes,
        reconciled=reconciled(db),
        hottest_partition=partition,
        hottest_partition_units_per_second=units,
    )


Delivery = list[tuple[float, UsageEvent]]


def _batches(queue: Delivery, traffic: Traffic) -> list[tuple[float, Delivery]]:
    """Batches as the event source forms them: full, or closed by the window."""
    found: list[tuple[float, Delivery]] = []
    opened, current = 0.0, Delivery()
    for at, event in queue:
        if current and at - opened > traffic.window:
            found.append((opened + traffic.window, current))
            current = []
        if not current:
            opened = at
        current.append((at, event))
        if len(current) == traffic.batch_size:
            found.append((at, current))
            current = []
    if current:
        found.append((opened + traffic.window, current))
    return found


class _Crash(Exception):
    pass


class _Faulty:
    """The recorder, with the invocation dying at its n-th write and some puts failing."""

    def __init__(self, db: RecordingDynamoDB, die_at: int | None, fail: set[str]):
        self._db = db
        self._left = die_at
        self._fail = fail
        self.exceptions = db.exceptions

    @property
    def dead(self) -> bool:
        return self._left is not None and self._left <= 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._db, name)
        if name == "get_item":
            return method

        def write(**request: Any) -> Any:
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    raise _Crash(name)
            if name == "put_item" and request["Item"]["pk"]["S"][4:] in self._fail:
                raise _Crash("throttled")
            return method(**request)

        return write


def _deliver(
    db: RecordingDynamoDB,
    delivery: Delivery,
    design: Design,
    traffic: Traffic,
    faults: random.Random,
    clock: list[float],
) -> list[UsageEvent]:
    """One invocation; returns the events to redeliver."""
    batch = [event for _, event in delivery]
    die_at = None
    if faults.random() < traffic.crash_rate:
        die_at = faults.randint(1, len(batch) + 20)
    fail = {e.request_id for e in batch if faults.random() < traffic.put_failure_rate}
    client = _Faulty(db, die_at, fail)
    if design == "per-batch":
        result = batches.record_batch(client, TABLE, batch, now=db.clock, writers=1)
        if client.dead:
            return batch  # the invocation died: nothing it did was reported
        return [e for e in batch if e.request_id in result.retry]
    failed: list[UsageEvent] = []
    for i, (at, event) in enumerate(delivery):
        clock[0] = max(clock[0], at)  # one transaction per message, as it arrives
        try:
            if event.request_id in fail:
                raise _Crash("throttled")
            aggregate.record(client, TABLE, event)
        except _Crash:
            if client.dead:
                return batch[i:] + failed  # the rest, and those it had reported, come back
            failed.append(event)
    return failed


def reconciled(db: RecordingDynamoDB) -> bool:
    """Every counter equals the sum of the ledger items it covers."""
    expected: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for key, item in db.items.items():
        if key[1] != "LEDGER":
            continue
        for counter, amounts in aggregate.deltas(
            UsageEvent.model_validate(from_item(item))
        ).items():
            for name, amount in amounts.items():
                expected[counter][name] += amount
    counters = {
        key: from_item(item)
        for key, item in db.items.items()
        if key[1] != "LEDGER" and not key[0].startswith(("BATCH#", "BUDGET#"))
    }
    if set(counters) != set(expected):
        return False
    return all(
        Decimal(counters[key].get(name, 0)) == amount
        for key, totals in expected.items()
        for name, amount in totals.items()
    )
