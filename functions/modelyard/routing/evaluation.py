"""Routing evaluation: classifier accuracy, and RouteLLM-style cost/quality trade-offs.

Cost/quality follows RouteLLM (Ong et al., 2024, "RouteLLM: Learning to Route LLMs with
Preference Data"): a router gives every prompt a score, and a threshold sends the prompts
scoring above it to the strong model. Sweeping the threshold traces quality against the
share of strong-model calls. Quality is measured as the *performance gap recovered*,
PGR = (quality - weak) / (strong - weak). CPT(x%) is the smallest strong-call share whose
PGR reaches x%; APGR is the area under PGR over the strong-call share from 0 to 1. A random
router's expected curve is the straight line PGR = share, so its CPT(x%) is x% and its APGR
is 0.5. Prompts with equal scores cannot be split by a threshold: the curve is evaluated at
the boundaries between tied groups and linear in between, which is the expected result of
breaking ties at random.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from modelyard.routing.classifier import TASKS, classify_text

CPT_TARGETS = (0.8, 0.9, 0.95)

# Prior difficulty per task class: how much a weaker model tends to lag on it. Set by hand
# from published per-category results (e.g. MT-Bench: the largest gaps between strong and
# weak models are in maths, reasoning and coding), not fitted to any evaluation file.
TASK_DIFFICULTY = {
    "math": 1.0,
    "reasoning": 0.9,
    "coding": 0.8,
    "extraction": 0.5,
    "knowledge": 0.5,
    "summarization": 0.3,
    "translation": 0.3,
    "writing": 0.3,
    "chat": 0.1,
}


def classification_report(
    pairs: Iterable[tuple[str, str]], labels: Sequence[str] = TASKS
) -> dict[str, Any]:
    """Per-class precision/recall/F1, accuracy, macro-F1 and confusion matrix.

    ``pairs`` are ``(gold, predicted)``. Macro-F1 averages over the classes present in the
    gold labels or the predictions (as scikit-learn does); ``labels`` fixes their order, and
    unknown labels are appended.
    """
    pairs = list(pairs)
    order = list(labels)
    for gold, predicted in pairs:
        for label in (gold, predicted):
            if label not in order:
                order.append(label)
    index = {label: i for i, label in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    for gold, predicted in pairs:
        matrix[index[gold]][index[predicted]] += 1
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, label in enumerate(order):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted_n = sum(row[i] for row in matrix)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
        if support or predicted_n:
            f1s.append(f1)
    correct = sum(matrix[i][i] for i in range(len(order)))
    return {
        "n": len(pairs),
        "accuracy": correct / len(pairs) if pairs else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "per_class": per_class,
        "confusion": {"labels": order, "matrix": matrix},  # rows: gold, columns: predicted
    }


def difficulty_score(prompt: str) -> float:
    """A router score: higher means more worth the strong model.

    The classifier's task prior (``TASK_DIFFICULTY``), weighted by its confidence, plus a
    small term for prompt length. Nothing here is fitted to correctness labels, so it is a
    fair (if simple) router to evaluate on any per-model score file.
    """
    result = classify_text(prompt)
    prior = TASK_DIFFICULTY.get(result.task, 0.5)
    # An unsure classification falls back towards the middle prior.
    score = result.confidence * prior + (1.0 - result.confidence) * 0.5
    return score + 0.05 * math.log1p(len(prompt.split()))


def cost_quality_curve(
    scores: Sequence[float], strong: Sequence[float], weak: Sequence[float]
) -> list[tuple[float, float]]:
    """(strong-call share, mean quality) at every threshold, from 0 to all strong calls."""
    n = len(scores)
    if n == 0 or not len(strong) == len(weak) == n:
        raise ValueError("scores, strong and weak must be non-empty and of equal length")
    order = sorted(range(n), key=lambda i: -scores[i])
    total = float(sum(weak))
    points = [(0.0, total / n)]
    k = 0
    while k < n:
        group_score = scores[order[k]]
        while k < n and scores[order[k]] == group_score:
            total += strong[order[k]] - weak[order[k]]
            k += 1
        points.append((k / n, total / n))
    return points


def _pgr(quality: float, weak: float, strong: float) -> float:
    return (quality - weak) / (strong - weak)


def call_performance_threshold(
    curve: Sequence[tuple[float, float]], target_pgr: float, weak: float, strong: float
) -> float:
    """Smallest strong-call share at which the (piecewise-linear) curve reaches the PGR."""
    prev_share, prev_pgr = curve[0][0], _pgr(curve[0][1], weak, strong)
    if prev_pgr >= target_pgr:
        return prev_share
    for share, quality in curve[1:]:
        pgr = _pgr(quality, weak, strong)
        if pgr >= target_pgr:
            return prev_share + (share - prev_share) * (target_pgr - prev_pgr) / (pgr - prev_pgr)
        prev_share, prev_pgr = share, pgr
    return 1.0


def average_pgr(curve: Sequence[tuple[float, float]], weak: float, strong: float) -> float:
    """Area under PGR against strong-call share (trapezoids; exact for the linear pieces)."""
    area = 0.0
    for (s0, q0), (s1, q1) in itertools.pairwise(curve):
        area += (s1 - s0) * (_pgr(q0, weak, strong) + _pgr(q1, weak, strong)) / 2
    return area


def cost_quality_report(
    scores: Sequence[float],
    strong: Sequence[float],
    weak: Sequence[float],
    *,
    strong_name: str = "strong",
    weak_name: str = "weak",
) -> dict[str, Any]:
    """The router's curve, CPT(80/90/95%) and APGR, next to a random router's."""
    n = len(scores)
    curve = cost_quality_curve(scores, strong, weak)
    strong_q, weak_q = sum(strong) / n, sum(weak) / n
    if strong_q <= weak_q:
        raise ValueError(f"{strong_name} does not score above {weak_name}: no gap to recover")
    cpt = {}
    for target in CPT_TARGETS:
        share = call_performance_threshold(curve, target, weak_q, strong_q)
        cpt[f"{round(target * 100)}%"] = {
            "quality": weak_q + target * (strong_q - weak_q),
            "strong_share": share,
            "random_strong_share": target,
            "calls_saved_vs_random": target - share,
        }
    return {
        "n": n,
        "strong_model": strong_name,
        "weak_model": weak_name,
        "strong_quality": strong_q,
        "weak_quality": weak_q,
        "oracle_quality": sum(max(s, w) for s, w in zip(strong, weak, strict=True)) / n,
        "apgr": average_pgr(curve, weak_q, strong_q),
        "random_apgr": 0.5,
        "cpt": cpt,
        "curve": [{"strong_share": s, "quality": q} for s, q in _thin(curve, 101)],
    }


def _thin(curve: Sequence[tuple[float, float]], points: int) -> list[tuple[float, float]]:
    """Sample a long curve at evenly spaced shares (interpolating) for printing and JSON."""
    shares = [s for s, _ in curve]
    out = []
    for k in range(points):
        share = k / (points - 1)
        j = bisect.bisect_left(shares, share)
        if j == 0:
            out.append((share, curve[0][1]))
            continue
        (s0, q0), (s1, q1) = curve[j - 1], curve[min(j, len(curve) - 1)]
        out.append((share, q1 if s1 == s0 else q0 + (q1 - q0) * (share - s0) / (s1 - s0)))
    return out


def plot_cost_quality(report: Mapping[str, Any], path: str, *, title: str = "") -> None:
    """Write the curve and the random router's line as a PNG (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # a dev/bench extra, not a runtime dependency
        raise RuntimeError("--plot needs matplotlib: pip install 'modelyard[bench]'") from exc
    shares = [p["strong_share"] * 100 for p in report["curve"]]
    quality = [p["quality"] * 100 for p in report["curve"]]
    weak_q, strong_q = report["weak_quality"] * 100, report["strong_quality"] * 100
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(shares, quality, label=f"router (APGR {report['apgr']:.3f})")
    ax.plot([0, 100], [weak_q, strong_q], "--", label="random router (APGR 0.500)")
    ax.axhline(strong_q, color="grey", lw=0.8, ls=":")
    ax.axhline(weak_q, color="grey", lw=0.8, ls=":")
    for name, row in report["cpt"].items():
        ax.plot(row["strong_share"] * 100, row["quality"] * 100, "o", ms=4)
        ax.annotate(
            f"CPT({name})",
            (row["strong_share"] * 100, row["quality"] * 100),
            textcoords="offset points",
            xytext=(6, -10),
            fontsize=8,
        )
    ax.set_xlabel(f"calls to {report['strong_model']} (%)")
    ax.set_ylabel("quality (%)")
    ax.set_title(title or f"{report['strong_model']} vs {report['weak_model']}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
