"""`make bench`: every figure of issue 9 against its baseline, measured in the same run.

    .venv/bin/python bench/run.py                    # everything (about 6-9 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick            # small N: a smoke test
    .venv/bin/python bench/run.py --only overhead    # one section (comma-separated for more)

Sections: overhead (in process, with LiteLLM's Router), profile, http (one uvicorn worker:
gateway, bare forwarder, simulator, LiteLLM proxy; includes memory), streaming, coldstart,
package, routing (bench_routing.run(), when present), resilience, cache, accounting (the
load model and the AWS bill per million requests).

Prints a table, writes bench/out/results.json and bench/out/benchmarks.png, and, for a full
run (or with --write), BENCHMARKS.md. LiteLLM is installed on first use into
bench/.venv-litellm, never into the project's venv; without a package index its rows are
skipped with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parent),
    str(Path(__file__).resolve().parent.parent / "functions"),
]

from common import (  # noqa: E402
    BENCH,
    FUNCTIONS,
    OUT,
    PROJECT_PYTHON,
    Proc,
    Row,
    free_port,
    log,
    machine_note,
    wait_for_port,
)

SECTIONS = (
    "overhead",
    "profile",
    "http",
    "streaming",
    "coldstart",
    "package",
    "routing",
    "resilience",
    "cache",
    "accounting",
)
ALIASES = {"memory": "http", "throughput": "http", "litellm": "overhead", "cold": "coldstart"}
NEEDS_STACK = {"overhead", "profile", "http", "streaming", "coldstart", "resilience"}
NEEDS_LITELLM = {"overhead", "http", "coldstart"}


class Stack:
    """The simulator and the embedded AWS, each in its own process."""

    def __init__(self) -> None:
        self.sim_port = free_port()
        self.sim = Proc(
            "sim", [PROJECT_PYTHON, str(BENCH / "servers.py"), "sim", "--port", str(self.sim_port)]
        )
        wait_for_port(self.sim_port, 30, self.sim.popen)
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.aws = Proc(
            "stack",
            [PROJECT_PYTHON, str(BENCH / "servers.py"), "stack", "--sim-url", self.sim_url],
            stdin=True,
            capture_stdout=True,
        )
        self.info: dict[str, Any] = self.aws.read_json_line(timeout=90)

    def stop(self) -> None:
        if self.aws.popen.stdin is not None:
            self.aws.popen.stdin.close()
        with contextlib.suppress(Exception):
            self.aws.popen.wait(timeout=10)
        self.aws.stop()
        self.sim.stop()


def git_revision() -> str:
    """The commit measured, and whether the library had uncommitted changes (read-only git)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=BENCH.parent,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "functions"],
            capture_output=True,
            text=True,
            cwd=BENCH.parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'no commit'}{' + uncommitted changes in functions/' if dirty else ''}"


def parse_sections(only: str | None) -> list[str]:
    if not only:
        return list(SECTIONS)
    wanted = []
    for name in only.split(","):
        name = ALIASES.get(name.strip(), name.strip())
        if name not in SECTIONS:
            raise SystemExit(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
        wanted.append(name)
    return [s for s in SECTIONS if s in wanted]


def routing_rows() -> list[Row]:
    try:
        module = importlib.import_module("bench_routing")
    except ImportError as exc:
        return [
            Row(
                "routing",
                "routing benchmark: not present",
                None,
                "",
                note=f"bench/bench_routing.py not importable ({exc})",
            )
        ]
    return _rows("routing", module.run())


def _rows(section: str, items: list[dict[str, Any]]) -> list[Row]:
    """Rows from a benchmark module's plain `run()` dictionaries."""
    return [
        Row(
            section,
            str(item.get("name")),
            item.get("value"),
            str(item.get("unit", "")),
            item.get("baseline"),
            str(item.get("baseline_name", "")),
            str(item.get("note", "")),
        )
        for item in items
    ]


def cache_rows() -> list[Row]:
    """bench_cache.py in its own process: it runs a local stack of its own."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("bench_cache.py")), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return _rows("cache", json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small N and short runs (smoke test)")
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--no-litellm", action="store_true", help="skip every LiteLLM row")
    parser.add_argument(
        "--write", action="store_true", help="write BENCHMARKS.md even for --quick or --only runs"
    )
    args = parser.parse_args()
    sections = parse_sections(args.only)
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    command = (
        "make bench"
        if not (args.quick or args.only)
        else " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    )

    litellm_python: str | None = None
    litellm_note = "skipped: --no-litellm"
    if NEEDS_LITELLM & set(sections) and not args.no_litellm:
        import litellm_env

        litellm_python, litellm_note = litellm_env.ensure()
        if litellm_python is None:
            log(litellm_note)
        else:
            litellm_note = f"litellm {litellm_note}"

    rows: list[Row] = []
    stack: Stack | None = None
    try:
        if NEEDS_STACK & set(sections):
            log("starting the simulator and the embedded AWS (moto) in their own processes")
            stack = Stack()
        for section in sections:
            t0 = time.monotonic()
            try:
                rows.extend(run_section(section, stack, args.quick, litellm_python, litellm_note))
            except Exception as exc:
                trace = traceback.format_exc()
                (OUT / f"{section}-error.log").write_text(trace)
                log(f"section {section} failed: {exc!r} (bench/out/{section}-error.log)")
                rows.append(
                    Row(
                        section,
                        f"{section}: failed",
                        None,
                        "",
                        note=f"{type(exc).__name__}: {exc}"[:200],
                    )
                )
            log(f"section {section} took {time.monotonic() - t0:.0f} s")
    finally:
        if stack is not None:
            stack.stop()

    import report

    elapsed = time.monotonic() - started
    context = {
        "command": command,
        "revision": git_revision(),
        "machine": machine_note(),
        "elapsed_s": elapsed,
        "litellm": litellm_note,
        "load": f"1-min load average {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end"
        " (other work on the machine skews absolute numbers; ratios are measured together)",
        "quick": args.quick,
        "sections": sections,
    }
    print(report.table(rows))
    (OUT / "results.json").write_text(
        json.dumps({"context": context, "rows": [r.as_dict() for r in rows]}, indent=2, default=str)
    )
    plot = report.plot(rows, OUT / "benchmarks.png")
    if plot:
        log(f"plot: {plot}")
    full = not args.quick and not args.only
    target = BENCH.parent / "BENCHMARKS.md" if (full or args.write) else OUT / "BENCHMARKS.md"
    target.write_text(report.markdown(rows, context))
    log(f"wrote {target} ({elapsed:.0f} s in all)")
    return 0


def run_section(
    section: str, stack: Stack | None, quick: bool, litellm_python: str | None, litellm_note: str
) -> list[Row]:
    if section in ("overhead", "profile", "resilience"):
        import inproc

        assert stack is not None
        inproc.apply_stack_env(stack.info)
        env = inproc.Env(stack.info, quick, litellm_python, litellm_note)
        return inproc.run(env, {section})
    if section in ("http", "streaming"):
        import http_bench

        assert stack is not None
        return http_bench.run(section, stack.info, quick, litellm_python, litellm_note)
    if section == "coldstart":
        import coldstart

        return coldstart.run(
            quick, litellm_python, litellm_note, stack.info if stack is not None else None
        )
    if section == "package":
        import package

        return package.run(quick)
    if section == "routing":
        return routing_rows()
    if section == "cache":
        return cache_rows()
    if section == "accounting":
        import bench_accounting

        return bench_accounting.run(quick)
    raise ValueError(section)


if __name__ == "__main__":
    sys.path.append(str(FUNCTIONS))
    raise SystemExit(main())
