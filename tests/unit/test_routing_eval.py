"""Routing evaluation maths, the CLI commands, and train/eval separation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from modelyard.routing import commands
from modelyard.routing.evaluation import (
    average_pgr,
    call_performance_threshold,
    classification_report,
    cost_quality_curve,
    cost_quality_report,
)

ROOT = Path(__file__).resolve().parents[2]


def test_classification_report_on_a_tiny_hand_made_input() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "a")]
    report = classification_report(pairs, labels=("a", "b", "c", "d"))
    a, b, c = (report["per_class"][x] for x in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (0.5, 0.5, 2)
    assert (b["precision"], b["recall"]) == (0.5, 1.0)
    assert b["f1"] == pytest.approx(2 / 3)
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)
    # "d" never occurs, so the macro average is over a, b and c only.
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)
    assert report["accuracy"] == 0.5
    assert report["confusion"]["labels"] == ["a", "b", "c", "d"]
    assert report["confusion"]["matrix"] == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0] * 4]


def test_unknown_labels_are_appended_to_the_report() -> None:
    report = classification_report([("x", "coding")])
    assert report["confusion"]["labels"][-1] == "x"


SCORES = [0.9, 0.1, 0.8, 0.2]
STRONG = [1.0, 1.0, 1.0, 0.0]
WEAK = [0.0, 1.0, 0.0, 0.0]


def test_cost_quality_curve_sends_the_highest_scores_to_the_strong_model() -> None:
    curve = cost_quality_curve(SCORES, STRONG, WEAK)
    assert curve == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 0.75), (1.0, 0.75)]


def test_cpt_and_apgr_by_hand() -> None:
    curve = cost_quality_curve(SCORES, STRONG, WEAK)
    # PGR along the curve: 0, 0.5, 1, 1, 1 -> area 0.0625 + 0.1875 + 0.25 + 0.25.
    assert average_pgr(curve, 0.25, 0.75) == pytest.approx(0.75)
    # 80% of the gap lies between shares 0.25 (PGR 0.5) and 0.5 (PGR 1.0).
    assert call_performance_threshold(curve, 0.8, 0.25, 0.75) == pytest.approx(0.4)
    report = cost_quality_report(SCORES, STRONG, WEAK)
    assert report["cpt"]["90%"]["strong_share"] == pytest.approx(0.45)
    assert report["cpt"]["95%"]["calls_saved_vs_random"] == pytest.approx(0.95 - 0.475)
    assert report["cpt"]["80%"]["quality"] == pytest.approx(0.25 + 0.8 * 0.5)
    assert report["oracle_quality"] == 0.75
    assert report["curve"][0] == {"strong_share": 0.0, "quality": 0.25}
    assert report["curve"][-1] == {"strong_share": 1.0, "quality": 0.75}


def test_a_router_that_cannot_tell_prompts_apart_is_the_random_router() -> None:
    report = cost_quality_report([0.5] * 4, STRONG, WEAK)
    assert report["apgr"] == pytest.approx(0.5)
    for target, row in zip((0.8, 0.9, 0.95), report["cpt"].values(), strict=True):
        assert row["strong_share"] == pytest.approx(target)


def test_no_gap_between_the_models_is_an_error() -> None:
    with pytest.raises(ValueError, match="no gap"):
        cost_quality_report(SCORES, WEAK, STRONG)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from modelyard.routing.evaluation import plot_cost_quality

    out = tmp_path / "curve.png"
    plot_cost_quality(cost_quality_report(SCORES, STRONG, WEAK), str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------- CLI


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="modelyard")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_classify_prints_one_json_line_for_a_prompt(capsys: pytest.CaptureFixture) -> None:
    assert _run(["classify", "Translate into German: good morning"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "translation"
    assert set(out) == {"task", "confidence"}


def test_classify_jsonl_keeps_the_inputs_other_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = [
        {"id": 1, "text": "hi there", "task": "chat"},
        {"id": 2, "text": [{"role": "user", "content": "Solve x^2 = 9"}]},
    ]
    assert (
        _run(["classify", "--jsonl", _write(tmp_path / "in.jsonl", rows), "--field", "text"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == [1, 2]
    assert lines[0]["task"] == "chat" and lines[0]["input_task"] == "chat"
    assert lines[1]["task"] == "math"
    assert all("text" not in line for line in lines)


def test_classify_without_input_is_a_one_line_error() -> None:
    with pytest.raises(SystemExit, match="give a PROMPT or --jsonl"):
        _run(["classify"])


def test_classify_reports_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "hi"}\nnot json\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: not JSON"):
        _run(["classify", "--jsonl", str(path)])


def test_eval_routing_on_a_labelled_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = [{"prompt": "hello!", "task": "chat"}, {"prompt": "Solve 3x + 1 = 7", "task": "math"}]
    assert _run(["eval", "routing", "--data", _write(tmp_path / "l.jsonl", rows), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2 and report["macro_f1"] == 1.0
    assert _run(["eval", "routing", "--data", str(tmp_path / "l.jsonl")]) == 0
    assert "macro-F1 1.000" in capsys.readouterr().out


def test_eval_routing_pools_files_and_keeps_the_sources_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    first = _write(tmp_path / "a.jsonl", [{"prompt": "hello!", "task": "chat", "source": "x:1"}])
    rows = [
        {"prompt": "Solve 3x + 1 = 7", "task": "math", "source": "y:2"},
        {"prompt": "Translate 'good night' into French.", "task": "translation", "source": "z"},
    ]
    second = _write(tmp_path / "b.jsonl", rows)
    assert _run(["eval", "routing", "--data", first, second, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 3 and set(report["by_source"]) == {"x", "y", "z"}
    assert _run(["eval", "routing", "--data", first, second, "--sources", "x,y", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2 and set(report["by_source"]) == {"x", "y"}
    with pytest.raises(SystemExit, match="has no rows of those sources"):
        _run(["eval", "routing", "--data", first, "--sources", "w"])


def test_eval_routing_refuses_weights_it_cannot_use(tmp_path: Path) -> None:
    data = _write(tmp_path / "l.jsonl", [{"prompt": "hello!", "task": "chat"}])
    (tmp_path / "w.bin").write_bytes(b"garbage")
    for weights, reason in ((tmp_path / "w.bin", "not a classifier"), (tmp_path / "no", "No such")):
        with pytest.raises(SystemExit, match=f"cannot use weights .*{reason}"):
            _run(["eval", "routing", "--data", data, "--weights", str(weights)])
    with pytest.raises(SystemExit, match="go with --data, not --loso"):
        _run(["eval", "routing", "--loso", str(tmp_path), "--weights", str(tmp_path / "w.bin")])


def test_eval_routing_on_per_model_scores(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prompts = ["Prove that sqrt(2) is irrational.", "hi", "What is the capital of Peru?", "ok"]
    rows = [
        {"prompt": p, "correct": {"big": s == 1.0, "small": w == 1.0}}
        for p, s, w in zip(prompts, STRONG, WEAK, strict=True)
    ]
    path = _write(tmp_path / "s.jsonl", rows)
    assert _run(["eval", "routing", "--data", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["strong_model"], report["weak_model"]) == ("big", "small")
    assert set(report["cpt"]) == {"80%", "90%", "95%"}
    assert _run(["eval", "routing", "--data", path]) == 0
    assert "APGR  router" in capsys.readouterr().out


def test_eval_routing_rejects_a_file_of_neither_kind(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", [{"prompt": "hi"}])
    with pytest.raises(SystemExit, match="needs 'task'"):
        _run(["eval", "routing", "--data", path])
    with pytest.raises(SystemExit, match="no such file"):
        _run(["eval", "routing", "--data", str(tmp_path / "missing.jsonl")])


def test_eval_routing_loso_reports_each_public_source(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    public = tmp_path / "public"
    public.mkdir()
    for source, task, text in (("a", "coding", "write a python function"), ("b", "math", "x^2")):
        rows = [{"prompt": f"{text} {i}", "task": task, "source": source} for i in range(12)]
        _write(public / f"{source}.jsonl", rows)
    _write(tmp_path / "ours.jsonl", [{"prompt": "def f(): pass", "task": "coding"}])
    assert _run(["eval", "routing", "--loso", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["by_source"]) == {"a", "b"}  # the supplement is never held out
    assert report["pooled"]["n"] == 24
    assert sum(row["n"] for row in report["reliability"]) == 24
