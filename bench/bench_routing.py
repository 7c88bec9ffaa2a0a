"""Routing benchmark: classification and full decision latency, load time, weights size.

    .venv/bin/python bench/bench_routing.py

Latency is measured over the labelled evaluation prompts (data/routing/eval/labelled.jsonl,
typical chat prompts), over the arena-hard prompts (long, code-heavy) and over the public
benchmark prompts (data/routing/eval/benchmarks.jsonl: MT-Bench, Vicuna, WizardLM, HumanEval,
MATH and GSM8K test questions).
"first pass" is each prompt's first classification in the process (its words not yet
scored); "steady" repeats the set, as a warm Lambda sees recurring vocabulary. Load time is
measured in fresh interpreters: import, read and unpack the weights, first classification.
``run()`` returns rows {"name", "value", "unit", "baseline", "note"}; the baseline is the
issue's target.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from modelyard.routing import classifier  # noqa: E402
from modelyard.routing.planner import RequestFeatures, RouteRequest, plan_route  # noqa: E402
from modelyard.store.config import catalog_from_items  # noqa: E402
from modelyard.store.seed import seed_items  # noqa: E402

EVAL_SETS = {
    "eval": ROOT / "data" / "routing" / "eval" / "labelled.jsonl",
    "arena": ROOT / "data" / "routing" / "eval" / "arena_hard_labelled.jsonl",
    "benchmarks": ROOT / "data" / "routing" / "eval" / "benchmarks.jsonl",
}
LOAD_RUNS = 7
ROUNDS = 5

_LOAD_SNIPPET = """
import time
started = time.perf_counter()
from modelyard.routing.classifier import classify_text
classify_text("hello")
print((time.perf_counter() - started) * 1000)
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latencies(prompts: list[str], *, fresh: bool) -> list[float]:
    """Best-of-ROUNDS microseconds per prompt; ``fresh`` resets the model before each round."""
    best = [float("inf")] * len(prompts)
    for _ in range(ROUNDS):
        if fresh:
            classifier._model = None
            classifier._get_model()
        for i, prompt in enumerate(prompts):
            classifier._scored.cache_clear()  # a prompt seen for the first time
            started = time.perf_counter()
            classifier.classify_text(prompt)
            best[i] = min(best[i], (time.perf_counter() - started) * 1e6)
    return best


def _decision_latencies(prompts: list[str]) -> list[float]:
    """Best-of-ROUNDS microseconds for the whole `auto` decision: features, classify, rank."""
    catalog = catalog_from_items(seed_items())
    bodies = [{"model": "auto", "messages": [{"role": "user", "content": p}]} for p in prompts]
    best = [float("inf")] * len(bodies)
    for _ in range(ROUNDS):
        for i, body in enumerate(bodies):
            classifier._scored.cache_clear()
            started = time.perf_counter()
            plan_route(RouteRequest.from_body(body), RequestFeatures.from_chat(body), catalog)
            best[i] = min(best[i], (time.perf_counter() - started) * 1e6)
    return best


def _load_ms() -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    runs = []
    for _ in range(LOAD_RUNS):
        done = subprocess.run(
            [sys.executable, "-c", _LOAD_SNIPPET],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        runs.append(float(done.stdout.strip()))
    return runs


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, path in EVAL_SETS.items():
        lines = path.read_text(encoding="utf-8").split("\n")
        prompts = [json.loads(line)["prompt"] for line in lines if line.strip()]
        first = _latencies(prompts, fresh=True)
        steady = _latencies(prompts, fresh=False)
        chars = statistics.median(len(p) for p in prompts)
        note = f"{len(prompts)} prompts, median {chars:.0f} chars, best of {ROUNDS}"
        series = (
            ("routing decision p{} ({}: classify + plan)", _decision_latencies(prompts)),
            ("classify p{} ({}, first pass)", first),
            ("classify p{} ({}, steady)", steady),
        )
        for title, values in series:
            for q in (0.5, 0.99):
                rows.append(
                    {
                        "name": title.format(round(q * 100), name),
                        "value": round(_percentile(values, q), 1),
                        "unit": "us",
                        "baseline": 1000 if q == 0.99 else None,
                        "note": note,
                    }
                )
    loads = _load_ms()
    rows.append(
        {
            "name": "classifier load (fresh process: import + weights + first call)",
            "value": round(min(loads), 1),
            "unit": "ms",
            "baseline": 50,
            "note": f"best of {LOAD_RUNS} runs; median {statistics.median(loads):.1f} ms",
        }
    )
    rows.append(
        {
            "name": "weights file size",
            "value": classifier.WEIGHTS_PATH.stat().st_size,
            "unit": "bytes",
            "baseline": 2_000_000,
            "note": f"2^{classifier.BUCKET_BITS} buckets, {len(classifier.TASKS)} classes, int8",
        }
    )
    return rows


def main() -> None:
    for row in run():
        baseline = "" if row["baseline"] is None else f"  (target {row['baseline']})"
        print(f"{row['name']:<66} {row['value']:>10} {row['unit']}{baseline}  {row['note']}")


if __name__ == "__main__":
    main()
