"""Train the task classifier, and measure it on sources it has never seen.

Training data is every ``*.jsonl`` under ``data/routing/train`` (fields ``prompt``, ``task``,
``source``). Public sources live in ``train/public`` (one file per source, rebuilt by
``scripts/build_routing_data.py``); the project's own supplements (hand-written prompts,
mapped seed tasks) sit beside them and are never held out.

The model is a multinomial logistic regression over the classifier's hashed features,
fitted by mini-batch AdamW; the weights kept are the mean of the iterates over the last
steps (Polyak-Ruppert averaging), not the last iterate, which at a constant learning rate
moves with the order the last mini-batches happened to come in. Each example is weighted so
that every (source, class) group counts the same, whatever its size, and so every class
counts the same in total: a source with 3,000 prompts of one style must not teach the model
that the style is the class, and 120 real user requests weigh as much as it does.

Leave-one-source-out (LOSO) is the generalisation measure: for each public source, train on
all the others and classify the held-out source's prompts with the runtime classifier's
model (weights quantised to int8) and rules. The softmax temperature is then fitted to those
held-out predictions, so the confidence the router reports is calibrated on unseen sources.
The rules are not trained on, so the held-out logits can be stored before the rules are
added (``save_held_out``) and a change to the rules scored over every fold in seconds
(``replay``; ``scripts/replay_rules.py``).

numpy and scipy are dev dependencies; the runtime classifier needs neither.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from modelyard.routing import classifier
from modelyard.routing.evaluation import classification_report

SEED = 20240531
PUBLIC_DIR = "public"
RELIABILITY_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True, slots=True)
class Example:
    prompt: str
    task: str
    source: str
    public: bool  # a public source (held out in LOSO) rather than a project supplement


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    epochs: int = 5
    lr: float = 0.03
    decay: float = 0.1  # decoupled weight decay
    batch: int = 1024
    seed: int = SEED  # the order mini-batches are drawn in
    average_last: float = 0.4  # the share of the steps, at the end, whose iterates are averaged
    # (0 keeps the last iterate alone)


def load_examples(train_dir: Path) -> list[Example]:
    rows: list[Example] = []
    for path in sorted(train_dir.rglob("*.jsonl")):
        public = path.parent.name == PUBLIC_DIR
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["task"] not in classifier.TASKS:
                raise ValueError(f"{path.name}:{n}: unknown task {row['task']!r}")
            source = row["source"] if public else path.stem
            rows.append(Example(row["prompt"], row["task"], source, public))
    return rows


def read_labelled(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]


# ------------------------------------------------------------------------------ fitting


@lru_cache(maxsize=200_000)
def _word(word: str) -> tuple[int, ...]:
    return tuple(classifier._word_buckets(word))


def _features(text: str) -> list[int]:
    """``classifier.featurize`` with the word buckets memoised (the same buckets)."""
    buckets: list[int] = []
    prev = "^"
    for tok in classifier._tokens(text):
        buckets.extend(_word(tok))
        buckets.append(classifier._bucket("b" + prev + " " + tok))
        prev = tok
    return buckets


def feature_matrix(texts: Sequence[str]) -> Any:
    """Sparse rows as the runtime scores them: counts / n_features ** NORM_POWER, plus the
    shape features at SHAPE_WEIGHT each."""
    import numpy as np
    from scipy import sparse

    ptr: list[int] = [0]
    idx: list[int] = []
    val: list[float] = []
    for text in texts:
        counts = Counter(_features(text) or [0])
        norm = sum(counts.values()) ** -classifier.NORM_POWER
        row = {bucket: c * norm for bucket, c in counts.items()}
        for bucket in classifier.shape_buckets(text):  # not normalised: see SHAPE_WEIGHT
            row[bucket] = row.get(bucket, 0.0) + classifier.SHAPE_WEIGHT
        idx.extend(row)
        val.extend(row.values())
        ptr.append(len(idx))
    shape = (len(texts), 1 << classifier.BUCKET_BITS)
    return sparse.csr_matrix((np.array(val), np.array(idx), np.array(ptr)), shape=shape)


def example_weights(examples: Sequence[Example]) -> Any:
    """Equal weight per (source, class) group, then every class's total made equal."""
    import numpy as np

    groups = Counter((e.source, e.task) for e in examples)
    w = np.array([1.0 / groups[(e.source, e.task)] for e in examples])
    totals: dict[str, float] = dict.fromkeys(classifier.TASKS, 0.0)
    for e, x in zip(examples, w, strict=True):
        totals[e.task] += x
    w *= np.array([1.0 / totals[e.task] for e in examples])
    return w * len(examples) / w.sum()


def fit(matrix: Any, labels: Any, weights: Any, config: TrainingConfig) -> tuple[Any, Any]:
    """Weights (buckets x classes) and bias of a multinomial logistic regression."""
    import numpy as np

    n_classes = len(classifier.TASKS)
    w = np.zeros((matrix.shape[1], n_classes))
    b = np.zeros(n_classes)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    rng = np.random.default_rng(config.seed)
    total = config.epochs * math.ceil(matrix.shape[0] / config.batch)
    average_from = min(int(total * (1 - config.average_last)), total - 1)
    w_sum, b_sum, averaged = np.zeros_like(w), np.zeros_like(b), 0
    step = 0
    for _ in range(config.epochs):
        order = rng.permutation(matrix.shape[0])
        for start in range(0, len(order), config.batch):
            rows = order[start : start + config.batch]
            x, y, sw = matrix[rows], labels[rows], weights[rows]
            logits = x @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            prob[np.arange(len(rows)), y] -= 1.0
            prob *= (sw / sw.sum())[:, None]
            step += 1
            for p, g, m, v in ((w, x.T @ prob, m_w, v_w), (b, prob.sum(axis=0), m_b, v_b)):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                p -= config.lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
            w *= 1.0 - config.lr * config.decay
            if step > average_from:
                w_sum += w
                b_sum += b
                averaged += 1
    return w_sum / averaged, b_sum / averaged


def quantise(w: Any, b: Any, temperature: float = 1.0) -> bytes:
    import numpy as np

    scale = np.maximum(np.abs(w).max(axis=0), 1e-9) / 127.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    rows = [q[:, c].tobytes() for c in range(q.shape[1])]
    return classifier.pack_weights(
        classifier.TASKS, [float(x) for x in b], [float(x) for x in scale], rows, temperature
    )


def train_weights(
    examples: Sequence[Example],
    config: TrainingConfig,
    temperature: float = 1.0,
    matrix: Any = None,
) -> bytes:
    import numpy as np

    if matrix is None:
        matrix = feature_matrix([e.prompt for e in examples])
    labels = np.array([classifier.TASKS.index(e.task) for e in examples])
    w, b = fit(matrix, labels, example_weights(examples), config)
    return quantise(w, b, temperature)


# ------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Prediction:
    gold: str
    scores: tuple[float, ...]  # before the temperature
    source: str

    @property
    def predicted(self) -> str:
        return classifier.TASKS[max(range(len(self.scores)), key=self.scores.__getitem__)]


@dataclass(frozen=True, slots=True)
class HeldOut:
    """A held-out prompt and its fold model's logits, before the rules."""

    prompt: str
    gold: str
    source: str
    logits: tuple[float, ...]


def held_out_logits(
    examples: Sequence[Example],
    config: TrainingConfig,
    progress: Callable[[str], None] = lambda _: None,
) -> list[HeldOut]:
    """Every public source's prompts with the logits of a model that never saw that source
    (int8 weights, as the runtime reads them); the rules are added by ``replay``."""
    matrix = feature_matrix([e.prompt for e in examples])
    sources = sorted({e.source for e in examples if e.public})
    out: list[HeldOut] = []
    for n, source in enumerate(sources, 1):
        keep = [i for i, e in enumerate(examples) if e.source != source]
        classifier.use_weights(
            train_weights([examples[i] for i in keep], config, matrix=matrix[keep])
        )
        try:
            held = [e for e in examples if e.source == source]
            out.extend(
                HeldOut(e.prompt, e.task, e.source, tuple(classifier.model_logits(e.prompt)))
                for e in held
            )
        finally:
            classifier.use_weights(None)
        progress(f"[{n}/{len(sources)}] held out {source}: {len(held)} prompts")
    return out


def replay(rows: Iterable[HeldOut]) -> list[Prediction]:
    """Held-out predictions: the stored logits plus the rules as they are now. The rules are
    not trained on, so this scores a change to them over every fold in seconds, with the
    figures a full leave-one-source-out run would give."""
    return [
        Prediction(
            r.gold,
            tuple(a + b for a, b in zip(r.logits, classifier.rule_boosts(r.prompt), strict=True)),
            r.source,
        )
        for r in rows
    ]


def leave_one_source_out(
    examples: Sequence[Example],
    config: TrainingConfig,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Prediction]:
    """Held-out predictions for every public source, each from a model that never saw it."""
    return replay(held_out_logits(examples, config, progress))


def save_held_out(rows: Iterable[HeldOut], path: Path) -> None:
    """Held-out logits as gzipped JSON lines (floats round-trip exactly)."""
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for r in rows:
            out.write(json.dumps([r.prompt, r.gold, r.source, r.logits]) + "\n")


def load_held_out(path: Path) -> list[HeldOut]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [
            HeldOut(p, gold, source, tuple(logits))
            for p, gold, source, logits in map(json.loads, lines)
        ]


def _probabilities(scores: Sequence[float], temperature: float) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [x / total for x in exps]


def fit_temperature(predictions: Sequence[Prediction]) -> float:
    """The softmax temperature that minimises held-out negative log-likelihood (grid)."""
    index = {t: i for i, t in enumerate(classifier.TASKS)}

    def nll(t: float) -> float:
        return -sum(
            math.log(max(_probabilities(p.scores, t)[index[p.gold]], 1e-12)) for p in predictions
        )

    grid = [round(0.25 * 1.1**k, 4) for k in range(40)]
    return min(grid, key=nll)


def reliability(predictions: Sequence[Prediction], temperature: float) -> list[dict[str, Any]]:
    """Confidence bins: how often a prediction made at that confidence was right."""
    bins: list[dict[str, Any]] = [
        {"low": lo, "high": hi, "n": 0, "confidence": 0.0, "correct": 0}
        for lo, hi in itertools.pairwise(RELIABILITY_BINS)
    ]
    for p in predictions:
        confidence = max(_probabilities(p.scores, temperature))
        row = next(b for b in bins if confidence < b["high"] or b["high"] == 1.0)
        row["n"] += 1
        row["confidence"] += confidence
        row["correct"] += p.predicted == p.gold
    for row in bins:
        n = row.pop("n")
        row.update(
            n=n,
            confidence=row["confidence"] / n if n else None,
            accuracy=row.pop("correct") / n if n else None,
        )
    return bins


def loso_report(predictions: Sequence[Prediction], temperature: float) -> dict[str, Any]:
    """Pooled and per-source classification reports, plus the reliability table."""
    by_source: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_source.setdefault(p.source, []).append(p)
    return {
        "pooled": classification_report((p.gold, p.predicted) for p in predictions),
        "by_source": {
            s: classification_report((p.gold, p.predicted) for p in rows)
            for s, rows in sorted(by_source.items())
        },
        "temperature": temperature,
        "reliability": reliability(predictions, temperature),
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
