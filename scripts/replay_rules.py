"""Score the classifier's rules as they are now over stored leave-one-source-out logits.

    .venv/bin/python scripts/train_classifier.py --held-out /tmp/held-out.jsonl.gz  # once
    .venv/bin/python scripts/replay_rules.py /tmp/held-out.jsonl.gz               # seconds

The rules (``_rules`` in ``functions/modelyard/routing/classifier.py``) are not trained on,
so a change to them needs no retraining to be measured: each held-out prompt's logits, from
the model that never saw its source, plus the boosts of the rules that fire on it now, give
the figures a full run of ``train_classifier.py`` would give with the same data and weights
settings (a unit test holds the two paths equal). Prints pooled macro-F1, each class's F1
and recall, and each source's accuracy; ``--report`` writes the JSON that ``--report`` of
``train_classifier.py`` writes, with the temperature fitted as it fits it (or ``--temperature``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from modelyard.routing import training  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("held_out", type=Path, help="from train_classifier.py --held-out")
    parser.add_argument("--temperature", type=float, help="use this instead of fitting one")
    parser.add_argument("--report", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    predictions = training.replay(training.load_held_out(args.held_out))
    temperature = args.temperature
    if temperature is None:
        temperature = training.fit_temperature(predictions)
    report = training.loso_report(predictions, temperature)
    pooled = report["pooled"]
    print(
        f"{len(predictions)} held-out prompts: macro-F1 {pooled['macro_f1']:.4f}, "
        f"accuracy {pooled['accuracy']:.4f}, T {temperature}"
    )
    for task, row in pooled["per_class"].items():
        print(f"  {task:<14} F1 {row['f1']:.3f}  recall {row['recall']:.3f}")
    print("  " + ", ".join(f"{s} {r['accuracy']:.3f}" for s, r in report["by_source"].items()))
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
