"""The router's data and its generalisation checks: real public sources, never the benchmarks.

The benchmark file (data/routing/eval/benchmarks.jsonl: MT-Bench, Vicuna, the WizardLM test
set, HumanEval, MATH test, GSM8K test, LogiQA 2.0 dev) is never trained on. The failure
kinds found on real prompts are tested here on those public prompts: a guard at what the
shipped weights reach, and, where that is still short of the target, a strict xfail at the
target, which turns into a failure (to be promoted to a guard) the day the classifier
reaches it (the last one, MT-Bench's puzzles, became a guard on 2026-12-02).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.routing import classifier, training
from modelyard.routing.classifier import TASKS, classify_text

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "data" / "routing" / "train"
EVAL = ROOT / "data" / "routing" / "eval"
SOURCES = json.loads((ROOT / "data" / "routing" / "sources.json").read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict[str, str]]:
    return training.read_labelled(path)


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _benchmark(*selectors: tuple[str, str]) -> list[dict[str, str]]:
    """Benchmark rows whose origin starts with one of (source, category) pairs."""
    rows = _rows(EVAL / "benchmarks.jsonl")
    return [
        r for r in rows if any(r["source"] == s and r["origin"].startswith(c) for s, c in selectors)
    ]


def _recall(rows: list[dict[str, str]], task: str) -> float:
    return sum(classify_text(r["prompt"]).task == task for r in rows) / len(rows)


def test_twenty_thousand_public_prompts_from_every_source_listed() -> None:
    public = {p.stem: _rows(p) for p in sorted((TRAIN / "public").glob("*.jsonl"))}
    assert set(public) == set(SOURCES["train"])
    assert sum(map(len, public.values())) >= 20_000
    for name, rows in public.items():
        assert {r["source"] for r in rows} == {name}


def test_every_class_comes_from_at_least_two_public_sources() -> None:
    sources: dict[str, Counter[str]] = defaultdict(Counter)
    for path in (TRAIN / "public").glob("*.jsonl"):
        for row in _rows(path):
            sources[row["task"]][row["source"]] += 1
    for task in TASKS:
        assert len([s for s, n in sources[task].items() if n >= 5]) >= 2, task


def test_no_benchmark_or_evaluation_prompt_is_trained_on() -> None:
    trained = {_normal(e.prompt) for e in training.load_examples(TRAIN)}
    held_out = [f"{name}.jsonl" for name in SOURCES["held_out"]]
    for name in (
        "benchmarks.jsonl",
        "bbh.jsonl",
        "arena_hard_labelled.jsonl",
        "labelled.jsonl",
        *held_out,
    ):
        leaked = [r["prompt"][:60] for r in _rows(EVAL / name) if _normal(r["prompt"]) in trained]
        assert not leaked, (name, leaked[:3])


def test_benchmark_sources_are_the_ones_we_must_never_train_on() -> None:
    assert set(SOURCES["benchmarks"]) == {
        "mt-bench", "vicuna-bench", "wizardlm-test", "humaneval",
        "math-competition-test", "gsm8k-test", "logiqa2-dev",
    }  # fmt: skip
    assert not set(SOURCES["benchmarks"]) & set(SOURCES["train"])
    assert not set(SOURCES["blind"]) & set(SOURCES["train"])
    assert not set(SOURCES["held_out"]) & set(SOURCES["train"])


def test_a_blind_benchmark_carries_its_canary_on_every_row() -> None:
    """BIG-Bench asks that its data never reach a training corpus: every row says so."""
    for name, spec in SOURCES["blind"].items():
        rows = _rows(EVAL / f"{name}.jsonl")
        assert rows and all(r["canary"] == spec["canary"] for r in rows)


# ------------------------------------------------------------------ the failure kinds


def test_complete_this_python_function_with_doctest_examples_is_coding() -> None:
    # HumanEval, as users paste it: "Complete this Python function:" + signature + docstring
    # with ">>> f(3, 4)" examples. It went to `math` about one time in five.
    rows = _benchmark(("humaneval", "HumanEval/"))
    assert len(rows) == 164
    assert _recall(rows, "coding") >= 0.9


def test_competition_maths_in_prose_is_math() -> None:
    rows = _benchmark(("math-competition-test", ""))
    assert _recall(rows, "math") >= 0.95


def test_factual_stem_and_humanities_questions_are_knowledge() -> None:
    rows = _benchmark(("mt-bench", "stem:"), ("mt-bench", "humanities:"), ("wizardlm-test", ""))
    rows = [r for r in rows if r["task"] == "knowledge"]
    assert len(rows) >= 60
    # 54 of 73 before Stack Exchange's questions (stackexchange-asks) joined the training data,
    # 51 with them (two "In the painting ..., what is the significance of ...? How does it
    # relate ...?" questions and one on interval training, each a question and then another,
    # read as questions on a text); the guard sits just under that.
    assert _recall(rows, "knowledge") >= 0.69


CREATIVE = (
    ("mt-bench", "writing:"),
    ("mt-bench", "roleplay:"),
    ("wizardlm-test", "Writting:"),
    ("wizardlm-test", "Roleplay:"),
    ("vicuna-bench", "writing:"),
    ("vicuna-bench", "roleplay:"),
)


def test_creative_writing_and_role_play_requests_reach_the_target() -> None:
    # 0.58 before Dolly, r/WritingPrompts and GPTeacher's role-play joined the training data;
    # 0.84 with them; 0.806 before Reddit's questions with their askers' context (reddit-asks)
    # joined, 0.774 with them (a lesson plan and a writer's question on social media, both
    # asked as questions, went to knowledge); 0.823 since the fit averages its last iterates.
    # The target is 0.75; the guard sits just under what the weights reach.
    rows = _benchmark(*CREATIVE)
    assert len(rows) >= 50
    assert _recall(rows, "writing") >= 0.80


def test_argument_analysis_after_a_passage_is_mostly_reasoning() -> None:
    # LogiQA 2.0: a passage on any subject, then "Which of the following, if true, ...": the
    # passage's vocabulary pulled these to knowledge, extraction and summarization. At 0.603
    # from 2026-12-03; 0.567 since the retrain of 2026-12-04 without MMLU's test questions
    # (0.560, 0.557 and 0.503 with mini-batch seeds 1 to 3: the 0.603 was a lucky draw);
    # 0.560 since the fit averages its last iterates (0.547 to 0.580 over seeds 1 to 3). The
    # target is 0.75, but no source of such passages can be trained on here (the README's
    # "where it is weak"), so this guards what there is.
    rows = _benchmark(("logiqa2-dev", ""))
    assert len(rows) == 300
    assert _recall(rows, "reasoning") >= 0.55


def _reasoning_puzzles() -> list[dict[str, str]]:
    return [r for r in _benchmark(("mt-bench", "reasoning:")) if r["task"] == "reasoning"]


def test_reasoning_puzzles_reach_the_target() -> None:
    # A strict xfail until 2026-12-02 (puzzles went to math and chat); 8 of MT-Bench's 10 then,
    # 7 once reddit-asks joined (the recess aides' situation question read as knowledge), 8
    # again since a one-line message's opening question is a shape feature.
    assert _recall(_reasoning_puzzles(), "reasoning") >= 0.75


def _reddit_questions() -> list[dict[str, str]]:
    rows = _rows(EVAL / "reddit-questions.jsonl")
    assert len(rows) == 1000 and {r["task"] for r in rows} == {"knowledge"}
    return rows


def test_a_question_with_the_askers_own_context_is_mostly_knowledge() -> None:
    # Four of Reddit's question subreddits, never trained on: a question in the title, the
    # asker's own context under it. Read as reasoning (a riddle post's shape) or as a question
    # about a given text: 0.156 knowledge with the weights of 94f9a79, 0.140 with b84eadb's;
    # 0.739 since other subreddits' such posts (reddit-asks) joined the training data, with a
    # titled question and the asker's words under it as a shape feature; 0.707 once a
    # question typed on one line before its context was the same feature (below), 0.735 with
    # Stack Exchange's questions (stackexchange-asks) in training too.
    assert _recall(_reddit_questions(), "knowledge") >= 0.72


def test_a_question_with_its_context_typed_on_one_line_is_mostly_knowledge() -> None:
    # 1,000 more posts of those subreddits, never trained on, the title and its context run
    # together as a chat user types them: 0.199 knowledge with b84eadb's weights, 0.398 with
    # 27964f4's (reasoning 388: the model had learnt the titled shape, not the question), 0.743
    # once a one-line message's opening question was the titled shape's feature, 0.763 with
    # Stack Exchange's questions in training too.
    rows = _rows(EVAL / "reddit-questions-one-line.jsonl")
    assert len(rows) == 1000 and not any("\n" in r["prompt"] for r in rows)
    assert _recall(rows, "knowledge") >= 0.75


def test_a_question_with_the_askers_own_context_reaches_the_target() -> None:
    # A strict xfail until the retrain of 2026-12-04 (0.784); but the same data trained with
    # mini-batch seeds 1 to 3 gives 0.727, 0.763 and 0.773, so the target is met by these
    # weights, not yet by the method
    assert _recall(_reddit_questions(), "knowledge") >= 0.75


# --------------------------------------------------------------- the LOSO machinery


def _example(prompt: str, task: str, source: str, public: bool = True) -> training.Example:
    return training.Example(prompt, task, source, public)


def _two_sources() -> list[training.Example]:
    return [
        *(_example(f"write a python function number {i}", "coding", "a") for i in range(20)),
        *(_example(f"solve the equation x + {i} = 9", "math", "b") for i in range(20)),
        *(_example(f"def f{i}(): return {i}", "coding", "ours", public=False) for i in range(5)),
        *(_example(f"integrate x^{i} dx", "math", "ours", public=False) for i in range(5)),
    ]


def test_leave_one_source_out_scores_each_public_source_with_a_model_that_never_saw_it() -> None:
    config = training.TrainingConfig(epochs=3)
    predictions = training.leave_one_source_out(_two_sources(), config)
    assert Counter(p.source for p in predictions) == {"a": 20, "b": 20}
    report = training.loso_report(predictions, training.fit_temperature(predictions))
    assert set(report["by_source"]) == {"a", "b"}
    assert sum(row["n"] for row in report["reliability"]) == 40


def test_the_fitted_weights_are_the_mean_of_the_last_iterates() -> None:
    # One mini-batch per epoch (the batch holds every row), so an iterate does not depend on
    # the order and epoch k of a longer run is the end of a k-epoch run: averaging the last
    # half of four steps must give the mean of the three- and four-epoch fits' last iterates.
    examples = _two_sources()
    matrix = training.feature_matrix([e.prompt for e in examples])
    labels = np.array([TASKS.index(e.task) for e in examples])
    weights = training.example_weights(examples)

    def fitted(epochs: int, average_last: float) -> tuple[Any, Any]:
        config = training.TrainingConfig(
            epochs=epochs, batch=len(examples), average_last=average_last
        )
        return training.fit(matrix, labels, weights, config)

    (w3, b3), (w4, b4) = fitted(3, 0.0), fitted(4, 0.0)
    w, b = fitted(4, 0.5)
    assert np.allclose(w, (w3 + w4) / 2) and np.allclose(b, (b3 + b4) / 2)
    assert not np.allclose(w, w4)


def test_replayed_held_out_logits_give_the_runtime_classifiers_scores(tmp_path: Path) -> None:
    # scripts/replay_rules.py scores a change to the rules from stored logits; it must give
    # what the runtime classifier gives with each fold's weights, rules included.
    examples = [
        *_two_sources(),
        _example("Translate 'good morning' into French.", "translation", "a"),
        _example("```python\nprint(1)\n```\nWhy does this fail?", "coding", "b"),
    ]
    config = training.TrainingConfig(epochs=3)
    path = tmp_path / "held-out.jsonl.gz"
    training.save_held_out(training.held_out_logits(examples, config), path)
    replayed = training.replay(training.load_held_out(path))
    for source in ("a", "b"):
        others = [e for e in examples if e.source != source]
        classifier.use_weights(training.train_weights(others, config))
        try:
            runtime = [
                tuple(classifier.task_scores([{"role": "user", "content": e.prompt}]))
                for e in examples
                if e.source == source
            ]
        finally:
            classifier.use_weights(None)
        assert [p.scores for p in replayed if p.source == source] == runtime
    assert any(any(classifier.rule_boosts(e.prompt)) for e in examples)  # rules did fire


def test_temperature_softens_overconfident_scores() -> None:
    # Scores that say 99.99% but are right half the time: the fitted temperature exceeds 1.
    right = training.Prediction("coding", (10.0, 0.0, *[0.0] * 7), "s")
    wrong = training.Prediction("math", (10.0, 0.0, *[0.0] * 7), "s")
    assert training.fit_temperature([right, wrong] * 10) > 2.0
