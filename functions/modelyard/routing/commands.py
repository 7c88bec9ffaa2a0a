"""`modelyard classify` and `modelyard eval routing`: argparse subcommands.

``register(subparsers)`` adds them to the CLI; each sets ``func`` (``args.func(args)``
returns the exit code). Errors raise ``SystemExit`` with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROGRESS_EVERY = 2000


def register(subparsers: Any) -> None:
    """Add ``classify`` and ``eval routing`` to the ``modelyard`` command line."""
    classify = subparsers.add_parser(
        "classify",
        help="label prompts with their task class",
        description="Print one JSON object a line: the input's fields plus task and confidence.",
    )
    classify.add_argument("prompt", nargs="?", help="a prompt (or use --jsonl)")
    classify.add_argument("--jsonl", metavar="FILE", help="JSON object per line ('-': stdin)")
    classify.add_argument(
        "--field",
        default="prompt",
        help="field holding the prompt, a string or a list of chat messages (default: prompt)",
    )
    classify.set_defaults(func=_classify)

    evaluate = subparsers.add_parser("eval", help="evaluate modelyard components")
    evaluate_sub = evaluate.add_subparsers(dest="eval_command", metavar="{routing}")
    evaluate_sub.required = True
    routing = evaluate_sub.add_parser(
        "routing",
        help="classifier accuracy or router cost/quality",
        description="With a labelled file (prompt + task): per-class precision, recall, F1, "
        "macro-F1 and the confusion matrix. With per-model correctness (prompt + correct: "
        "{model: bool}): the cost/quality curve, CPT(80/90/95%%) and APGR, next to a random "
        "router.",
    )
    target = routing.add_mutually_exclusive_group(required=True)
    target.add_argument("--data", metavar="FILE", nargs="+", help="JSONL file(s), scored together")
    target.add_argument(
        "--loso",
        nargs="?",
        const="data/routing/train",
        metavar="DIR",
        help="leave-one-source-out over the training data (default data/routing/train): "
        "train without each public source, score it, report per source and per class "
        "(needs the dev extra: numpy, scipy; a few minutes)",
    )
    routing.add_argument(
        "--sources",
        metavar="NAME,...",
        help="score only the rows of these sources (a row's source up to its first ':')",
    )
    routing.add_argument(
        "--weights", metavar="FILE", help="score with this weights file instead of classifier.bin"
    )
    routing.add_argument("--field", default="prompt", help="prompt field (default: prompt)")
    routing.add_argument("--label-field", default="task", help="gold label field (default: task)")
    routing.add_argument("--plot", metavar="PNG", help="write the cost/quality curve here")
    routing.add_argument("--json", action="store_true", help="print the report as JSON")
    routing.set_defaults(func=_eval_routing)


# ----------------------------------------------------------------------------- classify


def _read_jsonl(source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise SystemExit(f"modelyard: cannot read {source}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"modelyard: {source}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise SystemExit(f"modelyard: {source}:{number}: expected a JSON object")
            yield number, row


def _classify_value(value: Any, where: str) -> Any:
    from modelyard.routing.classifier import classify_messages, classify_text

    if isinstance(value, str):
        return classify_text(value)
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return classify_messages(value)
    raise SystemExit(f"modelyard: {where}: expected a string or a list of chat messages")


def _classify(args: argparse.Namespace) -> int:
    if (args.prompt is None) == (args.jsonl is None):
        raise SystemExit("modelyard classify: give a PROMPT or --jsonl FILE (not both)")
    if args.prompt is not None:
        result = _classify_value(args.prompt, "prompt")
        print(json.dumps({"task": result.task, "confidence": result.confidence}))
        return 0
    for number, row in _read_jsonl(args.jsonl):
        if args.field not in row:
            raise SystemExit(f"modelyard: {args.jsonl}:{number}: no field {args.field!r}")
        result = _classify_value(row[args.field], f"{args.jsonl}:{number}")
        out = {"task": result.task, "confidence": result.confidence}
        for key, value in row.items():
            if key != args.field:  # keep the input's other fields; ours win a name clash
                out["input_" + key if key in out else key] = value
        print(json.dumps(out, ensure_ascii=False))
    return 0


# -------------------------------------------------------------------------- eval routing


def _eval_routing(args: argparse.Namespace) -> int:
    from modelyard.routing import classifier, evaluation
    from modelyard.routing.classifier import classify_text

    if args.loso:
        if args.weights or args.sources:
            raise SystemExit("modelyard: --weights and --sources go with --data, not --loso")
        return _eval_loso(args)
    if args.weights:
        try:
            classifier.use_weights(Path(args.weights).read_bytes())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"modelyard: cannot use weights {args.weights}: {exc}") from exc
    rows = []
    for path in args.data:
        if not Path(path).is_file():
            raise SystemExit(f"modelyard: no such file: {path}")
        for number, row in _read_jsonl(path):
            if not isinstance(row.get(args.field), str):
                raise SystemExit(f"modelyard: {path}: row {number} has no string {args.field!r}")
            rows.append(row)
    name = " ".join(args.data)
    if args.sources:
        keep = set(args.sources.split(","))
        rows = [row for row in rows if _source(row) in keep]
    if not rows:
        which = " of those sources" if args.sources else ""
        raise SystemExit(f"modelyard: {name} has no rows{which}")

    scored = all(isinstance(r.get("correct"), dict) and len(r["correct"]) >= 2 for r in rows)
    labelled = all(isinstance(r.get(args.label_field), str) for r in rows)
    if scored:
        report = _cost_quality(rows, args.field, evaluation)
        if args.plot:
            title = ", ".join(Path(path).name for path in args.data)
            evaluation.plot_cost_quality(report, args.plot, title=title)
            _progress(f"wrote {args.plot}")
        print(json.dumps(report, indent=2) if args.json else _format_cost_quality(report))
        return 0
    if not labelled:
        raise SystemExit(
            f"modelyard: {name}: every row needs {args.label_field!r} (labelled prompts) "
            "or 'correct': {model: bool, ...} (per-model scores)"
        )
    if args.plot:
        raise SystemExit("modelyard: --plot needs a file with per-model scores")
    by_source: dict[str, list[tuple[str, str]]] = {}
    for i, row in enumerate(rows, 1):
        pair = (row[args.label_field], classify_text(row[args.field]).task)
        by_source.setdefault(_source(row), []).append(pair)
        if i % PROGRESS_EVERY == 0:
            _progress(f"classified {i}/{len(rows)}")
    report = evaluation.classification_report(p for pairs in by_source.values() for p in pairs)
    if len(by_source) > 1:
        report["by_source"] = {
            s: evaluation.classification_report(pairs) for s, pairs in sorted(by_source.items())
        }
    print(json.dumps(report, indent=2) if args.json else _format_classification(report))
    return 0


def _source(row: dict[str, Any]) -> str:
    """A row's source without its detail ("arena-hard-v0.1:04ba0aeb" is "arena-hard-v0.1")."""
    return str(row.get("source", "")).split(":")[0]


def _eval_loso(args: argparse.Namespace) -> int:
    from modelyard.routing import training

    train_dir = Path(args.loso)
    if not train_dir.is_dir():
        raise SystemExit(f"modelyard: no such directory: {train_dir}")
    try:
        examples = training.load_examples(train_dir)
        predictions = training.leave_one_source_out(
            examples, training.TrainingConfig(), progress=_progress
        )
    except ImportError as exc:
        raise SystemExit(f"modelyard: --loso needs the dev extra ({exc.name})") from exc
    report = training.loso_report(predictions, training.fit_temperature(predictions))
    print(json.dumps(report, indent=2) if args.json else _format_loso(report))
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cost_quality(rows: list[dict[str, Any]], field: str, evaluation: Any) -> dict[str, Any]:
    models = list(rows[0]["correct"])
    if any(list(r["correct"]) != models for r in rows) or len(models) != 2:
        raise SystemExit("modelyard: every row's 'correct' must name the same two models")
    means = {m: sum(float(r["correct"][m]) for r in rows) / len(rows) for m in models}
    strong, weak = sorted(models, key=lambda m: -means[m])
    scores = []
    for i, row in enumerate(rows, 1):
        scores.append(evaluation.difficulty_score(row[field]))
        if i % PROGRESS_EVERY == 0:
            _progress(f"scored {i}/{len(rows)} prompts")
    try:
        return dict(
            evaluation.cost_quality_report(
                scores,
                [float(r["correct"][strong]) for r in rows],
                [float(r["correct"][weak]) for r in rows],
                strong_name=strong,
                weak_name=weak,
            )
        )
    except ValueError as exc:
        raise SystemExit(f"modelyard: {exc}") from exc


def _format_classification(report: dict[str, Any]) -> str:
    lines = [
        f"{report['n']} prompts  accuracy {report['accuracy']:.3f}  "
        f"macro-F1 {report['macro_f1']:.3f}",
        "",
        f"{'class':<14} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for label, row in report["per_class"].items():
        lines.append(
            f"{label:<14} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
            f"{row['support']:>8}"
        )
    labels = report["confusion"]["labels"]
    short = [label[:5] for label in labels]
    lines += [
        "",
        "confusion (rows: gold, columns: predicted)",
        " " * 14 + " ".join(f"{s:>5}" for s in short),
    ]
    for label, counts in zip(labels, report["confusion"]["matrix"], strict=True):
        lines.append(f"{label:<14}" + " ".join(f"{c:>5}" for c in counts))
    if "by_source" in report:
        lines += _format_by_source(report["by_source"])
    return "\n".join(lines)


def _format_by_source(by_source: dict[str, Any]) -> list[str]:
    lines = ["", f"{'source':<26} {'prompts':>7} {'accuracy':>8} {'macro-F1':>8}  classes"]
    for source, r in by_source.items():
        classes = ",".join(k[:5] for k, v in r["per_class"].items() if v["support"])
        lines.append(
            f"{source:<26} {r['n']:>7} {r['accuracy']:>8.3f} {r['macro_f1']:>8.3f}  {classes}"
        )
    return lines


def _format_loso(report: dict[str, Any]) -> str:
    lines = ["leave-one-source-out: each public source scored by a model trained without it", ""]
    lines.append(_format_classification(report["pooled"]))
    lines += _format_by_source(report["by_source"])
    lines += [
        "",
        f"reliability (softmax temperature {report['temperature']:.3f}, held-out predictions)",
        f"{'confidence':<12} {'prompts':>7} {'mean conf':>9} {'accuracy':>8}",
    ]
    for row in report["reliability"]:
        if row["n"]:
            lines.append(
                f"{row['low']:.2f}-{row['high']:.2f}   {row['n']:>7} {row['confidence']:>9.3f} "
                f"{row['accuracy']:>8.3f}"
            )
    return "\n".join(lines)


def _format_cost_quality(report: dict[str, Any]) -> str:
    lines = [
        f"{report['n']} prompts  strong {report['strong_model']} {report['strong_quality']:.3f}"
        f"  weak {report['weak_model']} {report['weak_quality']:.3f}"
        f"  oracle {report['oracle_quality']:.3f}",
        "router score: task-difficulty prior from the embedded classifier (not fitted to "
        "these labels)",
        "",
        f"APGR  router {report['apgr']:.3f}   random {report['random_apgr']:.3f}",
        "",
        f"{'target':<8} {'quality':>8} {'router strong calls':>20} {'random':>8} {'saved':>7}",
    ]
    for name, row in report["cpt"].items():
        lines.append(
            f"CPT({name}) {row['quality']:>6.3f} {row['strong_share']:>19.1%} "
            f"{row['random_strong_share']:>8.1%} {row['calls_saved_vs_random']:>7.1%}"
        )
    lines += ["", "strong share -> quality"]
    lines += [f"  {p['strong_share']:>5.0%}  {p['quality']:.3f}" for p in report["curve"][::10]]
    return "\n".join(lines)
