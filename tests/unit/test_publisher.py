"""The usage publisher batches what arrives together, and never drops an event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelyard.usage.events import UsageEvent
from modelyard.usage.publisher import UsagePublisher


def event(i: int) -> UsageEvent:
    return UsageEvent(
        request_id=f"req_{i}", tenant="t", key_id="k", created_at="x", day="2026-11-24", status="ok"
    )


class FakeSQS:
    """A batch sender that holds the first batch until the test lets it go."""

    def __init__(self, fail_ids: set[str] = frozenset(), down: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail_ids, self.down = fail_ids, down
        self.gate = asyncio.Event()

    async def send(self, bodies: list[str]) -> set[int]:
        await asyncio.wait_for(self.gate.wait(), 5)
        if self.down:
            raise ConnectionError("sqs is down")
        self.batches.append([str(i) for i in range(len(bodies))])
        return {i for i in range(len(bodies)) if str(i) in self.fail_ids}


class Recorder(UsagePublisher):
    def __init__(self, sqs: FakeSQS, ledger_down: bool = False) -> None:
        super().__init__("https://queue", "table", lambda service: None, sender=sqs)
        self.recorded: list[str] = []
        self.ledger_down = ledger_down

    def record(self, event: UsageEvent) -> str:
        if self.ledger_down:
            raise ConnectionError("dynamodb is down")
        self.recorded.append(event.request_id)
        return "recorded"


def publish_all(publisher: UsagePublisher, sqs: FakeSQS, count: int) -> list[Any]:
    async def run() -> list[Any]:
        tasks = [asyncio.create_task(publisher.publish(event(i))) for i in range(count)]
        await asyncio.sleep(0.05)  # every event is waiting behind the first batch
        sqs.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(run())


def test_events_published_together_share_batches_of_ten():
    sqs = FakeSQS()
    outcomes = publish_all(Recorder(sqs), sqs, 25)
    assert outcomes == ["queued"] * 25
    assert [len(b) for b in sqs.batches] == [10, 10, 5]


def test_entries_sqs_refuses_are_recorded_directly():
    sqs = FakeSQS(fail_ids={"0"})
    publisher = Recorder(sqs)
    outcomes = publish_all(publisher, sqs, 3)
    assert "recorded" in outcomes and outcomes.count("queued") == 2
    assert len(publisher.recorded) == 1


def test_with_sqs_down_every_event_is_recorded_directly():
    sqs = FakeSQS(down=True)
    publisher = Recorder(sqs)
    assert publish_all(publisher, sqs, 12) == ["recorded"] * 12
    assert sorted(publisher.recorded) == sorted(f"req_{i}" for i in range(12))


def test_a_caller_learns_when_its_event_could_not_be_recorded_at_all():
    sqs = FakeSQS(down=True)
    outcomes = publish_all(Recorder(sqs, ledger_down=True), sqs, 2)
    assert all(isinstance(o, ConnectionError) for o in outcomes)


def test_without_a_queue_events_go_straight_to_the_ledger():
    publisher = Recorder(FakeSQS())
    publisher.queue_url = None
    assert asyncio.run(publisher.publish(event(1))) == "recorded"


@pytest.mark.parametrize("count", [1, 3])
def test_the_publisher_works_on_a_fresh_event_loop_each_time(count: int):
    sqs = FakeSQS()
    sqs.gate.set()
    publisher = Recorder(sqs)
    for _ in range(2):  # as Mangum may do, one loop per invocation
        assert asyncio.run(publisher.publish(event(count))) == "queued"
