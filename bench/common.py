"""Shared pieces of the benchmark harness: rows, statistics, processes, the load generator.

Everything here is bounded: every loop has a request count and a wall-clock limit, every
server is a child process on loopback that `Proc.stop` ends by its own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
FUNCTIONS = ROOT / "functions"
PROJECT_PYTHON = sys.executable
# The overhead figures measure the forwarding path; the response cache would answer their
# repeated temperature-0 request itself (bench/bench_cache.py measures the cache).
os.environ.setdefault("MODELYARD_RESPONSE_CACHE", "off")

#: the one request every overhead figure sends (non-streaming, 24 simulated output tokens)
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Say hello to the benchmark in one short sentence."},
]
MODEL = "deepseek-v4-flash"
FALLBACK_MODEL = "qwen3-32b"
#: the model the simulator paces (fixed small TTFT) for the streaming figures
PACED_MODEL = "kimi-k2.5"
PACED_PROVIDER = "moonshot"
PACED_TTFT_MS = 50
PACED_TOKENS_PER_SECOND = 200


def chat_body(model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, "temperature": 0, **extra}


@dataclass
class Row:
    """One figure, always measured against its baseline in the same run."""

    group: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""
    #: e.g. "<= 1 ms"; `met` is None when the row has no target
    target: str = ""
    met: bool | None = None
    #: whether a larger value is better (throughput) or worse (latency, size)
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class Summary:
    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    rps: float
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(latencies_s: Sequence[float], elapsed_s: float, errors: int = 0) -> Summary:
    ms = [x * 1000 for x in latencies_s]
    return Summary(
        n=len(ms),
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        mean_ms=statistics.fmean(ms) if ms else float("nan"),
        rps=len(ms) / elapsed_s if elapsed_s > 0 else float("nan"),
        errors=errors,
    )


# -- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s")


class Proc:
    """A child process in its own process group, stopped by its pid (never by name)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        stdin: bool = False,
        capture_stdout: bool = False,
    ) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = OUT / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else self._log,
            stderr=self._log,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def read_json_line(self, timeout: float) -> dict[str, Any]:
        """The first stdout line that parses as a JSON object (the child's hand-over)."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if not line:
                if self.popen.poll() is not None:
                    break
                continue
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
        raise RuntimeError(f"{self.name} gave no JSON line (see {self.log_path})")

    def vm_hwm_kb(self) -> int | None:
        """Peak resident set size (VmHWM) of the process and, summed, its live children."""
        total = 0
        found = False
        for pid in [self.pid, *_children(self.pid)]:
            value = _status_field(pid, "VmHWM")
            if value is not None:
                total += value
                found = True
        return total if found else None

    def cpu_s(self) -> float:
        """CPU time (user + system) used so far by the process and its live children."""
        ticks = 0
        for pid in [self.pid, *_children(self.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log.close()


def _status_field(pid: int, name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in text:
                out.append(int(child))
                out.extend(_children(int(child)))
    except OSError:
        pass
    return out


# -- the load generator --------------------------------------------------------------------------
@dataclass
class LoadResult:
    latencies_s: list[float]
    elapsed_s: float
    errors: int
    first_error: str = ""
    answered: int = 0  #: successful answers, warm-up included

    def summary(self) -> Summary:
        return summarise(self.latencies_s, self.elapsed_s, self.errors)


async def closed_loop(
    send: Callable[[], Awaitable[bool]],
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    warmup_s: float = 0.0,
) -> LoadResult:
    """`concurrency` workers call `send` back to back until the duration or the count runs out.

    Requests started during the warm-up are not recorded. `send` returns True on success.
    """
    latencies: list[float] = []
    errors = 0
    answered = 0
    first_error = ""
    started = time.perf_counter()
    measure_from = started + warmup_s
    stop_at = measure_from + duration_s
    budget = max_requests

    async def worker() -> None:
        nonlocal errors, answered, budget, first_error
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            recording = now >= measure_from
            if recording:
                if budget <= 0:
                    return
                budget -= 1
            t0 = time.perf_counter()
            try:
                ok = await send()
            except Exception as exc:  # a failed request is counted, never fatal
                ok = False
                first_error = first_error or f"{type(exc).__name__}: {exc}"
            answered += ok
            if recording:
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = min(time.perf_counter(), stop_at) - measure_from
    return LoadResult(latencies, max(elapsed, 1e-9), errors, first_error, answered)


async def http_load(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    warmup_s: float,
) -> LoadResult:
    """Closed-loop POSTs with one pooled httpx client (bounded in count and time)."""
    content = json.dumps(body).encode()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        request_headers = {"content-type": "application/json", **headers}

        async def send() -> bool:
            response = await client.post(url, content=content, headers=request_headers)
            return response.status_code == 200 and b'"choices"' in response.content

        return await closed_loop(
            send,
            concurrency=concurrency,
            duration_s=duration_s,
            max_requests=max_requests,
            warmup_s=warmup_s,
        )


# -- the embedded AWS ----------------------------------------------------------------------------
_sqs: dict[str, Any] = {}


def purge_usage_queue(info: dict[str, Any]) -> None:
    """Empty the usage queue on moto between measurements (never while a load is running).

    moto's SendMessage slows down linearly with the queue's depth (about 9 ms at 500 messages,
    50 ms at 3,000 on this machine), and nothing drains it during a benchmark: without this the
    publish figures would measure moto's backlog, not the gateway.
    """
    client = _sqs.get("client")
    if client is None:
        import boto3

        env = info["env"]
        client = boto3.client(
            "sqs",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
        )
        _sqs["client"] = client
    # PurgeQueue is limited to once a minute (moto enforces it too): recreate the queue instead,
    # with the same name and so the same URL, while nothing is publishing.
    url = info["queue_url"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    keep = {k: v for k, v in attributes.items() if k in ("VisibilityTimeout", "RedrivePolicy")}
    client.delete_queue(QueueUrl=url)
    new_url = client.create_queue(QueueName=url.rsplit("/", 1)[-1], Attributes=keep)["QueueUrl"]
    if new_url != url:
        raise RuntimeError(f"recreated usage queue moved: {url} -> {new_url}")


# -- the machine ---------------------------------------------------------------------------------
def machine_note() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 10:
        return f"{value:.2f}"
    return f"{value:.{digits}f}"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
