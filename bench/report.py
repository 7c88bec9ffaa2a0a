"""The table on stdout, BENCHMARKS.md and the PNG plot, from the rows of one run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import Row, fmt

HEADER = ("group", "figure", "value", "unit", "baseline", "baseline is", "ratio", "target", "note")


def _cells(row: Row) -> tuple[str, ...]:
    ratio = row.ratio
    target = row.target
    if row.met is not None:
        target = f"{target} {'met' if row.met else 'MISSED'}"
    return (
        row.group,
        row.name,
        fmt(row.value),
        row.unit,
        fmt(row.baseline) if row.baseline is not None else "",
        row.baseline_name,
        f"{ratio:.2f}x" if ratio is not None else "",
        target,
        row.note,
    )


def table(rows: list[Row]) -> str:
    cells = [HEADER, *(_cells(r) for r in rows)]
    # the note column is left unpadded (it is long); the others are aligned
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER) - 1)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("  ".join(c[j].ljust(widths[j]) for j in range(len(widths))) + "  " + c[-1])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(lines)


def markdown(rows: list[Row], context: dict[str, Any]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = [
        "# Benchmarks",
        "",
        "Every figure is measured against its baseline in the same run, on the same machine; "
        "read the ratios, not the absolute numbers, across machines. Regenerate with:",
        "",
        "```",
        context["command"],
        "```",
        "",
        f"- machine: {context['machine']}",
        f"- code: {context.get('revision', 'unknown')}",
        f"- load: {context.get('load', 'unknown')}",
        f"- run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{context['elapsed_s']:.0f} s in all{' (--quick)' if context.get('quick') else ''}",
        f"- LiteLLM: {context['litellm']} (in `bench/.venv-litellm`, not the project's venv)",
        "- upstream: the project's SIMULATED provider (not a real model), zero latency except "
        "for the streaming figures; all servers and the load generator share the machine's "
        "cores",
        "- AWS: DynamoDB and SQS are moto; the HTTP rows marked so publish to an SQS STAND-IN "
        "(bench/sqs_standin.py: answers SendMessageBatch, stores nothing), so that moto's own "
        "CPU, which real SQS would not spend on these cores, stays out of the gateway's figure",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for row in rows:
        out.append("| " + " | ".join(esc(c) for c in _cells(row)) + " |")
    out += [
        "",
        "How each group is measured (details in `bench/*.py`):",
        "",
        "- **in-process**: the gateway app called through ASGI in the harness's process "
        "(no client library, no client socket), upstream = the simulator in another process; "
        "baseline = the same request from the same process straight to the simulator with "
        "one pooled httpx client; variants interleaved in blocks of 100. LiteLLM's Router is "
        "measured the same way inside LiteLLM's venv. *No publish* uses a publisher that does "
        "nothing; the publish rows add the real `UsagePublisher` (SQS on moto).",
        "- **http**: each server on one uvicorn worker in its own process; a closed-loop async "
        "httpx load generator (16 connections, bounded in time and count) in the harness's "
        "process. The simulator, moto and the load generator share the 2 cores with the "
        "server under test, so absolute req/s are a floor; compare ratios.",
        "- **memory**: VmHWM (peak RSS) from /proc of each server process after its load.",
        "- **streaming**: over HTTP through the gateway process vs straight to the simulator; "
        "TTFT (one stream at a time) with a simulated 50 ms TTFT and 200 tokens/s; the "
        "stream tail is last token to end of stream; per-chunk cost from 200-token "
        "zero-latency streams.",
        "- **coldstart**: wall time of a fresh process, best of several.",
        "- **package**: `sam build` emulated with `pip install --target` from "
        "`functions/requirements.txt` plus the code in `functions/`.",
        "- **resilience**: in process, simulator faults set through `/_sim/config`; fault and "
        "no-fault blocks alternate.",
        "",
    ]
    return "\n".join(out)


def plot(rows: list[Row], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    shown = [r for r in rows if r.ratio is not None and r.ratio > 0]
    if not shown:
        return None
    height = max(4.0, 0.32 * len(shown) + 1.5)
    fig, ax = plt.subplots(figsize=(13, height))
    labels = [f"[{r.group}] {r.name}"[:80] for r in shown]
    ratios = [r.ratio or 0.0 for r in shown]
    colors = []
    for r in shown:
        if r.met is True:
            colors.append("#2a9d8f")
        elif r.met is False:
            colors.append("#e76f51")
        else:
            colors.append("#8d99ae")
    y = list(range(len(shown)))[::-1]
    ax.barh(y, ratios, color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for yi, r in zip(y, shown, strict=True):
        ax.text(r.ratio or 0.0, yi, f" {r.ratio:.2f}x", va="center", fontsize=7)
    ax.set_xlabel("value / baseline, same run (log scale; green = target met, red = missed)")
    ax.set_title("Modelyard benchmarks: each figure against its baseline")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
