"""Train the embedded task classifier and write functions/modelyard/routing/classifier.bin.

    .venv/bin/python scripts/train_classifier.py                   # LOSO, then train on all
    .venv/bin/python scripts/train_classifier.py --temperature 1.3 # skip LOSO
    .venv/bin/python scripts/train_classifier.py --held-out H.jsonl.gz  # keep LOSO's logits

Reads every ``data/routing/train/**/*.jsonl`` (public sources under ``public/``, rebuilt by
``scripts/build_routing_data.py``; the project's supplements beside them). First a
leave-one-source-out run fits the softmax temperature on predictions for sources the model
never saw, so the confidence the router reports is calibrated; then the model is trained on
everything and written with that temperature. The evaluation files (data/routing/eval) are
never read here. Deterministic: fixed seed, fixed file order. Needs numpy and scipy (dev).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from modelyard.routing import classifier, training  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = training.TrainingConfig()
    parser.add_argument("--train", type=Path, default=ROOT / "data" / "routing" / "train")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--decay", type=float, default=defaults.decay)
    parser.add_argument(
        "--average-last",
        type=float,
        default=defaults.average_last,
        help="average the iterates over this last share of the steps (0: keep the last one)",
    )
    parser.add_argument("--temperature", type=float, help="use this instead of fitting one")
    parser.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="another mini-batch order: how far figures move with nothing else changed",
    )
    parser.add_argument("--out", type=Path, default=classifier.WEIGHTS_PATH)
    parser.add_argument("--report", type=Path, help="write the LOSO report here as JSON")
    parser.add_argument(
        "--held-out",
        type=Path,
        help="keep LOSO's held-out logits (before the rules) here, for scripts/replay_rules.py",
    )
    args = parser.parse_args(argv)
    config = training.TrainingConfig(
        epochs=args.epochs,
        lr=args.lr,
        decay=args.decay,
        seed=args.seed,
        average_last=args.average_last,
    )
    examples = training.load_examples(args.train)
    counts = Counter(e.task for e in examples)
    training.log(f"{len(examples)} examples: " + ", ".join(f"{t}={counts[t]}" for t in counts))
    started = time.perf_counter()
    temperature = args.temperature
    if temperature is None:
        held_out = training.held_out_logits(examples, config, progress=training.log)
        if args.held_out:
            training.save_held_out(held_out, args.held_out)
        predictions = training.replay(held_out)
        temperature = training.fit_temperature(predictions)
        report = training.loso_report(predictions, temperature)
        training.log(f"LOSO macro-F1 {report['pooled']['macro_f1']:.3f}; T {temperature}")
        if args.report:
            args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    blob = training.train_weights(examples, config, temperature)
    args.out.write_bytes(blob)
    training.log(f"wrote {args.out} ({len(blob):,} bytes) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
